"""A reconcile that starts from a cache older than the stored object must not overwrite the newer status.

The fault suite found it (tests/cluster/test_faults_control_plane.py): after an apiserver restart a
Kustomization was reconciled from a cached copy that lacked the inventory its previous run had
recorded, and the status it wrote dropped those objects from the inventory: orphans. Status writes now
carry the object's resourceVersion; a refused write (`StaleStatus`) records nothing and the object is
reconciled again from the current copy. A run enqueued while the previous one wrote waits for the cache
to show that write instead of failing against it.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from headwater.runtime.controller import ReconcileContext
from headwater.runtime.informer import run_until_synced, stop
from headwater.runtime.result import Result
from headwater.runtime.status import StaleStatus, StatusWriter
from headwater.testing.fakekube import FakeKube
from tests.unit.runtime.test_controller import API, KIND, NAMESPACE, Running, Scripted, build, example

pytestmark = pytest.mark.unit


class Recording(Scripted):
    """Records the inventory each run started from, and writes one derived from it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        await super().reconcile(ctx)
        seen = ctx.status.get("inventory")
        self.seen.append(seen)
        ctx.status["inventory"] = f"after {seen}"
        return Result()


def stored_status(fake: FakeKube) -> dict[str, Any]:
    obj = fake.server.get_object(API, KIND, "ex", NAMESPACE)
    assert obj is not None
    return dict(obj.get("status") or {})


async def test_a_run_from_a_stale_cache_writes_nothing_and_runs_again_from_the_current_copy() -> None:
    fake = FakeKube()
    reconciler = Recording()
    async with Running(fake, reconciler) as running:
        await fake.create(example())
        assert await running.finished.get() == "success"
        await running.idle()
        # the cache falls behind (its watch is down) while the stored status moves on
        informer = running.controller.informer
        assert running._informer is not None
        await stop(running._informer)
        await fake.patch(API, KIND, "ex", {"status": {"inventory": "newer"}}, namespace=NAMESPACE,
                         subresource="status")
        running.controller.enqueue((NAMESPACE, "ex"))
        await asyncio.wait_for(reconciler.started.get(), 5)
        for _ in range(100):  # the stale run ends without a write
            if not running.controller.in_flight:
                break
            await asyncio.sleep(0.01)
        assert stored_status(fake)["inventory"] == "newer"
        assert running.controller.status_writer.conflicts == 1
        running._informer = await run_until_synced(informer)  # the watch is back: a fresh list
        assert await asyncio.wait_for(running.finished.get(), 10) == "success"
        await running.idle()
    assert reconciler.seen == [None, "after None", "newer"]
    assert stored_status(fake)["inventory"] == "after newer"


async def test_a_run_enqueued_during_a_write_waits_for_the_cache_instead_of_failing() -> None:
    fake = FakeKube()
    reconciler = Scripted()
    reconciler.gate = asyncio.Event()
    async with Running(fake, reconciler, concurrent=2) as running:
        await fake.create(example())
        await reconciler.started.get()
        running.controller.enqueue((NAMESPACE, "ex"))  # a change arrives while the run is in flight
        reconciler.gate.set()
        assert await running.finished.get() == "success"
        assert await running.finished.get() == "success"
        await running.idle()
    assert reconciler.runs == 2
    assert running.controller.status_writer.conflicts == 0


async def test_status_writes_of_one_run_follow_each_other_and_a_stale_one_is_refused() -> None:
    fake = FakeKube()
    build(fake, Scripted())  # installs the CRD
    created = await fake.create(example())
    writer = StatusWriter(fake, "test")
    obj = {**copy.deepcopy(created), "status": {"step": 1}}
    writer.begin(obj)
    await writer.write(obj)
    obj["status"] = {"step": 2}
    await writer.write(obj, final=True)  # the second write checks against the version the first made
    assert stored_status(fake) == {"step": 2}
    stale = {**copy.deepcopy(created), "status": {"step": 0}}
    with pytest.raises(StaleStatus):
        await writer.write(stale, final=True)
    assert stored_status(fake) == {"step": 2}


class AppliesItself(Scripted):
    """Like bootstrap's `flux-system` Kustomization: the run changes its own object's metadata."""

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        await super().reconcile(ctx)
        meta = ctx.obj["metadata"]
        await ctx.status_writer.write(ctx.obj)  # a progress write, as a Kustomization's "Fetching manifests"
        await self.kube.patch(API, KIND, meta["name"], {"metadata": {"labels": {"run": str(self.runs)}}},
                              namespace=meta["namespace"])
        ctx.status["applied"] = self.runs
        return Result()


async def test_a_run_that_changes_its_own_object_still_records_its_status() -> None:
    # A 409 after only metadata or spec moved (the run applied its own object, a user labelled it) is not
    # a stale status: the stored status is still the one the run wrote last, so the write is repeated.
    # Found by the bootstrap test: flux-system applies itself and never became Ready.
    fake = FakeKube()
    reconciler = AppliesItself()
    reconciler.kube = fake
    async with Running(fake, reconciler) as running:
        await fake.create(example())
        assert await running.finished.get() == "success"
        await running.idle()
    writer = running.controller.status_writer
    assert (writer.conflicts, writer.retried) == (0, 1)
    assert stored_status(fake)["applied"] == 1
    ready = [c for c in stored_status(fake)["conditions"] if c["type"] == "Ready"]
    assert [c["status"] for c in ready] == ["True"]


async def test_a_status_someone_else_wrote_meanwhile_still_makes_the_write_stale() -> None:
    fake = FakeKube()
    build(fake, Scripted())
    created = await fake.create(example())
    writer = StatusWriter(fake, "test")
    obj = copy.deepcopy(created)
    writer.begin(obj)  # the status as read: none yet
    obj["status"] = {"step": 1}
    await fake.patch(API, KIND, "ex", {"metadata": {"labels": {"a": "b"}}}, namespace=NAMESPACE)
    await writer.write(obj)  # only metadata moved: written again against the new version
    assert (stored_status(fake), writer.retried) == ({"step": 1}, 1)
    await fake.patch(API, KIND, "ex", {"status": {"step": 9}}, namespace=NAMESPACE, subresource="status")
    obj["status"] = {"step": 2}
    with pytest.raises(StaleStatus):
        await writer.write(obj, final=True)
    assert stored_status(fake) == {"step": 9}
