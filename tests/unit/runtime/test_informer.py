"""The Informer on the fake apiserver: list then watch, changes, relists after Gone, resumes, indexes.

The fake's `settled()` returns once the informer has handled every event sent to it, so each test
states changes, waits for that, and compares the cache and the events its handlers saw.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from headwater.runtime.informer import Informer, WatchEvent, run_until_synced, stop
from headwater.runtime.kube import ClusterUnreachable
from headwater.testing.fakekube import FakeKube

pytestmark = pytest.mark.unit
Obj = dict[str, Any]


def cm(name: str, namespace: str = "apps", **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace,
                                                                  "labels": labels}, "data": {"v": "1"}}


class Seen:
    """A handler recording (type, name, whether `old` was given)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, bool]] = []

    def __call__(self, event: WatchEvent) -> None:
        self.events.append((event.type, event.obj["metadata"]["name"], event.old is not None))

    def take(self) -> list[tuple[str, str, bool]]:
        events, self.events = self.events, []
        return events


@contextlib.asynccontextmanager
async def running(fake: FakeKube, informer: Informer) -> AsyncIterator[asyncio.Task[None]]:
    task = await run_until_synced(informer)
    await fake.server.watching(informer.api_version, informer.kind)
    try:
        yield task
    finally:
        await stop(task)


async def test_list_then_watch_changes_and_deletions() -> None:
    fake, seen = FakeKube(), Seen()
    fake.server.put(cm("a"))
    fake.server.put(cm("b"))
    informer = Informer(fake, "v1", "ConfigMap")
    informer.add_handler(seen)
    async with running(fake, informer):
        assert informer.synced
        assert sorted(informer.keys()) == [("apps", "a"), ("apps", "b")]
        assert seen.take() == [("ADDED", "a", False), ("ADDED", "b", False)]
        await fake.patch("v1", "ConfigMap", "a", {"data": {"v": "2"}}, namespace="apps")
        await fake.create(cm("c"))
        await fake.delete("v1", "ConfigMap", "b", "apps")
        await fake.server.settled()
        assert seen.take() == [("MODIFIED", "a", True), ("ADDED", "c", False), ("DELETED", "b", False)]
        assert sorted(informer.keys()) == [("apps", "a"), ("apps", "c")]
        assert informer.get(("apps", "a"))["data"] == {"v": "2"}  # type: ignore[index]
        assert informer.resource_version == str(fake.server.revision)
        assert (informer.lists, informer.watches) == (1, 1)


async def test_an_expired_watch_lists_again_and_reports_what_was_missed() -> None:
    fake, seen = FakeKube(), Seen()
    for name in "abc":
        fake.server.put(cm(name))
    informer = Informer(fake, "v1", "ConfigMap")
    informer.add_handler(seen)
    async with running(fake, informer) as task:
        seen.take()
        await stop(task)  # a gap: nothing is watched while these happen
        await fake.delete("v1", "ConfigMap", "b", "apps")
        await fake.patch("v1", "ConfigMap", "c", {"data": {"v": "2"}}, namespace="apps")
        await fake.create(cm("d"))
        fake.server.compact()  # and the apiserver forgot them: resuming from the old version is Gone
        restarted = asyncio.create_task(informer.run())
        await fake.server.watching("v1", "ConfigMap")
        await fake.server.settled()
        assert sorted(seen.take()) == [("ADDED", "d", False), ("DELETED", "b", False), ("MODIFIED", "c", True)]
        assert sorted(informer.keys()) == [("apps", "a"), ("apps", "c"), ("apps", "d")]
        assert informer.lists == 2
        await stop(restarted)


async def test_a_watch_that_ends_normally_resumes_without_listing() -> None:
    fake, seen = FakeKube(), Seen()
    informer = Informer(fake, "v1", "ConfigMap")
    informer.add_handler(seen)
    async with running(fake, informer):
        fake.server.end_watches()
        await fake.server.settled()
        await fake.create(cm("a"))
        await fake.server.settled()
        assert seen.take() == [("ADDED", "a", False)]
        assert (informer.lists, informer.watches) == (1, 2)


