"""Informers against the real apiserver: label-selector sharding, indexes, resuming, relisting on 410."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from typing import Any

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.runtime.informer import Informer, WatchEvent, informer_for, run_until_synced, stop
from headwater.runtime.kube import KubeClient
from headwater.runtime.options import ControllerOptions
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster


def config_map(name: str, namespace: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "data": data}


async def test_label_selector_shards_and_relabelling_moves_objects_in_and_out(
    kube: KubeClient, namespace: str
) -> None:
    options = ControllerOptions(watch_label_selector="shard=one")
    informer = informer_for(kube, "v1", "ConfigMap", options)
    informer.namespace = namespace  # keep the test to its own namespace
    events: list[tuple[str, str]] = []
    informer.add_handler(lambda e: events.append((e.type, e.obj["metadata"]["name"])))
    await kube.create(config_map("mine", namespace, {"shard": "one"}))
    await kube.create(config_map("theirs", namespace, {"shard": "two"}))
    task = await run_until_synced(informer)
    try:
        assert [o["metadata"]["name"] for o in informer.list()] == ["mine"]
        assert "managedFields" not in informer.list()[0]["metadata"]

        await kube.patch("v1", "ConfigMap", "theirs", {"metadata": {"labels": {"shard": "one"}}}, namespace=namespace)
        await wait_for(lambda: _has(informer, namespace, "theirs"), "the relabelled object to enter the cache")
        await kube.patch("v1", "ConfigMap", "mine", {"metadata": {"labels": {"shard": "two"}}}, namespace=namespace)
        await wait_for(lambda: _gone(informer, namespace, "mine"), "the relabelled object to leave the cache")
        assert events == [("ADDED", "mine"), ("ADDED", "theirs"), ("DELETED", "mine")]
    finally:
        await stop(task)


async def _has(informer: Informer, namespace: str, name: str) -> bool:
    return informer.get((namespace, name)) is not None


async def _gone(informer: Informer, namespace: str, name: str) -> bool:
    return informer.get((namespace, name)) is None


async def test_index_follows_changes(kube: KubeClient, namespace: str) -> None:
    informer = Informer(kube, "v1", "ConfigMap", namespace=namespace)
    informer.add_index("source", lambda o: [o.get("data", {}).get("source", "")] if o.get("data") else [])
    await kube.create(config_map("a", namespace, source="repo-1"))
    await kube.create(config_map("b", namespace, source="repo-1"))
    task = await run_until_synced(informer)
    try:
        assert informer.by_index("source", "repo-1") == [(namespace, "a"), (namespace, "b")]
        await kube.patch("v1", "ConfigMap", "b", {"data": {"source": "repo-2"}}, namespace=namespace)

        async def moved() -> bool:
            return informer.by_index("source", "repo-2") == [(namespace, "b")]

        await wait_for(moved, "b to move to repo-2 in the index")
        assert informer.by_index("source", "repo-1") == [(namespace, "a")]
        await kube.delete("v1", "ConfigMap", "a", namespace)
        await wait_for(lambda: _gone(informer, namespace, "a"), "a to be deleted")
        assert informer.by_index("source", "repo-1") == []
    finally:
        await stop(task)


def compact_etcd(cluster_info: ClusterInfo) -> None:
    """Compact etcd's history up to its current revision, through etcd's own HTTP gateway."""
    base = f"http://127.0.0.1:{cluster_info.ports['etcd']}/v3/kv"

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(f"{base}/{path}", data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    revision = post("range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"]
    post("compaction", {"revision": revision, "physical": True})


async def test_resumes_after_a_short_stop_and_relists_after_a_long_gap(
    kube: KubeClient, namespace: str, cluster_info: ClusterInfo
) -> None:
    informer = Informer(kube, "v1", "ConfigMap", namespace=namespace)
    seen: list[WatchEvent] = []
    informer.add_handler(seen.append)
    await kube.create(config_map("before", namespace))
    task = await run_until_synced(informer)
    await stop(task)

    await kube.create(config_map("while-stopped", namespace))  # missed by the stopped watch
    task = asyncio.create_task(informer.run())  # resumes the watch from its resourceVersion
    try:
        await wait_for(lambda: _has(informer, namespace, "while-stopped"), "the missed object via the resumed watch")
        assert informer.lists == 1, "resuming must not list again"
    finally:
        await stop(task)

    await kube.delete("v1", "ConfigMap", "before", namespace)
    await kube.create(config_map("after-expiry", namespace))
    # A gap longer than the resume window, with history compacted away: the apiserver would replay current
    # objects as ADDED without the deletion, so the informer must list again instead of resuming.
    await asyncio.to_thread(compact_etcd, cluster_info)
    informer.last_clean_end = 0.0
    assert not informer.can_resume()
    task = asyncio.create_task(informer.run())
    try:
        await wait_for(lambda: _has(informer, namespace, "after-expiry"), "the relist after a long gap", timeout=10)
        await wait_for(lambda: _gone(informer, namespace, "before"), "the relist to report the deletion")
        assert informer.lists == 2
    finally:
        await stop(task)
    deleted = [e.obj["metadata"]["name"] for e in seen if e.type == "DELETED"]
    assert "before" in deleted, "a deletion missed while the watch was expired must still reach handlers"
