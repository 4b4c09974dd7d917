"""Defect 5 of #12: the inventory survives a crash at any point of apply and prune.

The kustomize controller is "killed" (a `BaseException` nobody catches, raised by the fake apiserver
instead of answering) right before its k-th write of a reconcile that both creates objects (one of a
kind the old inventory never had) and prunes one; a fresh controller on the same apiserver ("the
restart") then reconciles a source from which the new objects were removed again, or kept. For every
k, afterwards: the Kustomization is Ready, the objects carrying its owner labels are exactly its
inventory and exactly what the source holds (no orphan), and nothing it still wants was pruned.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from headwater.testing.fakekube import FakeKube
from headwater.testing.fakekube.server import Call, Fault
from tests.unit.reconcile.artifacts import Shelf
from tests.unit.reconcile.harness import KS_API, NAMESPACE, SOURCE_API, rig_for
from tests.unit.reconcile.objects import config_map_yaml, deployment_yaml, git_repository, kustomization

pytestmark = pytest.mark.unit

SECRET = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: token, namespace: {NAMESPACE}}}\nstringData: {{t: x}}\n"
FIRST = {"settings.yaml": config_map_yaml(), "web.yaml": deployment_yaml()}
# settings leaves (prune), extra and token arrive (token: a kind the old inventory does not have)
SECOND = {"web.yaml": deployment_yaml(), "extra.yaml": config_map_yaml("extra"), "token.yaml": SECRET}
WEB_ONLY = {"web.yaml": deployment_yaml()}
KINDS = (("v1", "ConfigMap"), ("apps/v1", "Deployment"), ("v1", "Secret"))
WRITES = ("apply", "patch", "delete", "create", "update")
OWNER = "kustomize.toolkit.fluxcd.io/name=app,kustomize.toolkit.fluxcd.io/namespace=apps"


class Crash(BaseException):
    """kill -9: the process stops here; nothing after this call happens."""


@dataclass
class CrashAt(Fault):
    """Raises `Crash` instead of answering the `at`-th write (Events aside); then never again."""

    at: int = 1
    seen: int = 0

    def matches(self, call: Call) -> bool:
        if call.verb not in WRITES or call.dry_run or call.kind == "Event":
            return False
        self.seen += 1
        return self.seen == self.at


def publish(fake: FakeKube, shelf: Shelf, files: dict[str, str]) -> None:
    source = fake.server.get_object(SOURCE_API, "GitRepository", "repo", NAMESPACE)
    assert source is not None
    source["status"]["artifact"] = shelf.publish(files)
    fake.server.put(source)


async def reconcile_once(fake: FakeKube) -> str:
    """One reconcile of apps/app by a freshly started controller: its Ready status, or "crashed"."""
    async with rig_for("kustomize", fake) as rig:
        try:
            outcome = await rig.reconcile("app")
        except Crash:
            return "crashed"
        return outcome.condition("Ready")[0] if outcome.condition("Ready") else "none"


async def owned(fake: FakeKube) -> set[str]:
    """'Kind/name' of every object carrying apps/app's owner labels."""
    found = set()
    for api_version, kind in KINDS:
        listed = await fake.list(api_version, kind, NAMESPACE, label_selector=OWNER)
        found |= {f"{kind}/{item['metadata']['name']}" for item in listed.get("items", [])}
    return found


def inventory(fake: FakeKube) -> set[str]:
    ks = fake.server.get_object(KS_API, "Kustomization", "app", NAMESPACE) or {}
    entries = ((ks.get("status") or {}).get("inventory") or {}).get("entries") or []
    return {f"{e['id'].split('_')[3]}/{e['id'].split('_')[1]}" for e in entries}


def names(files: dict[str, str]) -> set[str]:
    kinds = {"settings": "ConfigMap", "extra": "ConfigMap", "web": "Deployment", "token": "Secret"}
    return {f"{kinds[f.removesuffix('.yaml')]}/{f.removesuffix('.yaml')}" for f in files}


FINALS = {"removed from Git again": WEB_ONLY, "kept in Git": SECOND}


@pytest.mark.parametrize("final", FINALS, ids=list(FINALS))
async def test_a_crash_at_any_write_leaves_no_orphan(final: str, shelf: Shelf) -> None:
    final_files = FINALS[final]
    results: list[tuple[int, str, set[str], set[str]]] = []
    expected: list[tuple[int, str, set[str], set[str]]] = []
    at = 0
    while True:
        at += 1
        fake = FakeKube()
        fake.server.put(git_repository(artifact=shelf.publish(FIRST)))
        fake.server.put(kustomization("app"))
        assert await reconcile_once(fake) == "True"
        publish(fake, shelf, SECOND)
        crash = CrashAt("*", Crash(), at=at)
        fake.server.faults.append(crash)
        crashed = await reconcile_once(fake) == "crashed"
        fake.server.faults.clear()
        publish(fake, shelf, final_files)
        ready = await reconcile_once(fake)
        want = names(final_files)
        results.append((at, ready, await owned(fake), inventory(fake)))
        expected.append((at, "True", want, want))
        if not crashed:
            break
    assert at > 3  # the sweep went through the creates, the prune and the status writes
    assert results == expected