async def test_gone_in_the_middle_of_a_watch_relists() -> None:
    fake, seen = FakeKube(), Seen()
    fake.server.put(cm("a"))
    informer = Informer(fake, "v1", "ConfigMap")
    informer.add_handler(seen)
    async with running(fake, informer):
        seen.take()
        fake.server.expire_watches()
        await fake.server.settled()
        await fake.server.watching("v1", "ConfigMap")
        await fake.create(cm("b"))
        await fake.server.settled()
        assert seen.take() == [("ADDED", "b", False)]  # the relist found nothing new about "a"
        assert informer.lists == 2


async def test_an_unreachable_apiserver_is_retried() -> None:
    fake = FakeKube()
    fake.server.put(cm("a"))
    fake.server.fail("list", ClusterUnreachable("connection refused"), times=2)
    informer = Informer(fake, "v1", "ConfigMap", min_backoff=0.001)
    async with running(fake, informer):
        assert informer.keys() == [("apps", "a")]
        assert fake.server.count("list") == 3


async def test_namespace_and_label_selector_scope_the_cache() -> None:
    fake, seen = FakeKube(), Seen()
    fake.server.put(cm("in", tier="web"))
    fake.server.put(cm("out", tier="db"))
    fake.server.put(cm("elsewhere", namespace="other", tier="web"))
    informer = Informer(fake, "v1", "ConfigMap", namespace="apps", label_selector="tier=web")
    informer.add_handler(seen)
    async with running(fake, informer):
        assert informer.keys() == [("apps", "in")]
        await fake.patch("v1", "ConfigMap", "in", {"metadata": {"labels": {"tier": "db"}}}, namespace="apps")
        await fake.patch("v1", "ConfigMap", "out", {"metadata": {"labels": {"tier": "web"}}}, namespace="apps")
        await fake.server.settled()
        assert seen.take() == [("ADDED", "in", False), ("DELETED", "in", False), ("ADDED", "out", False)]
        assert informer.keys() == [("apps", "out")]


async def test_indexes_follow_changes() -> None:
    fake = FakeKube()
    fake.server.put(cm("a", tier="web"))
    fake.server.put(cm("b", tier="web"))
    informer = Informer(fake, "v1", "ConfigMap")
    informer.add_index("tier", lambda o: [o["metadata"].get("labels", {}).get("tier", "")])
    async with running(fake, informer):
        assert informer.by_index("tier", "web") == [("apps", "a"), ("apps", "b")]
        await fake.patch("v1", "ConfigMap", "a", {"metadata": {"labels": {"tier": "db"}}}, namespace="apps")
        await fake.delete("v1", "ConfigMap", "b", "apps")
        await fake.server.settled()
        assert informer.by_index("tier", "web") == []
        assert informer.by_index("tier", "db") == [("apps", "a")]


async def test_a_failing_handler_does_not_stop_the_cache_or_other_handlers() -> None:
    fake, seen = FakeKube(), Seen()
    informer = Informer(fake, "v1", "ConfigMap")

    def broken(event: WatchEvent) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(broken)
    informer.add_handler(seen)
    async with running(fake, informer):
        await fake.create(cm("a"))
        await fake.server.settled()
        assert seen.take() == [("ADDED", "a", False)]
        assert informer.keys() == [("apps", "a")]


async def test_managed_fields_are_not_kept() -> None:
    fake = FakeKube()
    obj = cm("a")
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply"}]
    fake.server.put(obj)  # stored as given, as an apiserver keeps them
    informer = Informer(fake, "v1", "ConfigMap")
    async with running(fake, informer):
        assert "managedFields" not in informer.get(("apps", "a"))["metadata"]  # type: ignore[index]
