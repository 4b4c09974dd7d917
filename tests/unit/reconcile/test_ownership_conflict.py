"""Defect 6 of #12: two Kustomizations claiming one object.

Both apply with the same field manager, so server-side apply sees no conflict and, in Flux, the last
writer silently takes the object (its owner labels flip on every reconcile). Here the second claimant
fails with Ready=False naming the object and its current owner, and the first stays Ready and keeps
it. A hand-over is not a conflict: when the current owner has not yet applied the revision of the
same source (the object moved from one path to another in a commit), or no longer lists the object,
or is gone, the new claimant takes it as Flux does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from headwater.testing.fakekube import FakeKube
from tests.unit.reconcile.artifacts import Shelf, revision_of
from tests.unit.reconcile.harness import NAMESPACE, rig_for
from tests.unit.reconcile.objects import config_map_yaml, git_repository, kustomization

pytestmark = pytest.mark.unit

FILES = {"first/shared.yaml": config_map_yaml("shared"), "second/shared.yaml": config_map_yaml("shared"),
         "second/own.yaml": config_map_yaml("own"), "third/other.yaml": config_map_yaml("other")}
REV = revision_of(FILES)
OLD_REV = "main@sha1:" + "1" * 40
SHARED = {"id": "apps_shared__ConfigMap", "v": "v1"}
CONFLICT = "ConfigMap/apps/shared is managed by Kustomization apps/first"


def label_of(fake: FakeKube, name: str) -> str | None:
    obj = fake.server.get_object("v1", "ConfigMap", name, NAMESPACE) or {}
    return ((obj.get("metadata") or {}).get("labels") or {}).get("kustomize.toolkit.fluxcd.io/name")


async def test_the_second_claimant_fails_and_the_first_keeps_the_object(fake: FakeKube, shelf: Shelf) -> None:
    fake.server.put(git_repository(artifact=shelf.publish(FILES)))
    fake.server.put(kustomization("first", path="./first"))
    fake.server.put(kustomization("second", path="./second"))
    async with rig_for("kustomize", fake) as rig:
        runs = [await rig.reconcile(name) for name in ("first", "second", "first", "second")]
    found = [(o.condition("Ready"), CONFLICT in o.message()) for o in runs]
    assert found == [(("True", "ReconciliationSucceeded"), False), (("False", "ReconciliationFailed"), True),
                     (("True", "ReconciliationSucceeded"), False), (("False", "ReconciliationFailed"), True)]
    assert "remove it from one of them" in runs[1].message()
    assert label_of(fake, "shared") == "first"
    assert [e for e in runs[2].events if e[0] == "Normal"] == []  # the first is not re-applying a flipped object
    second = runs[3].status.get("inventory")
    assert SHARED not in ((second or {}).get("entries") or [])


@dataclass(frozen=True)
class Claim:
    id: str
    owner_status: Mapping[str, Any] | None  # the status of Kustomization "first"; None: it does not exist
    owner_spec: Mapping[str, Any] = field(default_factory=dict)
    conflict: bool = True


def owner_status(revision: str, entries: list[dict[str, str]]) -> dict[str, Any]:
    return {"lastAppliedRevision": revision, "observedGeneration": 1, "inventory": {"entries": entries},
            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "",
                            "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]}


CLAIMS = [
    Claim("the owner applied this revision and lists the object: conflict", owner_status(REV, [SHARED])),
    Claim("the owner is suspended but still lists the object: conflict", owner_status(REV, [SHARED]),
          {"suspend": True}),
    Claim("the owner on another source lists the object: conflict", owner_status(OLD_REV, [SHARED]),
          {"sourceRef": {"kind": "GitRepository", "name": "elsewhere"}}),
    Claim("the owner has not applied this revision of the same source yet: hand-over",
          owner_status(OLD_REV, [SHARED]), conflict=False),
    Claim("the owner no longer lists the object: hand-over", owner_status(REV, []), conflict=False),
    Claim("the owner is gone: take over", None, conflict=False),
]


@pytest.mark.parametrize("case", CLAIMS, ids=[c.id for c in CLAIMS])
async def test_when_taking_an_object_is_a_conflict(case: Claim, fake: FakeKube, shelf: Shelf) -> None:
    fake.server.put(git_repository(artifact=shelf.publish(FILES)))
    if case.owner_status is not None:
        fake.server.put(kustomization("first", path="./first", status=dict(case.owner_status), **case.owner_spec))
    fake.server.put({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}, "metadata": {
        "name": "shared", "namespace": NAMESPACE, "labels": {
            "kustomize.toolkit.fluxcd.io/name": "first", "kustomize.toolkit.fluxcd.io/namespace": NAMESPACE}}})
    fake.server.put(kustomization("second", path="./second"))
    async with rig_for("kustomize", fake) as rig:
        outcome = await rig.reconcile("second")
    ready = ("False", "ReconciliationFailed") if case.conflict else ("True", "ReconciliationSucceeded")
    found = (outcome.condition("Ready"), CONFLICT in outcome.message(), label_of(fake, "shared"))
    assert found == (ready, case.conflict, "first" if case.conflict else "second")
