"""GitRepository reconcile outcomes as a table: a repository and an object in → artifact, status, events out.

Every case gets its own bare repository with the same history: commit A (`deploy/app.yaml`,
`README.md`, "initial commit", annotated tag `v1.0.0`), then commit B (`v.txt`, "one point two",
lightweight tag `v1.2.0`) on `main`. The source controller's real reconcile of `apps/app` runs once (and
again after each step in `then`) against that repository over Git's HTTP backend, with the object and
its Secrets in the fake apiserver and a storage directory of its own. Strings in a case may name the
commits as `{A}`, `{B}` (and `{C}` once a step committed more), and the repository URL as `{url}`.
Defaults: `interval: 10m` (a success requeues after 600 s); failures back off from 0.75 s.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from headwater.artifact.fetch import extract_archive
from headwater.artifact.storage import Artifact, ObjectRef, Storage
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.testing.fakekube import FakeKube
from tests.unit.reconcile.expect import ABSENT, Expect, compare, stalled
from tests.unit.reconcile.harness import NAMESPACE, NONE, SOURCE_API, after, backoff, rig_for
from tests.unit.reconcile.objects import secret
from tests.unit.reconcile.steps import Again, CommonStep, Delete, Patch, take_common

pytestmark = pytest.mark.unit
Obj = dict[str, Any]
FILES = {"deploy/app.yaml": "kind: ConfigMap\n", "README.md": "hello\n"}
AT_A = ["README.md", "deploy/app.yaml"]
AT_B = ["README.md", "deploy/app.yaml", "v.txt"]
READY = {"Ready": ("True", "Succeeded"), "ArtifactInStorage": ("True", "Succeeded"), "Reconciling": ABSENT,
         "Stalled": ABSENT, "FetchFailed": ABSENT}


def failing(reason: str, condition: str = "FetchFailed") -> dict[str, Any]:
    return {"Ready": ("False", reason), condition: ("True", reason), "Reconciling": ("True", "ProgressingWithRetry")}


def stored(revision: str) -> Expect:
    """A new artifact for `revision` (of commit B unless said otherwise), and its NewArtifact event."""
    return Expect(conditions=READY, message=f"stored artifact for revision '{revision}'",
                  events=(("Normal", "NewArtifact"),), requeue=after(600),
                  fields={"status.artifact.revision": revision, "status.observedGeneration": 1})


@dataclass(frozen=True)
class Commit:
    """A new commit on main (known as `{C}` from then on)."""

    files: dict[str, str]
    message: str = "three"


@dataclass(frozen=True)
class Tamper:
    """Someone with access to the storage volume modifies the stored artifact's file (`how`)."""

    how: str  # "append": size changes; "same size": one byte flipped, mtime put back; "delete"


Step = Commit | Tamper | CommonStep


def tamper(storage: Storage, obj: Obj | None, how: str) -> None:
    path = storage.local_path(Artifact.from_dict((obj or {})["status"]["artifact"]).path)
    before = path.stat()
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "append":
        data += b"X"
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if how == "same size":
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def repaired(how: str) -> Expect:
    """The artifact rebuilt from the same revision (one more fetch), byte for byte what it was."""
    warned = () if how == "delete" else (("Warning", "ArtifactVerificationFailed"),)
    return dataclasses.replace(stored("main@sha1:{B}"), events=(*warned, ("Normal", "NewArtifact")))


@dataclass(frozen=True)
class Case:
    id: str
    expect: Expect
    spec: Mapping[str, Any] = field(default_factory=dict)  # merged into the GitRepository's spec
    annotations: Mapping[str, str] = field(default_factory=dict)
    objects: tuple[Obj, ...] = ()  # seeded as they are (Secrets, other GitRepositories)
    before: tuple[str, ...] = ()  # other GitRepositories reconciled first
    then: tuple[Step, ...] = ()
    listing: tuple[str, ...] | list[str] | None = None  # the files in the stored artifact
    fetches: int | None = None  # full Git fetches over all runs
    storage_kept: bool | None = None  # whether the object's storage directory exists at the end
    intact: bool | None = None  # whether the stored file's digest is the one in status at the end


def other(**spec: Any) -> Obj:
    """A second GitRepository `other` on the same repository."""
    return {"apiVersion": SOURCE_API, "kind": "GitRepository", "metadata": {"name": "other", "namespace": NAMESPACE},
            "spec": {"url": "{url}", "interval": "10m", "ref": {"tag": "v1.0.0"}, **spec}}


