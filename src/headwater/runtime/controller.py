"""The reconcile loop every headwater controller shares, so that controllers only write `reconcile`.

The contract, modelled on controller-runtime: `async reconcile(ctx) -> Result` on a
`headwater.runtime.reconciler.Reconciler`. The reconciler reads the object (`ctx.obj`, a private copy of
the cached dict), does its work and records what it found in `ctx.obj["status"]` (artifact, inventory,
its own conditions, a Ready message). Everything Flux objects have in common is handled here:

- which changes wake an object: creation, a new generation (spec change), a new
  `reconcile.fluxcd.io/requestedAt` token, a deletion; never our own status writes;
- `spec.suspend` (nothing is done and nothing is recorded until resumed);
- static objects (`Reconciler.is_static`, Flux's OCI HelmRepository): no finalizer, no status, no reconcile;
- the finalizer `finalizers.fluxcd.io` (added first; on deletion `finalize` runs, then it is removed);
- the outcome: success → Ready=True, `observedGeneration`, requeue at `spec.interval` with jitter;
  `ReconcileError`/any exception → Ready=False with its reason, Reconciling=True (ProgressingWithRetry),
  a Warning event, retry with exponential backoff; `TerminalError` → Stalled=True, no retry until the
  object changes; `WaitingError` → Ready=False, requeue after its delay without backoff;
- `status.lastHandledReconcileAt` echoes the requestedAt token once handled;
- the status is written only when it changed, so an idle object costs no apiserver write;
- metrics (`gotk_reconcile_duration_seconds`, `gotk_reconcile_condition`, controller-runtime counters);
- declared watches (`runtime.watches`): a change to a related object that the watch's predicate accepts
  enqueues the keys its map returns.

A key is never reconciled by two workers at once (the work queue guarantees it).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable
from typing import Any

from headwater.api.duration import seconds_or
from headwater.runtime import conditions as cond
from headwater.runtime.backoff import ExponentialBackoff, IntervalJitter
from headwater.runtime.context import ReconcileContext
from headwater.runtime.events import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING
from headwater.runtime.informer import Informer, ObjectKey, WatchEvent
from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import Conflict, KubeError, NotFound
from headwater.runtime.logging import reconcile_logger
from headwater.runtime.metrics import DEFAULT as DEFAULT_METRICS
from headwater.runtime.metrics import FluxMetrics
from headwater.runtime.options import ControllerOptions, format_duration
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.recorder import EventRecorder
from headwater.runtime.result import (
    DEFAULT_FAILURE_REASON,
    ReconcileError,
    Result,
    TerminalError,
    WaitingError,
)
from headwater.runtime.status import StaleStatus, StatusWriter
from headwater.runtime.watches import Watch
from headwater.runtime.workqueue import QueueShutDown, WorkQueue

FINALIZER = "finalizers.fluxcd.io"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
CATCH_UP_TIMEOUT = 2.0  # seconds a run waits for the cache to show this controller's own last write
CATCH_UP_POLL = 0.25
Obj = dict[str, Any]
_log = logging.getLogger("headwater.controller")


def should_enqueue(event: WatchEvent) -> bool:
    """Flux's predicates: generation changed, reconcile requested, or deletion started."""
    if event.type != "MODIFIED" or event.old is None:
        return True
    new_meta, old_meta = event.obj["metadata"], event.old["metadata"]
    if new_meta.get("generation") != old_meta.get("generation"):
        return True
    if (new_meta.get("annotations") or {}).get(REQUESTED_AT) != (old_meta.get("annotations") or {}).get(REQUESTED_AT):
        return True
    return bool(new_meta.get("deletionTimestamp")) and not old_meta.get("deletionTimestamp")


