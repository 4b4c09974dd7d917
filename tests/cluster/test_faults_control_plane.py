"""The control plane dies under the controllers: kill -9 of kube-apiserver, and of etcd, during apply and prune.

A cluster of this module's own (4 s to start; the session's must not lose its apiserver under other
tests' controllers) runs the source and kustomize controllers as processes and the workload of
`faultkit`: one GitRepository on the real `git http-backend`, three pruning Kustomizations, a bystander.
Each iteration commits a revision in which every Kustomization gains and loses objects (whole kinds
come and go), asks for a reconcile, waits a random moment of a seeded schedule (within the time an
undisturbed revision takes from commit to applied), kills the component with SIGKILL and starts it again
on the same port and data (`Cluster.restart`); then Git moves on once more. Afterwards: every
Kustomization Ready at the newest revision, inventory == objects with its owner labels == the revision's
objects (no orphan, nothing lost, nothing pruned wrongly), the bystander untouched, and the artifact the
GitRepository names served with its digest throughout (`ArtifactWatch`).

CI runs 3 restarts of each; `HEADWATER_FAULT_RESTARTS=20` is the nightly size, `HEADWATER_FAULT_SEED`
replays a schedule. Figures in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.api.crdgen import crd_paths
from headwater.devcluster.cluster import Cluster, ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime.kube import KubeClient, connect
from headwater.runtime.kube.crds import install_crds, load_manifests
from tests.cluster.faultkit import ArtifactWatch, Figures, Workload, desired, patiently

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

RESTARTS = int(os.environ.get("HEADWATER_FAULT_RESTARTS", "3"))
SEED = int(os.environ.get("HEADWATER_FAULT_SEED", "12"))


@pytest.fixture(scope="module")
async def own_cluster() -> AsyncIterator[tuple[Cluster, ClusterInfo, KubeClient]]:
    """A cluster of this module's own, with the Flux CRDs: its apiserver and etcd get killed."""
    cluster = Cluster(f"pytest-faults-{os.getpid()}", nodes=1)
    info = await asyncio.to_thread(cluster.up, lambda _m: None)
    kube = connect(info.kubeconfig, user_agent="headwater-fault-tests")
    try:
        await install_crds(kube, load_manifests(crd_paths()))
        yield cluster, info, kube
    finally:
        await kube.close()
        await asyncio.to_thread(cluster.down, lambda _m: None)


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
async def test_control_plane_restart_during_apply_and_prune_loses_nothing(
    own_cluster: tuple[Cluster, ClusterInfo, KubeClient], component: str,
    repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str, tmp_path: Path,
) -> None:
    cluster, info, kube = own_cluster
    namespace = f"fault-{component}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    rng = random.Random(SEED)
    repo = repo_builder.create(repo_name, None)
    workload = Workload(kube, namespace, repo, git_http.url(repo_name))
    revision = await workload.create(desired(rng))
    figures = Figures(f"kill -9 {component}", SEED)
    watch = ArtifactWatch(workload)
    async with workload.controllers(info.kubeconfig, tmp_path), watch.running():
        await workload.converged(revision, "the first revision")
        took = time.monotonic()
        revision = await workload.publish(desired(rng))
        await workload.converged(revision, "an undisturbed revision")
        window = time.monotonic() - took

        for iteration in range(RESTARTS):
            revision = await workload.publish(desired(rng))
            await asyncio.sleep(rng.uniform(0, window))
            mid_work = await patiently(lambda rev=revision: workload.applied(rev),  # type: ignore[misc]
                                       "checking progress") is None
            await asyncio.to_thread(cluster.restart, component)  # SIGKILL, then start it again
            figures.faults += 1
            figures.mid_work += mid_work
            want = desired(rng)  # Git moves on while the control plane comes back
            revision = await workload.publish(want)
            items = await workload.converged(revision, f"convergence after {component} restart {iteration}",
                                             timeout=120)
            await workload.check(items, want, figures, f"iteration {iteration}")
            figures.iterations += 1
        untouched = await patiently(workload.bystander_untouched, "reading the bystander")
    figures.report(watch.summary())
    assert (figures.problems, figures.lost, figures.orphans) == ([], [], [])
    assert watch.bad == [], "the status named an artifact that was missing or not the one it describes"
    assert untouched
    assert figures.mid_work > 0, f"no {component} restart landed during apply or prune: the schedule is too slow"