CASES: list[Case] = [
    # -- refs -------------------------------------------------------------------------------------
    Case("a branch: the artifact of its tip", dataclasses.replace(
        stored("main@sha1:{B}"), event_text="stored artifact for commit 'one point two'",
        fields={"status.artifact.revision": "main@sha1:{B}",
                "status.artifact.path": "gitrepository/apps/app/{B}.tar.gz",
                "metadata.finalizers": ["finalizers.fluxcd.io"]}), listing=AT_B, fetches=1),
    Case("an annotated tag", stored("v1.0.0@sha1:{A}"), spec={"ref": {"tag": "v1.0.0"}}, listing=AT_A),
    Case("a semver range picks the highest tag in it", stored("v1.2.0@sha1:{B}"),
         spec={"ref": {"semver": ">=1.0.0"}}, listing=AT_B),
    Case("a semver range below the newest tag", stored("v1.0.0@sha1:{A}"), spec={"ref": {"semver": "<1.1.0"}}),
    Case("a commit", stored("sha1:{A}"), spec={"ref": {"commit": "{A}"}}, listing=AT_A),
    Case("a commit on a branch", stored("main@sha1:{A}"), spec={"ref": {"branch": "main", "commit": "{A}"}}),
    # -- revisions over time ----------------------------------------------------------------------
    Case("an unchanged revision: no fetch, no new artifact, no status write", Expect(
        conditions=READY, events=(), status_writes=0, requeue=after(600),
        fields={"status.artifact.revision": "main@sha1:{B}"}), then=(Again(),), fetches=1),
    *(Case(f"a stored artifact modified on disk ({how}) is rebuilt at the same revision", repaired(how),
           then=(Tamper(how),), listing=AT_B, fetches=2, intact=True) for how in ("append", "same size", "delete")),
    Case("a new commit: a new artifact", stored("main@sha1:{C}"),
         then=(Commit({"w.txt": "3"}),), listing=[*AT_B, "w.txt"], fetches=2),
    # -- failures ---------------------------------------------------------------------------------
    Case("a branch that does not exist", Expect(
        conditions=failing("GitOperationFailed"), message="refs/heads/nope",
        events=(("Warning", "GitOperationFailed"),), requeue=backoff(0.75)), spec={"ref": {"branch": "nope"}}),
    Case("a failure again backs off further", Expect(
        conditions=failing("GitOperationFailed"), events=(), requeue=backoff(1.5)),
        spec={"ref": {"branch": "nope"}}, then=(Again(),)),
    Case("an invalid semver range stalls", Expect(
        conditions=stalled("GitOperationFailed"), events=(("Warning", "GitOperationFailed"),), requeue=NONE),
        spec={"ref": {"semver": ">= 1.x.y ~~"}}),
    Case("an unreachable server", Expect(
        conditions=failing("GitOperationFailed"), message="unable to reach", requeue=backoff(0.75)),
        spec={"url": "http://127.0.0.1:9/repo.git"}),
    Case("a file:// URL stalls as invalid, before any Secret is read", Expect(
        conditions=stalled("URLInvalid"), message="invalid Git URL 'file:///srv/git/app.git'",
        events=(("Warning", "URLInvalid"),), requeue=NONE),
        spec={"url": "file:///srv/git/app.git", "secretRef": {"name": "creds"}}),
    Case("a URL without a host stalls as invalid", Expect(
        conditions=stalled("URLInvalid"), message="use http://, https:// or ssh://", requeue=NONE),
        spec={"url": "https:///app.git"}),
    Case("the auth Secret is missing", Expect(
        conditions={"Ready": ("False", "AuthenticationFailed")},
        message="failed to get auth secret 'apps/creds': not found",
        events=(("Warning", "AuthenticationFailed"),), requeue=backoff(0.75)),
        spec={"secretRef": {"name": "creds"}}),
    Case("an auth Secret that cannot be used stalls", Expect(
        conditions=stalled("AuthenticationFailed"), message="'bearerToken' and 'username' cannot be used together",
        requeue=NONE), spec={"secretRef": {"name": "creds"}},
        objects=(secret("creds", username="flux", bearerToken="t0ken"),)),
    # -- includes ---------------------------------------------------------------------------------
    Case("an include that does not exist", Expect(
        conditions={"Ready": ("False", "NoSourceArtifact"), "IncludeUnavailable": ("True", "NoSourceArtifact")},
        message="could not get include 'apps/other': GitRepository not found", requeue=backoff(0.75)),
        spec={"include": [{"repository": {"name": "other"}}]}),
    Case("an include without an artifact yet", Expect(
        conditions={"Ready": ("False", "NoSourceArtifact")}, message="it has no artifact yet"),
        spec={"include": [{"repository": {"name": "other"}}]}, objects=(other(),)),
    Case("an include that is ready is copied in", dataclasses.replace(
        stored("main@sha1:{B}"), conditions={**READY, "IncludeUnavailable": ABSENT},
        fields={"status.includedArtifacts.0.revision": "v1.0.0@sha1:{A}"}),
        spec={"include": [{"repository": {"name": "other"}, "toPath": "lib"}]}, objects=(other(),),
        before=("other",), listing=[*AT_B[:2], "lib/README.md", "lib/deploy/app.yaml", "v.txt"]),
    # -- ignore rules -----------------------------------------------------------------------------
    Case("ignore rules leave files out", dataclasses.replace(
        stored("main@sha1:{B}"), fields={"status.observedIgnore": "*.md\n"}),
        spec={"ignore": "*.md\n"}, listing=["deploy/app.yaml", "v.txt"]),
    Case("changed ignore rules make a new artifact of the same revision", dataclasses.replace(
        stored("main@sha1:{B}"), fields={"status.observedIgnore": "deploy/\n", "status.observedGeneration": 2}),
        then=(Patch({"spec": {"ignore": "deploy/\n"}}),), listing=["README.md", "v.txt"]),
    # -- suspend, requests, deletion --------------------------------------------------------------
    Case("suspended: nothing is fetched or recorded", Expect(
        reconciled=False, requeue=NONE, events=(), fields={"status": None}), spec={"suspend": True}, fetches=0),
    Case("requestedAt is echoed to lastHandledReconcileAt", Expect(
        conditions=READY, fields={"status.lastHandledReconcileAt": "token-1"}),
        annotations={"reconcile.fluxcd.io/requestedAt": "token-1"}),
    Case("deletion removes the stored artifacts", Expect(gone=True), then=(Delete(),), storage_kept=False),
]


