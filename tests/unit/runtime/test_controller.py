"""The Controller on the fake apiserver: outcome → conditions, events and requeue; wake-ups; one run per key.

A scripted reconciler over a test kind does what each case says (succeed, fail, stall, wait, crash),
one entry per run. The outcome table runs one key at a time through the reconcile harness (virtual
time: requeue delays are read exactly, nothing fires behind the test's back); the tests after it run
the Controller's real workers and work queue, and wait on events the code itself signals, never on
timing windows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from headwater.runtime import conditions as cond
from headwater.runtime.controller import Controller, ReconcileContext, should_enqueue
from headwater.runtime.informer import Informer, WatchEvent
from headwater.runtime.kube import Conflict
from headwater.runtime.metrics import FluxMetrics
from headwater.runtime.options import ControllerOptions
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.recorder import EventRecorder
from headwater.runtime.result import ReconcileError, Result, TerminalError, WaitingError
from headwater.testing.fakekube import FakeKube
from tests.unit.reconcile.expect import ABSENT, Expect, compare, stalled
from tests.unit.reconcile.harness import NAMESPACE, NONE, NOW, after, backoff, harness_options, rig_of

pytestmark = pytest.mark.unit
Obj = dict[str, Any]
GROUP = "example.headwater.dev"
API = f"{GROUP}/v1"
KIND = "Example"
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": f"examples.{GROUP}"},
       "spec": {"group": GROUP, "scope": "Namespaced", "names": {"kind": KIND, "plural": "examples"},
                "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}]}}


@dataclass(frozen=True)
class Do:
    """What the scripted reconciler does in one run."""

    what: str  # ok, error, terminal, wait, crash, not-ready
    reason: str = "Boom"
    after: float | None = None  # ok: Result(requeue_after); wait: the delay asked for


class Scripted(Reconciler):
    """Does `script[n]` in its n-th run (the last entry from then on)."""

    api_version = API
    kind = KIND

    def __init__(self, script: tuple[Do, ...] = (Do("ok"),), finalize_error: str | None = None) -> None:
        self.script = script
        self.finalize_error = finalize_error
        self.runs = 0
        self.finalized = 0
        self.gate: asyncio.Event | None = None  # when set: each run waits for it
        self.started: asyncio.Queue[int] = asyncio.Queue()  # the run number, as each run starts
        self.active = 0
        self.most_active = 0

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        do = self.script[min(self.runs, len(self.script) - 1)]
        self.runs += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        self.started.put_nowait(self.runs)
        try:
            if self.gate is not None:
                await self.gate.wait()
        finally:
            self.active -= 1
        message = f"{do.what} {do.reason}"
        if do.what == "error":
            raise ReconcileError(do.reason, message)
        if do.what == "terminal":
            raise TerminalError(do.reason, message)
        if do.what == "wait":
            raise WaitingError(do.reason, message, do.after or 0.0)
        if do.what == "crash":
            raise RuntimeError("the reconciler broke")
        if do.what == "not-ready":
            cond.mark_not_ready(ctx.conditions, do.reason, message, generation=ctx.generation)
        return Result(requeue_after=do.after)

    async def finalize(self, ctx: ReconcileContext) -> None:
        self.finalized += 1
        if self.finalize_error:
            raise ReconcileError("FinalizeFailed", self.finalize_error)


class ScriptedRetrying(Scripted):
    """An applier-style reconciler: failures are retried at a fixed interval, not with backoff."""

    def retry_interval(self, obj: Obj) -> float | None:
        return 42.0


def example(name: str = "ex", *, annotations: Mapping[str, str] | None = None, finalizers: list[str] | None = None,
            **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": NAMESPACE}
    if annotations:
        meta["annotations"] = dict(annotations)
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": API, "kind": KIND, "metadata": meta, "spec": {"interval": "1m", **spec}}


def build(fake: FakeKube, reconciler: Scripted, options: ControllerOptions | None = None) -> Controller:
    fake.server.put(CRD)
    informer = Informer(fake, API, KIND)
    return Controller("example", fake, reconciler, informer, options=options or harness_options(),
                      recorder=EventRecorder(fake, "example-controller"),
                      metrics=FluxMetrics(CollectorRegistry(), process_metrics=False))


# -- outcomes, one run at a time ------------------------------------------------------------------

READY = {"Ready": ("True", "ReconciliationSucceeded"), "Reconciling": ABSENT, "Stalled": ABSENT}
RETRYING = {"Ready": ("False", "Boom"), "Reconciling": ("True", "ProgressingWithRetry"), "Stalled": ABSENT}


@dataclass(frozen=True)
class Case:
    id: str
    script: tuple[Do, ...]
    expect: Expect
    runs: int = 1  # how many times the key is processed (the expectation is about the last)
    retrying: bool = False  # the reconciler retries at a fixed interval (42 s)
    obj: Obj = field(default_factory=example)
    deleted: bool = False  # the object is being deleted before the last run
    finalize_error: str | None = None
    finalizer_conflict: bool = False


CASES = [
    Case("success: Ready, requeue at the interval", (Do("ok"),), Expect(
        conditions=READY, message="Reconciliation succeeded", events=(), requeue=after(60),
        fields={"status.observedGeneration": 1, "metadata.finalizers": ["finalizers.fluxcd.io"]})),
    Case("success asking for a requeue after 5 s", (Do("ok", after=5),), Expect(conditions=READY, requeue=after(5))),
    Case("success asking for an immediate requeue", (Do("ok", after=0),), Expect(conditions=READY, requeue=NOW)),
    Case("a second success with nothing new writes no status", (Do("ok"),), Expect(
        conditions=READY, status_writes=0, requeue=after(60)), runs=2),
    Case("a failure: not Ready, retrying, a warning, backoff", (Do("error"),), Expect(
        conditions=RETRYING, message="error Boom", events=(("Warning", "Boom"),), requeue=backoff(0.75),
        fields={"status.observedGeneration": None})),
    Case("the same failure again: backoff doubles, no second event", (Do("error"),), Expect(
        conditions=RETRYING, events=(), requeue=backoff(1.5)), runs=2),
    Case("another failure reason is a new event", (Do("error"), Do("error", "Other")), Expect(
        conditions={"Ready": ("False", "Other")}, events=(("Warning", "Other"),), requeue=backoff(1.5)), runs=2),
    Case("recovery clears Reconciling and the backoff", (Do("error"), Do("ok"), Do("error")), Expect(
        conditions=RETRYING, requeue=backoff(0.75)), runs=3),
    Case("recovered: Ready again", (Do("error"), Do("ok")), Expect(conditions=READY, requeue=after(60)), runs=2),
    Case("a failing applier retries at its retry interval", (Do("error"),), Expect(
        conditions=RETRYING, requeue=after(42)), retrying=True),
    Case("a terminal failure stalls without retry", (Do("terminal"),), Expect(
        conditions=stalled("Boom"), events=(("Warning", "Boom"),), requeue=NONE,
        fields={"status.observedGeneration": 1})),
    Case("waiting: Progressing, no event, requeue after the wait", (Do("wait", "DependencyNotReady", 7),), Expect(
        conditions={"Ready": ("False", "DependencyNotReady"), "Reconciling": ("True", "Progressing")},
        events=(), requeue=after(7))),
    Case("an exception: ReconciliationFailed with backoff", (Do("crash"),), Expect(
        conditions={"Ready": ("False", "ReconciliationFailed")}, message="the reconciler broke",
        events=(("Warning", "ReconciliationFailed"),), requeue=backoff(0.75))),
    Case("Ready=False set by the reconciler itself counts as a failure", (Do("not-ready", "HealthCheckFailed"),),
         Expect(conditions={"Ready": ("False", "HealthCheckFailed"), "Reconciling": ("True", "ProgressingWithRetry")},
                events=(("Warning", "HealthCheckFailed"),), requeue=backoff(0.75))),
    Case("suspended: not reconciled, nothing written", (Do("ok"),), Expect(
        reconciled=False, requeue=NONE, fields={"status": None, "metadata.finalizers": None}),
        obj=example(suspend=True)),
    Case("requestedAt is echoed once handled", (Do("error"),), Expect(
        fields={"status.lastHandledReconcileAt": "now-1"}), obj=example(annotations={
            "reconcile.fluxcd.io/requestedAt": "now-1"})),
    Case("deletion: finalize, then the finalizer goes and so does the object", (Do("ok"),), Expect(
        gone=True, reconciled=False, requeue=NONE), runs=2, deleted=True),
    Case("a failing finalize keeps the object and backs off", (Do("ok"),), Expect(
        reconciled=False, events=(("Warning", "FinalizeFailed"),), requeue=backoff(0.75),
        fields={"metadata.finalizers": ["finalizers.fluxcd.io"]}), runs=2, deleted=True,
        finalize_error="storage is gone"),
    Case("a conflict adding the finalizer: look again at once, without reconciling", (Do("ok"),), Expect(
        reconciled=False, requeue=NOW, fields={"metadata.finalizers": None}), finalizer_conflict=True),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_outcome(case: Case) -> None:
    fake = FakeKube()
    reconciler = (ScriptedRetrying if case.retrying else Scripted)(case.script, case.finalize_error)
    controller = build(fake, reconciler)
    fake.server.put(case.obj)
    if case.finalizer_conflict:
        fake.server.fail("patch", Conflict(409, "Conflict", "the object has been modified"), kind=KIND)
    rig = await rig_of(fake, controller, [controller.informer])
    try:
        for run in range(case.runs):
            if case.deleted and run == case.runs - 1:
                await fake.delete(API, KIND, "ex", NAMESPACE)
            outcome = await rig.reconcile("ex")
    finally:
        await rig.close()
    found, expected = compare(outcome, case.expect)
    assert found == expected
    assert reconciler.finalized == (1 if case.deleted else 0)


# -- predicates -----------------------------------------------------------------------------------


def _changed(**meta: Any) -> Obj:
    obj = example()
    obj["metadata"].update(generation=1, resourceVersion="1")
    obj["metadata"].update(meta)
    return obj


@pytest.mark.parametrize(("event", "enqueued"), [
    (WatchEvent("ADDED", _changed()), True),
    (WatchEvent("MODIFIED", _changed(generation=2), _changed()), True),
    (WatchEvent("MODIFIED", _changed(resourceVersion="2"), _changed()), False),  # a status or label write
    (WatchEvent("MODIFIED", _changed(annotations={"reconcile.fluxcd.io/requestedAt": "a"}), _changed()), True),
    (WatchEvent("MODIFIED", _changed(annotations={"other": "a"}), _changed()), False),
    (WatchEvent("MODIFIED", _changed(deletionTimestamp="2026-01-01T00:00:00Z"), _changed()), True),
    (WatchEvent("DELETED", _changed()), True),
], ids=["added", "new generation", "status only", "requestedAt", "other annotation", "deletion", "deleted"])
def test_which_changes_wake_an_object(event: WatchEvent, enqueued: bool) -> None:
    assert should_enqueue(event) is enqueued


# -- real workers ---------------------------------------------------------------------------------


class Running:
    """The Controller with its real workers and queue, and a way to wait for each reconcile to end."""

    def __init__(self, fake: FakeKube, reconciler: Scripted, **options: Any) -> None:
        self.fake = fake
        self.reconciler = reconciler
        self.controller = build(fake, reconciler, ControllerOptions(interval_jitter_percentage=0, **options))
        self.finished: asyncio.Queue[str] = asyncio.Queue()
        self.controller.on_reconciled = lambda _key, outcome: self.finished.put_nowait(outcome)
        self._informer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        from headwater.runtime.informer import run_until_synced

        self._informer = await run_until_synced(self.controller.informer)
        await self.fake.server.watching(API, KIND)
        await self.controller.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        from headwater.runtime.informer import stop

        await self.controller.stop()
        if self._informer is not None:
            await stop(self._informer)

    async def idle(self) -> None:
        """Every change seen by the informer, and no reconcile running or waiting to run."""
        await self.fake.server.settled()
        while self.controller.queue.depth or self.controller.queue.processing_count:
            await self.controller.queue.wait_idle()
            await asyncio.sleep(0)


async def test_a_status_write_wakes_nothing_and_a_spec_change_does() -> None:
    fake = FakeKube()
    async with Running(fake, Scripted()) as running:
        await fake.create(example())
        assert await running.finished.get() == "success"
        await running.idle()
        assert running.reconciler.runs == 1  # its own status and finalizer writes did not wake it
        await fake.patch(API, KIND, "ex", {"metadata": {"labels": {"a": "b"}}}, namespace=NAMESPACE)
        await running.idle()
        assert running.reconciler.runs == 1
        await fake.patch(API, KIND, "ex", {"spec": {"message": "new"}}, namespace=NAMESPACE)
        assert await running.finished.get() == "success"
        await running.idle()
        assert running.reconciler.runs == 2
        stored = fake.server.get_object(API, KIND, "ex", NAMESPACE)
        assert stored is not None
        assert stored["status"]["observedGeneration"] == 2


async def test_a_key_is_never_reconciled_twice_at_once_and_a_change_meanwhile_runs_once_after() -> None:
    fake = FakeKube()
    reconciler = Scripted()
    reconciler.gate = asyncio.Event()
    async with Running(fake, reconciler, concurrent=4) as running:
        await fake.create(example())
        assert await reconciler.started.get() == 1
        for _ in range(5):  # enqueued again and again while the first run is in flight
            running.controller.enqueue((NAMESPACE, "ex"))
        await running.fake.server.settled()
        assert running.controller.queue.is_processing((NAMESPACE, "ex"))
        assert reconciler.active == 1
        reconciler.gate.set()
        assert await running.finished.get() == "success"
        assert await reconciler.started.get() == 2  # the changes made meanwhile: one more run, not five
        assert await running.finished.get() == "success"
        await running.idle()
        assert (reconciler.runs, reconciler.most_active) == (2, 1)


async def test_a_retry_timer_from_an_earlier_run_does_not_start_another_run_after_this_one() -> None:
    fake = FakeKube()
    reconciler = Scripted((Do("error"), Do("ok")))
    async with Running(fake, reconciler, min_retry_delay=0.05, max_retry_delay=0.05) as running:
        await fake.create(example())
        assert await running.finished.get() == "error"  # retry scheduled in 0.05 s
        assert await reconciler.started.get() == 1
        key = (NAMESPACE, "ex")
        assert running.controller.queue.is_scheduled(key)
        reconciler.gate = asyncio.Event()
        running.controller.enqueue(key)  # woken before the retry is due: this run replaces the retry
        assert await reconciler.started.get() == 2
        assert not running.controller.queue.is_scheduled(key)
        await asyncio.sleep(0.2)  # well past the old retry's deadline, while run 2 is still in flight
        assert not running.controller.queue.is_queued(key)
        reconciler.gate.set()
        assert await running.finished.get() == "success"
        await running.idle()
        assert reconciler.runs == 2
        assert running.controller.queue.is_scheduled(key)  # the interval, and nothing sooner
