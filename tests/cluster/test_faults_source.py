"""kill -9 of the source controller while it fetches and stores artifacts: nothing half-written is served.

`headwater controller source` and `headwater controller kustomize` run as processes on the real control
plane, the GitRepository reads the real `git http-backend`. Each iteration commits a new revision (the
Kustomizations' objects change; a 2 MiB blob makes the fetch and the archive take a while), asks for a
reconcile, waits a random moment of a seeded schedule (within the time an undisturbed fetch-and-store
takes) and kills the source controller with SIGKILL; half of the time Git moves on while it is down.
After the restart: the GitRepository Ready at the newest revision, every Kustomization Ready at it with
inventory == labelled objects == the revision's objects, the bystander untouched.

Throughout, `ArtifactWatch` downloads the artifact the status names and checks its digest: the previous
artifact must stay served until the new one is complete, and a half-written file must never be served.

CI runs 8 iterations; `HEADWATER_FAULT_ITERATIONS=100` is the nightly size, `HEADWATER_FAULT_SEED`
replays a schedule. Figures in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime.kube import KubeClient
from tests.cluster.faultkit import ArtifactWatch, Figures, Workload, desired, kill, ready, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ITERATIONS = int(os.environ.get("HEADWATER_FAULT_ITERATIONS", "8"))
SEED = int(os.environ.get("HEADWATER_FAULT_SEED", "12"))


async def stored(workload: Workload, revision: str) -> bool:
    """The GitRepository Ready with an artifact of `revision`."""
    repo = await workload.source()
    artifact = (repo.get("status") or {}).get("artifact") or {}
    condition = ready(repo) or {}
    return artifact.get("revision") == revision and condition.get("status") == "True"


def leftovers(storage: Path) -> list[Path]:
    """Temporary files an interrupted write left in the storage (dot-files: never served)."""
    return [p for p in storage.rglob(".*") if p.is_file()]


async def test_kill_9_of_the_source_controller_never_serves_a_partial_artifact(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, flux_crds: list[str],
    repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str, tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    blob = {"blobs/data.bin": random.Random(SEED).randbytes(2 * 2**20)}  # incompressible: real work to pack
    repo = repo_builder.create(repo_name, None)
    workload = Workload(kube, namespace, repo, git_http.url(repo_name))
    revision = await workload.create(desired(rng), blob)
    figures = Figures("kill -9 source controller", SEED)
    watch = ArtifactWatch(workload)
    # A superseded artifact older than the TTL is collected when the next one is stored, as in production
    # where the previous artifact is usually hours old when a commit arrives: 1 s makes every one that old.
    flags = ["--artifact-retention-ttl", "1s"]
    async with workload.controllers(cluster_info.kubeconfig, tmp_path, flags) as controllers, watch.running():
        source = controllers.source
        await workload.converged(revision, "the first revision")
        # how long an undisturbed fetch-and-store takes: kills are scheduled within it
        took = time.monotonic()
        revision = await workload.publish(desired(rng), blob)
        await wait_until(lambda: stored(workload, revision), "an undisturbed artifact", timeout=60, interval=0.02)
        window = time.monotonic() - took
        await workload.converged(revision, "an undisturbed revision")

        for iteration in range(ITERATIONS):
            want = desired(rng)
            revision = await workload.publish(want, blob)
            await asyncio.sleep(rng.uniform(0, window))
            mid_work = not await stored(workload, revision)
            await kill(source)
            figures.faults += 1
            figures.mid_work += mid_work
            if rng.random() < 0.5:  # Git moves on while the controller is down
                want = desired(rng)
                revision = await workload.commit(want, blob)
            await source.start()
            await wait_until(lambda rev=revision: stored(workload, rev),  # type: ignore[misc]
                             f"the artifact after kill {iteration}", timeout=60)
            items = await workload.converged(revision, f"convergence after kill {iteration}")
            await workload.check(items, want, figures, f"iteration {iteration}")
            figures.iterations += 1
        untouched = await workload.bystander_untouched()
    left = leftovers(tmp_path / "storage")
    figures.report(watch.summary() + f", {len(left)} temporary files left by kills (never served)")
    assert (figures.problems, figures.lost, figures.orphans) == ([], [], [])
    assert watch.bad == [], "the status named an artifact that was missing or not the one it describes"
    assert watch.verified > 0
    assert untouched
    assert figures.mid_work > 0, "no kill landed during a fetch or store: the schedule is too slow"