def fill(value: Any, facts: Mapping[str, str]) -> Any:
    """`value` with `{A}`, `{B}`, `{C}`, `{url}` replaced by this case's commits and URL."""
    if isinstance(value, str):
        for name, fact in facts.items():
            value = value.replace("{" + name + "}", fact)
        return value
    if isinstance(value, Mapping):
        return {k: fill(v, facts) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(fill(v, facts) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: fill(getattr(value, f.name), facts)
                                             for f in dataclasses.fields(value) if f.init})
    return value


def history(builder: RepoBuilder, server: GitHttpServer, name: str) -> tuple[Any, dict[str, str]]:
    repo = builder.create(name, FILES)
    first = repo.head("main")
    repo.tag("v1.0.0", message="release 1.0.0")
    second = repo.commit({"v.txt": "1.2"}, "one point two")
    repo.tag("v1.2.0")
    return repo, {"A": first, "B": second, "url": server.url(name)}


def listing(storage: Storage, obj: Obj | None) -> list[str] | None:
    artifact = ((obj or {}).get("status") or {}).get("artifact")
    if not artifact:
        return None
    with tempfile.TemporaryDirectory() as tmp, storage.local_path(Artifact.from_dict(artifact).path).open("rb") as fh:
        root = extract_archive(fh, Path(tmp, "x"))
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_gitrepository_reconcile(case: Case, fake: FakeKube, git_server: tuple[RepoBuilder, GitHttpServer],
                                       tmp_path: Path) -> None:
    builder, server = git_server
    repo, facts = history(builder, server, f"table-{CASES.index(case)}-{tmp_path.name}.git")
    case = fill(case, facts)
    for obj in case.objects:
        fake.server.put(obj)
    meta: Obj = {"name": "app", "namespace": NAMESPACE, **({"annotations": dict(case.annotations)}
                                                          if case.annotations else {})}
    fake.server.put({"apiVersion": SOURCE_API, "kind": "GitRepository", "metadata": meta,
                     "spec": {"url": facts["url"], "interval": "10m", "timeout": "20s", "ref": {"branch": "main"},
                              **case.spec}})
    async with rig_for("source", fake, storage=tmp_path / "storage") as rig:
        for name in case.before:
            await rig.reconcile(name)
        outcome = await rig.reconcile("app")
        for step in case.then:
            if isinstance(step, Commit):
                facts["C"] = repo.commit(step.files, step.message)
            elif isinstance(step, Tamper):
                tamper(rig.reconciler.store, outcome.obj, step.how)
            else:
                await take_common(step, fake, SOURCE_API, "GitRepository", "app")
            outcome = await rig.reconcile("app")
        storage: Storage = rig.reconciler.store
    found, expected = compare(outcome, fill(case.expect, facts))
    if case.listing is not None:
        found["listing"], expected["listing"] = listing(storage, outcome.obj), sorted(case.listing)
    if case.fetches is not None:
        found["fetches"], expected["fetches"] = rig.reconciler.fetches, case.fetches
    if case.intact is not None:
        artifact = Artifact.from_dict(outcome.obj["status"]["artifact"]) if outcome.obj else None
        found["intact"] = artifact is not None and Storage(storage.root, "x").intact(artifact)  # digest, not stat
        expected["intact"] = case.intact
    if case.storage_kept is not None:
        kept = storage.object_dir(ObjectRef("GitRepository", NAMESPACE, "app")).exists()
        found["storage_kept"], expected["storage_kept"] = kept, case.storage_kept
    assert found == expected
