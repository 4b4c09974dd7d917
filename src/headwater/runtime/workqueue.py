"""An asyncio work queue with client-go's workqueue semantics.

Informers turn watch events into *keys* (e.g. ``(namespace, name)``) and workers take keys out
of this queue to reconcile them. The semantics are those of client-go's rate-limiting delaying
queue, which controller-runtime (and therefore every Flux controller) uses:

* a key waiting in the queue is stored once, however often it is added (de-duplication);
* a key that a worker is processing is never handed to a second worker; adding it meanwhile
  marks it *dirty*, and :meth:`WorkQueue.done` puts it back in the queue;
* :meth:`WorkQueue.add_after` schedules an add; for a key already scheduled the earlier
  deadline wins; :meth:`WorkQueue.add_rate_limited` schedules it after the key's exponential
  backoff delay;
* :meth:`WorkQueue.shutdown` refuses further adds, drops queued and scheduled keys, and makes
  :meth:`WorkQueue.get` raise :class:`QueueShutDown`; keys being processed are left alone and
  :meth:`WorkQueue.wait_idle` waits for them.

Delayed adds live in one heap served by one event-loop timer: no per-key tasks, no polling.
The queue belongs to one event loop and is not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from headwater.runtime.backoff import ExponentialBackoff

__all__ = ["NoopQueueMetrics", "QueueMetrics", "QueueShutDown", "WorkQueue"]

K = TypeVar("K", bound=Hashable)

_log = logging.getLogger(__name__)

# asyncio may run a timer callback up to one clock tick early.
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution


class QueueShutDown(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue has been shut down."""


class QueueMetrics(Protocol):
    """Hooks the queue calls so that metrics can be recorded (see ``metrics.py``)."""

    def on_add(self) -> None:
        """A key entered the queue (not counted when it was de-duplicated)."""

    def on_depth(self, depth: int) -> None:
        """The number of keys waiting in the queue changed."""

    def on_get(self, waited: float) -> None:
        """A worker took a key that had waited ``waited`` seconds in the queue."""

    def on_done(self, worked: float) -> None:
        """A worker finished a key it had processed for ``worked`` seconds."""

    def on_retry(self) -> None:
        """A key was re-queued with backoff."""


class NoopQueueMetrics:
    """A :class:`QueueMetrics` that records nothing."""

    def on_add(self) -> None:
        pass

    def on_depth(self, depth: int) -> None:
        pass

    def on_get(self, waited: float) -> None:
        pass

    def on_done(self, worked: float) -> None:
        pass

    def on_retry(self) -> None:
        pass


