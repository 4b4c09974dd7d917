"""Unit tests for headwater.runtime.workqueue (client-go queue semantics on asyncio)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Hashable
from typing import TypeVar

import pytest

from headwater.runtime.backoff import ExponentialBackoff
from headwater.runtime.workqueue import QueueShutDown, WorkQueue

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingMetrics:
    def __init__(self) -> None:
        self.adds = 0
        self.depths: list[int] = []
        self.waits: list[float] = []
        self.works: list[float] = []
        self.retries = 0

    def on_add(self) -> None:
        self.adds += 1

    def on_depth(self, depth: int) -> None:
        self.depths.append(depth)

    def on_get(self, waited: float) -> None:
        self.waits.append(waited)

    def on_done(self, worked: float) -> None:
        self.works.append(worked)

    def on_retry(self) -> None:
        self.retries += 1


K = TypeVar("K", bound=Hashable)


async def drain(q: WorkQueue[K]) -> list[K]:
    """Take every key currently queued (marking each done)."""
    out: list[K] = []
    while len(q):
        key = await q.get()
        out.append(key)
        q.done(key)
    return out


# --------------------------------------------------------------------------- de-duplication


@pytest.mark.parametrize(
    ("adds", "expected"),
    [
        pytest.param(["a"], ["a"], id="single"),
        pytest.param(["a", "a", "a"], ["a"], id="same-key-collapses"),
        pytest.param(["a", "b", "a", "c", "b"], ["a", "b", "c"], id="fifo-of-first-add"),
        pytest.param([("ns", "x"), ("ns", "y"), ("ns", "x")], [("ns", "x"), ("ns", "y")], id="tuple-keys"),
        pytest.param([], [], id="empty"),
    ],
)
async def test_add_deduplicates_waiting_keys(adds: list[Hashable], expected: list[Hashable]) -> None:
    q: WorkQueue[Hashable] = WorkQueue("t")
    for key in adds:
        q.add(key)
    assert len(q) == len(expected)
    assert q.depth == len(expected)
    assert await drain(q) == expected


async def test_get_marks_processing_and_done_clears() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert q.is_queued("a")
    key = await q.get()
    assert key == "a"
    assert q.is_processing("a")
    assert not q.is_queued("a")
    assert q.processing_count == 1
    q.done("a")
    assert not q.is_processing("a")
    assert q.processing_count == 0


# --------------------------------------------------------------------------- dirty re-add


@pytest.mark.parametrize("re_adds", [1, 2, 5])
async def test_add_while_processing_requeues_once_on_done(re_adds: int) -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    for _ in range(re_adds):
        q.add(key)
    # not handed out while being processed
    assert len(q) == 0
    assert q.is_queued("a")
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_processing_key_not_given_to_second_getter() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    first = await q.get()
    q.add("a")
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not second.done(), "a key in processing must not be handed to another worker"
    q.done(first)
    assert await asyncio.wait_for(second, 1) == "a"
    q.done("a")


async def test_done_of_key_not_processing_raises() -> None:
    q: WorkQueue[str] = WorkQueue()
    with pytest.raises(ValueError, match="not being processed"):
        q.done("x")
    q.add("x")
    with pytest.raises(ValueError, match="not being processed"):
        q.done("x")  # queued, but not taken


async def test_getter_waits_for_add() -> None:
    q: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("k")
    assert await asyncio.wait_for(getter, 1) == "k"
    q.done("k")


async def test_cancelled_getter_does_not_lose_items() -> None:
    q: WorkQueue[str] = WorkQueue()
    g1 = asyncio.create_task(q.get())
    g2 = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    g1.cancel()
    with pytest.raises(asyncio.CancelledError):
        await g1
    q.add("k")
    assert await asyncio.wait_for(g2, 1) == "k"
    q.done("k")


async def test_woken_then_cancelled_getter_passes_wakeup_on() -> None:
    q: WorkQueue[str] = WorkQueue()
    g1 = asyncio.create_task(q.get())
    g2 = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("k")  # wakes g1's waiter...
    g1.cancel()  # ...but g1 is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await g1
    assert await asyncio.wait_for(g2, 1) == "k"
    q.done("k")


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize(("workers", "keys", "rounds"), [(8, 20, 30), (32, 200, 10), (4, 3, 60)])
async def test_never_two_workers_on_one_key(workers: int, keys: int, rounds: int) -> None:
    rng = random.Random(workers * 1000 + keys)
    q: WorkQueue[int] = WorkQueue("concurrency")
    active: set[int] = set()
    violations: list[int] = []
    tick = 0
    last_add: dict[int, int] = {}
    last_start: dict[int, int] = {}
    processed = 0

    async def worker() -> None:
        nonlocal tick, processed
        while True:
            try:
                key = await q.get()
            except QueueShutDown:
                return
            if key in active:
                violations.append(key)
            active.add(key)
            tick += 1
            last_start[key] = tick
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
            active.discard(key)
            processed += 1
            q.done(key)

    async def producer() -> None:
        nonlocal tick
        for _ in range(rounds):
            for key in rng.sample(range(keys), k=max(1, keys // 2)):
                tick += 1
                last_add[key] = tick
                q.add(key)
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    await producer()
    for _ in range(1000):
        if len(q) == 0 and q.processing_count == 0:
            break
        await asyncio.sleep(0.001)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)

    assert violations == []
    assert processed > 0
    # every add was followed by a processing start of that key (no lost dirty re-adds)
    for key, added in last_add.items():
        assert last_start.get(key, -1) > added, f"key {key} added at {added} never processed afterwards"


# --------------------------------------------------------------------------- delayed adds


@pytest.mark.parametrize(
    ("delays", "expected"),
    [
        pytest.param({"a": 0.05, "b": 0.01, "c": 0.03}, ["b", "c", "a"], id="by-deadline"),
        pytest.param({"a": 0.02, "b": 0.0, "c": -1.0}, ["b", "c", "a"], id="non-positive-is-immediate"),
        pytest.param({"x": 0.01}, ["x"], id="single"),
    ],
)
async def test_add_after_orders_by_deadline(delays: dict[str, float], expected: list[str]) -> None:
    q: WorkQueue[str] = WorkQueue()
    for key, delay in delays.items():
        q.add_after(key, delay)
    got: list[str] = []
    for _ in expected:
        key = await asyncio.wait_for(q.get(), 1)
        got.append(key)
        q.done(key)
    assert got == expected
    assert q.scheduled_count == 0


@pytest.mark.parametrize(
    ("first", "second", "arrives_within"),
    [
        pytest.param(5.0, 0.01, 0.5, id="later-then-earlier"),
        pytest.param(0.01, 5.0, 0.5, id="earlier-then-later"),
    ],
)
async def test_add_after_earliest_deadline_wins(first: float, second: float, arrives_within: float) -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("a", first)
    q.add_after("a", second)
    assert q.is_scheduled("a")
    assert q.scheduled_count == 1
    key = await asyncio.wait_for(q.get(), arrives_within)
    assert key == "a"
    q.done(key)
    # only one add happens: the superseded deadline is gone
    assert q.scheduled_count == 0
    await asyncio.sleep(0.03)
    assert len(q) == 0


async def test_add_after_not_early() -> None:
    q: WorkQueue[str] = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("a", 0.05)
    await asyncio.sleep(0.02)
    if loop.time() - start < 0.05:  # (a heavily loaded machine may have overslept)
        assert len(q) == 0
    await asyncio.wait_for(q.get(), 1)
    assert loop.time() - start >= 0.05 - 0.002
    q.done("a")


async def test_add_after_for_queued_key_deduplicates() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add_after("a", 0.01)
    await asyncio.sleep(0.03)
    assert len(q) == 1
    assert await drain(q) == ["a"]


async def test_add_after_for_processing_key_marks_dirty() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add_after("a", 0.01)
    await asyncio.sleep(0.03)
    assert len(q) == 0
    assert q.is_queued("a")
    q.done(key)
    assert await drain(q) == ["a"]


async def test_cancel_scheduled() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("a", 0.01)
    assert q.cancel_scheduled("a") is True
    assert q.cancel_scheduled("a") is False
    await asyncio.sleep(0.03)
    assert len(q) == 0


async def test_many_delayed_keys_arrive_once_each() -> None:
    rng = random.Random(7)
    q: WorkQueue[int] = WorkQueue()
    n = 3000
    for key in range(n):
        q.add_after(key, rng.uniform(0.0, 0.03))
    # reschedule a subset several times with shrinking delays: earliest wins, heap stays compact
    for round_ in range(5):
        for key in range(0, n, 3):
            q.add_after(key, 0.03 - round_ * 0.005)
    assert q.scheduled_count <= n
    assert len(q._heap) <= 2 * max(q.scheduled_count, 64) + 1
    seen: list[int] = []
    while len(seen) < n:
        key = await asyncio.wait_for(q.get(), 1)
        seen.append(key)
        q.done(key)
    assert sorted(seen) == list(range(n))
    await asyncio.sleep(0.02)
    assert len(q) == 0
    assert q.scheduled_count == 0


# --------------------------------------------------------------------------- rate limiting


async def test_add_rate_limited_uses_backoff_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue(rate_limiter=ExponentialBackoff(0.01, 0.04))
    delays = []
    for _ in range(4):
        delays.append(q.add_rate_limited("a"))
        key = await asyncio.wait_for(q.get(), 1)
        q.done(key)
    assert delays == [0.01, 0.02, 0.04, 0.04]
    assert q.num_requeues("a") == 4
    q.forget("a")
    assert q.num_requeues("a") == 0
    assert q.add_rate_limited("a") == 0.01
    q.cancel_scheduled("a")


async def test_default_rate_limiter_is_flux_default() -> None:
    q: WorkQueue[str] = WorkQueue()
    assert q.rate_limiter.min_delay == 0.75
    assert q.rate_limiter.max_delay == 900.0


# --------------------------------------------------------------------------- shutdown


async def test_shutdown_wakes_waiting_getters() -> None:
    q: WorkQueue[str] = WorkQueue("sd")
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    for getter in getters:
        with pytest.raises(QueueShutDown):
            await asyncio.wait_for(getter, 1)
    assert q.shutting_down


async def test_shutdown_drops_queued_and_scheduled_and_ignores_adds() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add_after("b", 0.01)
    q.shutdown()
    assert len(q) == 0
    assert q.scheduled_count == 0
    q.add("c")
    q.add_after("d", 0.0)
    q.add_rate_limited("e")
    assert len(q) == 0
    with pytest.raises(QueueShutDown):
        await q.get()
    await asyncio.sleep(0.02)
    assert len(q) == 0


async def test_shutdown_lets_in_flight_work_finish() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # dirty while processing
    q.shutdown()
    waiter = asyncio.create_task(q.wait_idle())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.done(key)  # still allowed
    await asyncio.wait_for(waiter, 1)
    assert len(q) == 0, "dirty key must not be re-queued after shutdown"
    assert not q.is_queued("a")


async def test_shutdown_is_idempotent() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.shutdown()
    q.shutdown()
    with pytest.raises(QueueShutDown):
        await q.get()


async def test_wait_idle_returns_immediately_when_idle() -> None:
    q: WorkQueue[str] = WorkQueue()
    await asyncio.wait_for(q.wait_idle(), 1)


# --------------------------------------------------------------------------- metrics hooks


async def test_metrics_hooks() -> None:
    clock = FakeClock()
    metrics = RecordingMetrics()
    q: WorkQueue[str] = WorkQueue(metrics=metrics, clock=clock, rate_limiter=ExponentialBackoff(0.01, 0.01))
    q.add("a")
    q.add("a")  # de-duplicated: not counted
    q.add("b")
    assert metrics.adds == 2
    assert metrics.depths[-1] == 2
    clock.now += 2.5
    key = await q.get()
    assert metrics.waits == [2.5]
    assert metrics.depths[-1] == 1
    clock.now += 4.0
    assert q.in_flight_seconds() == (4.0, 4.0)
    q.done(key)
    assert metrics.works == [4.0]
    assert q.in_flight_seconds() == (0.0, 0.0)
    q.add_rate_limited("c")
    assert metrics.retries == 1
    await drain(q)
    assert metrics.depths[-1] == 0
    q.cancel_scheduled("c")


# --------------------------------------------------------------------------- add listeners


async def test_on_next_add_fires_once_even_when_deduplicated() -> None:
    q: WorkQueue[str] = WorkQueue()
    fired: list[str] = []
    q.add("a")
    q.on_next_add("a", lambda: fired.append("first"))
    q.on_next_add("b", lambda: fired.append("other-key"))
    q.add("a")  # de-duplicated, still notifies
    q.add("a")
    assert fired == ["first"]


async def test_on_next_add_unregister_and_failing_callback() -> None:
    q: WorkQueue[str] = WorkQueue()
    fired: list[str] = []
    unregister = q.on_next_add("a", lambda: fired.append("x"))
    unregister()
    unregister()  # harmless twice

    def boom() -> None:
        raise RuntimeError("listener bug")

    q.on_next_add("a", boom)
    q.on_next_add("a", lambda: fired.append("y"))
    q.add("a")  # a failing callback does not break add or the other callbacks
    assert fired == ["y"]
    assert len(q) == 1