class Controller:
    """Runs one reconciler over one informer with `options.concurrent` workers."""

    def __init__(
        self,
        name: str,
        kube: KubeClient,
        reconciler: Reconciler,
        informer: Informer,
        *,
        options: ControllerOptions | None = None,
        recorder: EventRecorder | None = None,
        metrics: FluxMetrics = DEFAULT_METRICS,
        field_manager: str | None = None,
    ) -> None:
        self.name = name
        self.kube = kube
        self.reconciler = reconciler
        self.informer = informer
        self.options = options or ControllerOptions()
        self.recorder = recorder or EventRecorder(kube, name, events_addr=self.options.events_addr)
        self.metrics = metrics
        self.field_manager = field_manager or name
        self.status_writer = StatusWriter(kube, self.field_manager)
        self.queue: WorkQueue[ObjectKey] = WorkQueue(
            name,
            rate_limiter=ExponentialBackoff(self.options.min_retry_delay, self.options.max_retry_delay),
            metrics=metrics.queue_metrics(name),
        )
        self.jitter = IntervalJitter(self.options.interval_jitter_percentage)
        self.reconciles = 0  # completed reconcile calls (observability and tests)
        self.on_reconciled: Callable[[ObjectKey, str], None] | None = None  # test/benchmark hook
        self._workers: list[asyncio.Task[None]] = []
        self._in_flight: dict[ObjectKey, float] = {}
        # Our last write to each object that the cache has not shown yet: (its resourceVersion, when).
        self._unseen: dict[ObjectKey, tuple[str, float]] = {}
        self._deferred: set[ObjectKey] = set()  # runs waiting for that
        self.catch_up_waits = 0  # runs deferred until the cache showed our own last write
        informer.add_handler(self._on_event)

    @property
    def status_writes(self) -> int:
        return self.status_writer.writes

    # -- wiring ------------------------------------------------------------------------------------

    def watch(self, informer: Informer, declared: Watch) -> None:
        """Enqueue what ``declared`` maps a change of ``informer``'s objects to, when its predicate holds."""
        primary, when, map_to_requests = self.informer, declared.when, declared.map_to_requests

        def on_event(event: WatchEvent) -> None:
            if when(event):
                for key in map_to_requests(event, primary):
                    self.queue.add(key)

        informer.add_handler(on_event)

    def _on_event(self, event: WatchEvent) -> None:
        key = (event.obj["metadata"].get("namespace") or "", event.obj["metadata"]["name"])
        unseen = self._unseen.get(key)
        caught_up = unseen is not None and (
            event.type == "DELETED" or event.obj["metadata"].get("resourceVersion") == unseen[0])
        if caught_up:
            del self._unseen[key]
        if event.type == "DELETED":
            self.queue.forget(key)
            self.queue.cancel_scheduled(key)
            self.metrics.forget_object(self.reconciler.kind, key[1], key[0])
            return
        if caught_up and key in self._deferred:
            self._deferred.discard(key)
            self.queue.add(key)  # the run that waited for the cache to show our write may go now
        elif should_enqueue(event):
            self.queue.add(key)

    def enqueue(self, key: ObjectKey, after: float = 0.0) -> None:
        """Wake an object from outside (e.g. its source changed, a dependency became Ready)."""
        if after > 0:
            self.queue.add_after(key, after)
        else:
            self.queue.add(key)

    async def start(self) -> None:
        self.metrics.init_controller(self.name, self.options.concurrent)
        self._workers = [
            asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(self.options.concurrent)
        ]

    async def stop(self) -> None:
        """Stop taking work, let in-flight reconciles finish, flush events."""
        self.queue.shutdown()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        await self.recorder.close()
        await self.reconciler.close()  # e.g. connections to remote clusters

    @property
    def in_flight(self) -> list[ObjectKey]:
        return list(self._in_flight)

    # -- the loop ----------------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            self._in_flight[key] = time.monotonic()
            # This run's outcome schedules the next one: a retry or interval timer set by an earlier
            # run must not fire during this one and start another right after it (a retry storm).
            self.queue.cancel_scheduled(key)
            try:
                await self._process(key)
            except Exception:  # the loop must survive anything a reconciler does
                _log.exception("unexpected failure handling %s/%s", *key)
                self.queue.add_rate_limited(key)
            finally:
                self._in_flight.pop(key, None)
                self.queue.done(key)

    async def _process(self, key: ObjectKey) -> None:
        cached = self.informer.get(key)
        if cached is None:
            self.queue.forget(key)
            return
        if self._behind(key, cached):
            return
        obj = copy.deepcopy(cached)
        meta = obj["metadata"]
        group = obj["apiVersion"].rpartition("/")[0]
        log = reconcile_logger(_log, controller=self.reconciler.kind.lower(), group=group,
                               kind=self.reconciler.kind, name=key[1], namespace=key[0])
        requested_at = (meta.get("annotations") or {}).get(REQUESTED_AT)
        ctx = ReconcileContext(obj, self.kube, self.recorder, self.status_writer, log, requested_at)

        spec = obj.get("spec") or {}
        if self.reconciler.is_static(obj):
            if not spec.get("suspend") or meta.get("deletionTimestamp"):
                await self._make_static(key, ctx)
            return
        if meta.get("deletionTimestamp"):
            await self._finalize(key, ctx)
            return
        if spec.get("suspend"):
            self.metrics.record_suspend(self.reconciler.kind, key[1], key[0], True)
            log.info("Reconciliation is suspended for this object")
            self.queue.forget(key)
            return
        self.metrics.record_suspend(self.reconciler.kind, key[1], key[0], False)
        if FINALIZER not in (meta.get("finalizers") or []) and not await self._add_finalizer(key, ctx):
            return

        before = copy.deepcopy(obj.get("status") or {})
        self.status_writer.begin(obj)
        ready_before = copy.deepcopy(cond.get(ctx.conditions, cond.READY_CONDITION))
        started = time.monotonic()
        error: BaseException | None = None
        result = Result()
        try:
            result = await self.reconciler.reconcile(ctx)
        except Exception as err:
            error = err
        seconds = time.monotonic() - started
        self.reconciles += 1
        self._remember_written(key, cached, ctx.obj)
        if _stale(error):
            self.status_writer.stored(ctx.obj, before)
            self.status_writer.end(ctx.obj)
            self._again_when_current(key, ctx)
            return
        error = self._effective_error(ctx, error, ready_before)
        outcome = self._record_outcome(ctx, error, ready_before)
        if requested_at is not None:
            ctx.status["lastHandledReconcileAt"] = requested_at
        try:
            if ctx.status != self.status_writer.stored(ctx.obj, before):
                try:
                    await self.write_status(ctx.obj)
                except StaleStatus:
                    self._again_when_current(key, ctx)
                    return
                self._remember_written(key, cached, ctx.obj)
        finally:
            self.status_writer.end(ctx.obj)
        self._schedule(key, ctx, result, error, outcome, seconds)

    def _remember_written(self, key: ObjectKey, cached: Obj, obj: Obj) -> None:
        """After this run wrote the object (status, finalizer): the version the cache must show next."""
        version = obj["metadata"].get("resourceVersion")
        if version and version != cached["metadata"].get("resourceVersion"):
            self._unseen[key] = (str(version), time.monotonic())

    def _behind(self, key: ObjectKey, cached: Obj) -> bool:
        """Whether to wait before reconciling: the cache does not show this controller's last write yet.

        A run right after our own write (the object was enqueued while it ran) would start from the copy
        before that write; its status writes would then be refused (`StaleStatus`) and it would be
        retried after the rate limiter's delay. Waiting for the watch instead costs milliseconds: the
        event that shows our write enqueues the key again (`_on_event`). After `CATCH_UP_TIMEOUT` (a
        watch being re-established, someone else's write first) the run goes ahead, still guarded by
        the resourceVersion precondition of every status write.
        """
        unseen = self._unseen.get(key)
        self._deferred.discard(key)
        if unseen is None or cached["metadata"].get("resourceVersion") == unseen[0]:
            self._unseen.pop(key, None)
            return False
        waited = time.monotonic() - unseen[1]
        if waited >= CATCH_UP_TIMEOUT:
            del self._unseen[key]
            return False
        self.catch_up_waits += 1
        self._deferred.add(key)
        self.queue.add_after(key, min(CATCH_UP_POLL, CATCH_UP_TIMEOUT - waited))
        return True

    def _again_when_current(self, key: ObjectKey, ctx: ReconcileContext) -> None:
        """The object changed since it was read from the cache (a status write got 409): nothing of
        this run is recorded, and the object is reconciled again, from the newer copy, once the cache
        has it (the rate limiter's delay gives the watch time to deliver it)."""
        ctx.log.info("the object changed since it was read; reconciling it again from the current copy")
        self.queue.add_rate_limited(key)

    @staticmethod
    def _effective_error(
        ctx: ReconcileContext, error: BaseException | None, ready_before: dict[str, Any] | None
    ) -> BaseException | None:
        """The reconcile's failure: what it raised, or the Ready=False it set itself in this pass.

        A reconcile that returns normally but marked Ready=False in this pass (e.g. a health check that
        failed) is a failure, reported, counted and retried like a raised `ReconcileError`; a
        Ready=False left from an earlier attempt is not.
        """
        conds = ctx.conditions
        if error is None and cond.is_false(conds, cond.READY_CONDITION) \
                and cond.get(conds, cond.READY_CONDITION) != ready_before:
            return ReconcileError(cond.get_reason(conds, cond.READY_CONDITION) or DEFAULT_FAILURE_REASON,
                                  cond.get_message(conds, cond.READY_CONDITION))
        return error

    def _record_outcome(
        self, ctx: ReconcileContext, error: BaseException | None, ready_before: dict[str, Any] | None
    ) -> str:
        """Set the common conditions for how the reconcile ended; return the metrics result label."""
        conds, generation = ctx.conditions, ctx.generation
        previous = (ready_before or {}).get("reason"), (ready_before or {}).get("message")
        ready_now = cond.get(conds, cond.READY_CONDITION)
        if error is None:
            cond.delete(conds, cond.RECONCILING_CONDITION)
            cond.delete(conds, cond.STALLED_CONDITION)
            if not cond.is_true(conds, cond.READY_CONDITION):
                cond.mark_ready(conds, "Reconciliation succeeded", generation=generation)
            elif ready_now is not None:  # kept from before: keep its words, observe this generation
                cond.mark_ready(conds, str(ready_now.get("message", "")),
                                str(ready_now.get("reason") or cond.RECONCILIATION_SUCCEEDED_REASON),
                                generation=generation)
            ctx.status["observedGeneration"] = generation
            return "success"
        reason = error.reason if isinstance(error, ReconcileError) else DEFAULT_FAILURE_REASON
        message = str(error) or type(error).__name__
        if isinstance(error, TerminalError):
            cond.mark_stalled(conds, reason, message, generation=generation)
            cond.mark_not_ready(conds, reason, message, generation=generation)
            ctx.status["observedGeneration"] = generation
        elif isinstance(error, WaitingError):
            cond.mark_reconciling(conds, cond.PROGRESSING_REASON, message, generation=generation)
            cond.mark_not_ready(conds, reason, message, generation=generation)
        else:
            cond.mark_reconciling(conds, cond.PROGRESSING_WITH_RETRY_REASON, message, generation=generation)
            cond.mark_not_ready(conds, reason, message, generation=generation)
            if not isinstance(error, ReconcileError | KubeError):
                ctx.log.error("reconcile failed unexpectedly", exc_info=error)
        if (reason, message) != previous and not isinstance(error, WaitingError):
            ctx.event(EVENT_TYPE_WARNING, reason, message)
        ctx.log.info("reconcile failed: %s: %s", reason, message)
        return "requeue_after" if isinstance(error, WaitingError) else "error"

    def _schedule(
        self, key: ObjectKey, ctx: ReconcileContext, result: Result, error: BaseException | None, outcome: str,
        seconds: float,
    ) -> None:
        kind, (namespace, name) = self.reconciler.kind, key
        self.metrics.record_reconcile_duration(kind, name, namespace, seconds)
        ready = cond.get(ctx.conditions, cond.READY_CONDITION)
        self.metrics.record_condition(kind, name, namespace, cond.READY_CONDITION,
                                      ready["status"] if ready else cond.UNKNOWN)
        self.metrics.record_reconcile(self.name, outcome, seconds, error=outcome == "error",
                                      terminal=isinstance(error, TerminalError))
        if isinstance(error, TerminalError):
            self.queue.forget(key)
        elif isinstance(error, WaitingError):
            self.queue.forget(key)
            self.queue.add_after(key, error.requeue_after)
        elif error is not None:
            retry_after = self.reconciler.retry_interval(ctx.obj)
            if retry_after is not None:  # appliers retry at spec.retryInterval, as Flux's do
                self.queue.add_after(key, retry_after)
            else:
                self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
            after = result.requeue_after
            if after is None:
                interval = self.interval_of(ctx.obj)
                # no spec.interval (not a Flux kind): wait for the next watch event, as controller-runtime does
                after = self.jitter(interval) if interval > 0 else None
            if after is None:
                ctx.log.info("Reconciliation finished in %s", format_duration(seconds))
            else:
                ctx.log.info("Reconciliation finished in %s, next run in %s", format_duration(seconds),
                             format_duration(after))
                if after > 0:
                    self.queue.add_after(key, after)
                else:
                    self.queue.add(key)
        if self.on_reconciled is not None:
            self.on_reconciled(key, outcome)

    @staticmethod
    def interval_of(obj: Obj) -> float:
        return seconds_or((obj.get("spec") or {}).get("interval"), 0.0)

    # -- writes ------------------------------------------------------------------------------------

    async def write_status(self, obj: Obj) -> None:
        """Merge-patch the status subresource with the object's whole status."""
        await self.status_writer.write(obj, final=True)

    async def _add_finalizer(self, key: ObjectKey, ctx: ReconcileContext) -> bool:
        meta = ctx.obj["metadata"]
        finalizers = [*(meta.get("finalizers") or []), FINALIZER]
        try:
            updated = await self.kube.patch(
                ctx.obj["apiVersion"], ctx.obj["kind"], key[1],
                {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
                namespace=key[0] or None, field_manager=self.field_manager,
            )
        except Conflict:
            self.queue.add(key)  # the cache was behind; try again with the current object
            return False
        except NotFound:
            return False
        meta["finalizers"] = finalizers
        meta["resourceVersion"] = updated["metadata"]["resourceVersion"]
        return True

    async def _make_static(self, key: ObjectKey, ctx: ReconcileContext) -> None:
        """Leave a static object as Flux leaves it: what was stored for it, our finalizer and its status
        removed (once; an object already without them costs no write)."""
        await self._finalize(key, ctx)  # first: it patches with the resourceVersion read
        self.queue.forget(key)
        status = ctx.obj.get("status") or {}
        if status and not ctx.obj["metadata"].get("deletionTimestamp"):
            with contextlib.suppress(NotFound):
                await self.kube.patch_status(ctx.obj, dict.fromkeys(status), field_manager=self.field_manager)

    async def _finalize(self, key: ObjectKey, ctx: ReconcileContext) -> None:
        meta = ctx.obj["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return
        try:
            await self.reconciler.finalize(ctx)
            remaining = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
            await self.kube.patch(
                ctx.obj["apiVersion"], ctx.obj["kind"], key[1],
                {"metadata": {"finalizers": remaining or None, "resourceVersion": meta["resourceVersion"]}},
                namespace=key[0] or None, field_manager=self.field_manager,
            )
        except NotFound:
            return
        except Exception as err:
            reason = err.reason if isinstance(err, ReconcileError) else DEFAULT_FAILURE_REASON
            ctx.log.info("finalization failed: %s", err)
            ctx.event(EVENT_TYPE_WARNING, reason, f"finalization failed: {err}")
            self.queue.add_rate_limited(key)
            return
        self.queue.forget(key)
        self.metrics.record_condition(self.reconciler.kind, key[1], key[0], cond.READY_CONDITION, "", deleted=True)


def _stale(error: BaseException | None) -> bool:
    """Whether the reconcile failed because a status write found the object changed (also when a
    reconciler wrapped that error in its own)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, StaleStatus):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


__all__ = [
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_WARNING",
    "FINALIZER",
    "REQUESTED_AT",
    "Controller",
    "ReconcileContext",
    "Reconciler",
    "should_enqueue",
]
