"""The runtime survives the apiserver dying (kill -9) and coming back: watches resume, nothing is missed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from headwater.devcluster.cluster import Cluster
from headwater.runtime.kube import KubeClient, connect
from headwater.runtime.kube.crds import install_crds
from headwater.runtime.options import ControllerOptions
from tests.cluster.example_reconciler import (
    API_VERSION,
    EXAMPLE_CRD,
    KIND,
    ExampleReconciler,
    RunningController,
    example,
)
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
NAMESPACE = "fault"


@pytest.fixture
async def own_cluster() -> AsyncIterator[tuple[Cluster, KubeClient]]:
    """A cluster of this test's own: its apiserver gets killed, the session's must not."""
    cluster = Cluster(f"pytest-fault-{os.getpid()}", nodes=1)
    info = await asyncio.to_thread(cluster.up, lambda _m: None)
    kube = connect(info.kubeconfig)
    try:
        yield cluster, kube
    finally:
        await kube.close()
        await asyncio.to_thread(cluster.down, lambda _m: None)


async def generations(kube: KubeClient) -> dict[str, int]:
    items = (await kube.list(API_VERSION, KIND, NAMESPACE))["items"]
    return {o["metadata"]["name"]: (o.get("status") or {}).get("observedGeneration", 0) for o in items}


async def test_kill_apiserver_watches_resume_and_no_change_is_missed(
    own_cluster: tuple[Cluster, KubeClient],
) -> None:
    cluster, kube = own_cluster
    await install_crds(kube, [EXAMPLE_CRD])
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    options = ControllerOptions(concurrent=4, min_retry_delay=0.1, max_retry_delay=2.0)
    reconciler = ExampleReconciler(delay=0.02)
    async with RunningController(kube, NAMESPACE, options, reconciler) as running:
        for index in range(20):
            await kube.create(example(f"obj-{index}", NAMESPACE, interval="10m", message="v1"))

        async def all_at(generation: int, count: int) -> dict[str, int] | None:
            seen = await generations(kube)
            ok = len(seen) == count and all(g == generation for g in seen.values())
            return seen if ok else None

        await wait_for(lambda: all_at(1, 20), "20 Examples reconciled", timeout=20)
        watches_before = running.informer.watches

        await asyncio.to_thread(cluster.restart, "kube-apiserver")  # SIGKILL, then start again

        changed: list[Any] = []
        for index in range(20):
            changed.append(await kube.patch(API_VERSION, KIND, f"obj-{index}", {"spec": {"message": "v2"}},
                                            namespace=NAMESPACE))
        for index in range(20, 25):
            await kube.patch(API_VERSION, KIND, f"obj-{index % 20}", {"spec": {"message": "v3"}},
                             namespace=NAMESPACE)  # a second change to five of them
            await kube.create(example(f"new-{index}", NAMESPACE, interval="10m"))

        async def converged() -> bool:
            items = (await kube.list(API_VERSION, KIND, NAMESPACE))["items"]
            return len(items) == 25 and all(
                (o.get("status") or {}).get("observedGeneration") == o["metadata"]["generation"] for o in items)

        await wait_for(converged, "every change made after the restart to be reconciled", timeout=30)

    assert running.informer.watches > watches_before, "the informer must have re-established its watch"
    assert reconciler.overlaps == [], f"keys reconciled concurrently: {reconciler.overlaps}"
    for index in range(20):
        latest = 3 if index < 5 else 2
        gens = [c.generation for c in reconciler.calls_for((NAMESPACE, f"obj-{index}"))]
        assert gens[-1] == latest, f"obj-{index} last reconciled at generation {gens[-1]}, not {latest}"
    assert all(c["metadata"]["generation"] == 2 for c in changed)