class WorkQueue(Generic[K]):
    """De-duplicating, delaying, rate-limited work queue for one controller.

    Typical worker loop::

        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            try:
                ...reconcile...
                queue.forget(key)
            except Exception:
                queue.add_rate_limited(key)
            finally:
                queue.done(key)
    """

    def __init__(
        self,
        name: str = "",
        *,
        rate_limiter: ExponentialBackoff[K] | None = None,
        metrics: QueueMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.rate_limiter: ExponentialBackoff[K] = (
            rate_limiter if rate_limiter is not None else ExponentialBackoff()
        )
        self._metrics: QueueMetrics = metrics if metrics is not None else NoopQueueMetrics()
        self._clock = clock

        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._queued_at: dict[K, float] = {}
        self._started_at: dict[K, float] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._idle = asyncio.Event()
        self._idle.set()
        self._shutting_down = False

        # Delayed adds: a heap of (deadline, seq, key); _deadline holds each key's live entry,
        # heap entries whose deadline differs from it are stale and skipped.
        self._heap: list[tuple[float, int, K]] = []
        self._deadline: dict[K, float] = {}
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

        self._listeners: dict[K, list[Callable[[], None]]] = {}

    # ----------------------------------------------------------------- inspection

    def __len__(self) -> int:
        """Queue depth: keys waiting to be handed to a worker."""
        return len(self._queue)

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def is_queued(self, key: K) -> bool:
        """Whether ``key`` waits in the queue (or will be re-queued when its worker is done)."""
        return key in self._dirty

    def is_processing(self, key: K) -> bool:
        return key in self._processing

    def is_scheduled(self, key: K) -> bool:
        """Whether a delayed add is pending for ``key``."""
        return key in self._deadline

    @property
    def scheduled_count(self) -> int:
        """Number of keys with a pending delayed add."""
        return len(self._deadline)

    @property
    def processing_count(self) -> int:
        return len(self._processing)

    def in_flight_seconds(self) -> tuple[float, float]:
        """(total, longest) seconds that the keys being processed have been running."""
        if not self._started_at:
            return 0.0, 0.0
        now = self._clock()
        spans = [now - started for started in self._started_at.values()]
        return sum(spans), max(spans)

    # ----------------------------------------------------------------- adding

    def add(self, key: K) -> None:
        """Queue ``key`` now (no-op if it is already waiting, or the queue is shut down)."""
        if self._shutting_down:
            return
        self._notify_listeners(key)
        if key in self._dirty:
            return
        self._metrics.on_add()
        self._dirty.add(key)
        if key in self._processing:
            return  # re-queued by done()
        self._push(key)

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds; an earlier pending deadline for it wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        current = self._deadline.get(key)
        if current is not None and current <= deadline:
            return
        self._deadline[key] = deadline
        heapq.heappush(self._heap, (deadline, next(self._seq), key))
        if len(self._heap) > 64 and len(self._heap) > 2 * len(self._deadline):
            self._compact_heap()
        self._arm_timer(loop)

    def add_rate_limited(self, key: K) -> float:
        """Queue ``key`` after its backoff delay (counting a failure); returns the delay."""
        delay = self.rate_limiter.when(key)
        if not self._shutting_down:
            self._metrics.on_retry()
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset the backoff of ``key`` (call after a successful reconcile)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """How many times ``key`` was re-queued with backoff since it was last forgotten."""
        return self.rate_limiter.failures(key)

    def cancel_scheduled(self, key: K) -> bool:
        """Drop a pending delayed add of ``key`` (e.g. the object was deleted)."""
        return self._deadline.pop(key, None) is not None

    def on_next_add(self, key: K, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` once, the next time ``key`` is added (even if de-duplicated).

        Lets a long-running reconcile notice that its object was enqueued again (e.g. to
        cancel a health check waiting on an outdated revision). Returns a function that
        unregisters the callback.
        """
        self._listeners.setdefault(key, []).append(callback)

        def unregister() -> None:
            callbacks = self._listeners.get(key)
            if callbacks is None:
                return
            try:
                callbacks.remove(callback)
            except ValueError:
                return
            if not callbacks:
                del self._listeners[key]

        return unregister

    # ----------------------------------------------------------------- taking

    async def get(self) -> K:
        """Wait for a key and mark it as being processed; raises :class:`QueueShutDown`."""
        while True:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            if self._queue:
                break
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except BaseException:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._getters.remove(waiter)
                # We were woken for an item but got cancelled: pass the wake-up on.
                if self._queue and not waiter.cancelled():
                    self._wake_one()
                raise
        key = self._queue.popleft()
        now = self._clock()
        self._dirty.discard(key)
        self._processing.add(key)
        self._started_at[key] = now
        self._idle.clear()
        self._metrics.on_get(max(0.0, now - self._queued_at.pop(key, now)))
        self._metrics.on_depth(len(self._queue))
        return key

    def done(self, key: K) -> None:
        """Mark ``key`` as processed; if it was added meanwhile it is queued again."""
        if key not in self._processing:
            raise ValueError(f"key {key!r} is not being processed")
        self._processing.remove(key)
        started = self._started_at.pop(key, None)
        if started is not None:
            self._metrics.on_done(max(0.0, self._clock() - started))
        if key in self._dirty:
            if self._shutting_down:
                self._dirty.discard(key)
            else:
                self._push(key)
        if not self._processing:
            self._idle.set()

    # ----------------------------------------------------------------- shutdown

    def shutdown(self) -> None:
        """Stop handing out keys: waiting getters and later :meth:`get` calls raise
        :class:`QueueShutDown`; queued and scheduled keys are dropped; keys being processed
        may still be finished with :meth:`done`."""
        if self._shutting_down:
            return
        self._shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._deadline.clear()
        self._queue.clear()
        self._queued_at.clear()
        self._dirty.intersection_update(self._processing)
        self._listeners.clear()
        self._metrics.on_depth(0)
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def wait_idle(self) -> None:
        """Wait until no key is being processed."""
        await self._idle.wait()

    # ----------------------------------------------------------------- internals

    def _push(self, key: K) -> None:
        self._queue.append(key)
        self._queued_at[key] = self._clock()
        self._metrics.on_depth(len(self._queue))
        self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _notify_listeners(self, key: K) -> None:
        callbacks = self._listeners.pop(key, None)
        if not callbacks:
            return
        for callback in callbacks:
            try:
                callback()
            except Exception:
                _log.exception("work queue %s: on-add callback for %r failed", self.name, key)

    def _compact_heap(self) -> None:
        self._heap = [entry for entry in self._heap if self._deadline.get(entry[2]) == entry[0]]
        heapq.heapify(self._heap)

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._heap and self._deadline.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # drop stale entries at the top
        if not self._heap:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        earliest = self._heap[0][0]
        if self._timer is not None:
            if self._timer.when() <= earliest:
                return
            self._timer.cancel()
        self._timer = loop.call_at(earliest, self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time() + _CLOCK_RESOLUTION
        while self._heap and self._heap[0][0] <= now:
            deadline, _, key = heapq.heappop(self._heap)
            if self._deadline.get(key) != deadline:
                continue  # stale: superseded by an earlier deadline, or cancelled
            del self._deadline[key]
            self.add(key)
        if not self._shutting_down:
            self._arm_timer(loop)
