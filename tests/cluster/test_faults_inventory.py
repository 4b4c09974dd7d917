"""The fault suite for apply and prune: kill -9 the kustomize controller mid-work, restart, check.

On the real control plane, `headwater controller kustomize` runs as a child process (as in
production and in `bench/harness.py`). Each iteration publishes a new source revision in which every
Kustomization gains and loses objects (ConfigMaps, and Secrets and ServiceAccounts that come and go
as whole kinds, so both apply and prune have work), waits a random moment from a seeded schedule
(within the time an undisturbed revision takes), kills the process with SIGKILL, publishes another
revision while it is down (Git moves on: what was just created may be gone again), restarts it and
waits for convergence. Then, for every Kustomization:
Ready at the new revision, its inventory equals the set of cluster objects carrying its owner labels
equals what the revision holds (no orphan, nothing lost), and an unlabelled bystander is untouched.

CI runs 10 iterations (about a minute); `HEADWATER_FAULT_ITERATIONS=100` is the nightly size and
`HEADWATER_FAULT_SEED` replays a schedule. The figures of the last runs are in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from headwater.artifact.server import create_app
from headwater.artifact.storage import Storage
from headwater.devcluster.cluster import ClusterInfo
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from tests.cluster.faultkit import (
    ISOLATED,
    KS_API,
    KUSTOMIZATIONS,
    SRC_API,
    Figures,
    check,
    desired,
    files_of,
    harness,
    kill,
    owned,
)
from tests.unit.reconcile.artifacts import Shelf
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ITERATIONS = int(os.environ.get("HEADWATER_FAULT_ITERATIONS", "10"))
SEED = int(os.environ.get("HEADWATER_FAULT_SEED", "12"))


@pytest.fixture
async def shelf(tmp_path: Path) -> AsyncIterator[Shelf]:
    (tmp_path / "artifacts").mkdir()
    runner = web.AppRunner(create_app(tmp_path / "artifacts"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield Shelf(Storage(tmp_path / "artifacts", f"127.0.0.1:{runner.addresses[0][1]}"))
    await runner.cleanup()


@pytest.fixture
async def controller(cluster_info: ClusterInfo, namespace: str, flux_crds: list[str],
                     tmp_path: Path) -> AsyncIterator[harness.ControllerProcess]:
    process = harness.ControllerProcess("kustomize", cluster_info.kubeconfig, tmp_path,
                                        label_selector=f"{ISOLATED}={namespace}")
    await process.start()
    yield process
    await process.stop()


async def publish(kube: KubeClient, shelf: Shelf, namespace: str, files: dict[str, str]) -> str:
    artifact = shelf.publish(files)
    repo = await kube.get(SRC_API, "GitRepository", "repo", namespace)
    await kube.patch_status(repo, {"artifact": artifact, "observedGeneration": 1, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored",
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]})
    return str(artifact["revision"])


async def applied(kube: KubeClient, namespace: str, revision: str) -> list[dict[str, Any]] | None:
    items = (await kube.list(KS_API, "Kustomization", namespace)).get("items", [])
    done = [ks for ks in items if (ks.get("status") or {}).get("lastAppliedRevision") == revision
            and cond.is_true((ks.get("status") or {}).get("conditions") or [], "Ready")]
    return items if len(done) == KUSTOMIZATIONS else None


async def test_kill_9_during_apply_and_prune_leaves_no_orphan_and_loses_nothing(
    kube: KubeClient, namespace: str, shelf: Shelf, controller: harness.ControllerProcess,
) -> None:
    rng = random.Random(SEED)
    labels = {ISOLATED: namespace}
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "data": {"keep": "me"},
                       "metadata": {"name": "bystander", "namespace": namespace}})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace, "labels": labels},
                       "spec": {"url": "https://git.example.invalid/repo.git", "interval": "10m", "suspend": True}})
    want = desired(rng)
    revision = await publish(kube, shelf, namespace, files_of(want, namespace, 0))
    for k in range(KUSTOMIZATIONS):
        await kube.create({"apiVersion": KS_API, "kind": "Kustomization",
                           "metadata": {"name": f"ks{k}", "namespace": namespace, "labels": labels},
                           "spec": {"interval": "10m", "retryInterval": "2s", "path": f"./ks{k}", "prune": True,
                                    "sourceRef": {"kind": "GitRepository", "name": "repo"}}})
    await wait_for(lambda: applied(kube, namespace, revision), "the first revision applied", timeout=60)
    # how long one revision takes to apply and prune, undisturbed: kills are scheduled within it
    took = time.monotonic()
    revision = await publish(kube, shelf, namespace, files_of(desired(rng), namespace, 1))
    await wait_for(lambda: applied(kube, namespace, revision), "an undisturbed revision", timeout=60, interval=0.02)
    window = time.monotonic() - took

    figures = Figures("kill -9 kustomize controller", SEED)
    problems: list[str] = []
    for marker in range(2, 2 * ITERATIONS + 2, 2):
        # a revision is being applied and pruned when the process is killed ...
        revision = await publish(kube, shelf, namespace, files_of(desired(rng), namespace, marker))
        await asyncio.sleep(rng.uniform(0, window))
        mid_work = await applied(kube, namespace, revision) is None
        await kill(controller)
        figures.faults += 1
        figures.mid_work += mid_work
        # ... and while it is down, Git moves on: what it had just created may be gone again
        want = desired(rng)
        revision = await publish(kube, shelf, namespace, files_of(want, namespace, marker + 1))
        await controller.start()
        items = await wait_for(lambda rev=revision: applied(kube, namespace, rev),  # type: ignore[misc]
                               f"convergence after kill {marker}", timeout=90)
        assert items is not None
        problems += [f"iteration {marker}: {p}" for p in check(items, await owned(kube, namespace), want, figures)]
        figures.iterations += 1
    bystander = await kube.get("v1", "ConfigMap", "bystander", namespace)
    figures.report()
    assert (problems, figures.lost, figures.orphans) == ([], [], [])
    assert bystander["data"] == {"keep": "me"}
    assert figures.mid_work > 0, "no kill landed during apply or prune: the schedule is too slow"
