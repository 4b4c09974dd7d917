"""Artifact storage full: the source controller's `--storage-path` on a 2 MiB tmpfs that the test fills.

Why a tmpfs: a real file system running out of space gives the write the real ENOSPC, in the middle of
a write or at its first byte, exactly as a full volume does in production. It needs root (mount(2));
the developers' machines and CI run as root. Without root the test is skipped with that reason: the
only other ways to fail a write (RLIMIT_FSIZE, which gives EFBIG and limits the controller's log file
too; a FUSE file system) are not the fault this test is about.

Two rounds: the storage completely full (the write fails at once), and a few KiB left so the write
starts and fails half-way (the new revision carries a 256 KiB incompressible file). Each round commits
a revision that changes the Kustomizations' objects, fills the storage, asks for a reconcile. Expected:
the GitRepository Ready=False and StorageOperationFailed=True with reason ArchiveOperationFailed and a
message that names the storage and the lack of space; the previous artifact unchanged and still
served with its digest; no temporary or partial file left in the storage; the Kustomizations Ready at
the old revision with all their objects. Once space is back, everything converges on the new revision.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from tests.cluster import faultkit
from tests.cluster.faultkit import Figures, Workload, desired, expected, owned, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SEED = int(os.environ.get("HEADWATER_FAULT_SEED", "12"))
SIZE = 2 * 2**20
ROUNDS = {"full": 0, "a few KiB left": 16 * 1024}  # free bytes left when the new artifact is written


@contextlib.contextmanager
def tmpfs(path: Path, size: int) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("a full artifact storage needs a tmpfs mount, which needs root")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(storage: Path, leave: int) -> Path:
    """Write a filler file until the file system is full, then give `leave` bytes back."""
    filler = storage / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"\0" * 4096
        while True:
            os.write(fd, chunk)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def files_in(storage: Path) -> list[str]:
    return sorted(str(p.relative_to(storage)) for p in storage.rglob("*") if p.is_file() and p.name != "filler")


async def test_full_artifact_storage_keeps_the_old_artifact_and_recovers(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, flux_crds: list[str],
    repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str, tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    repo = repo_builder.create(repo_name, None)
    workload = Workload(kube, namespace, repo, git_http.url(repo_name))
    want = desired(rng)
    revision = await workload.create(want)
    figures = Figures("artifact storage full", SEED)
    messages = []
    with tmpfs(tmp_path / "storage", SIZE) as storage:
        async with workload.controllers(cluster_info.kubeconfig, tmp_path):
            await workload.converged(revision, "the first revision")
            for label, leave in ROUNDS.items():
                good = (await workload.source())["status"]["artifact"]
                before = files_in(storage)
                new_want = desired(rng)
                blob = {"blobs/data.bin": rng.randbytes(256 * 1024)}  # more than is left: fails mid-write
                new_revision = await workload.commit(new_want, blob)
                filler = fill(storage, leave)
                figures.faults += 1
                await workload.request_reconcile()
                repo_obj = await wait_until(lambda s=workload.last_request: workload.failed_after(s),  # type: ignore[misc]
                                            f"{label}: GitRepository Ready=False", timeout=60)
                conditions = repo_obj["status"]["conditions"]
                messages.append(f"{label}: {cond.get_reason(conditions, 'Ready')}: "
                                f"{cond.get_message(conditions, 'Ready')}")
                for kind, status in (("Ready", "False"), ("StorageOperationFailed", "True")):
                    found = cond.get(conditions, kind) or {}
                    message = str(found.get("message", ""))
                    if (found.get("status"), found.get("reason")) != (status, "ArchiveOperationFailed") \
                            or "no space left in the artifact storage" not in message or "Traceback" in message:
                        figures.problems.append(f"{label}: {kind}: {found}")
                if repo_obj["status"]["artifact"] != good:
                    figures.problems.append(f"{label}: the artifact changed to {repo_obj['status']['artifact']}")
                if not await faultkit.served(good["url"], good["digest"]):
                    figures.problems.append(f"{label}: the previous artifact is not served")
                if files_in(storage) != before:
                    figures.problems.append(f"{label}: files left in the storage: {files_in(storage)} (was {before})")
                if await workload.applied(revision) is None:
                    figures.problems.append(f"{label}: a Kustomization left the old revision")
                found = await owned(kube, namespace)
                for k in want:
                    figures.objects_checked += len(expected(want, k))
                    figures.lost += [f"{label}: ks{k}: {o}" for o in expected(want, k) - found.get(f"ks{k}", set())]
                filler.unlink()  # space is back
                await workload.request_reconcile()
                want, revision = new_want, new_revision
                items = await workload.converged(revision, f"{label}: convergence once space is back")
                await workload.check(items, want, figures, label)
                stored = (await workload.source())["status"]["artifact"]
                if not await faultkit.served(stored["url"], stored["digest"]):
                    figures.problems.append(f"{label}: the new artifact is not served")
                figures.iterations += 1
            untouched = await workload.bystander_untouched()
    figures.report()
    print("\n".join(["messages:", *messages]))
    assert (figures.problems, figures.lost, figures.orphans) == ([], [], [])
    assert untouched
