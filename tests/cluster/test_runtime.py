"""The controller runtime against the real apiserver, driven by the example reconciler."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from aiohttp import web

from headwater.runtime import conditions as cond
from headwater.runtime.controller import FINALIZER
from headwater.runtime.kube import KubeClient
from headwater.runtime.options import ControllerOptions
from tests.cluster.example_reconciler import API_VERSION, KIND, RunningController, example
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster




def fast_options(**overrides: Any) -> ControllerOptions:
    base: dict[str, Any] = {"concurrent": 4, "min_retry_delay": 0.2, "max_retry_delay": 5.0}
    return ControllerOptions(**(base | overrides))


async def get_example(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    return await kube.get(API_VERSION, KIND, name, namespace)


def ready(obj: dict[str, Any]) -> dict[str, Any] | None:
    return cond.get((obj.get("status") or {}).get("conditions") or [], cond.READY_CONDITION)


@pytest.mark.usefixtures("example_crd")
async def test_create_change_and_request_each_reconcile_once(kube: KubeClient, namespace: str) -> None:
    async with RunningController(kube, namespace, fast_options()) as running:
        rec = running.reconciler
        key = (namespace, "one")
        await kube.create(example("one", namespace, interval="10m", message="hello"))

        async def ready_true() -> dict[str, Any] | None:
            obj = await get_example(kube, namespace, "one")
            return obj if (ready(obj) or {}).get("status") == "True" else None

        obj = await wait_for(ready_true, "Example one to be Ready", timeout=10)
        assert obj["status"]["observedGeneration"] == 1
        assert obj["status"]["message"] == "hello"
        assert FINALIZER in obj["metadata"]["finalizers"]
        assert ready(obj)["reason"] == cond.RECONCILIATION_SUCCEEDED_REASON  # type: ignore[index]
        await asyncio.sleep(0.5)  # our own status and finalizer writes must not wake it again
        assert len(rec.calls_for(key)) == 1

        changed_at = time.monotonic()
        await kube.patch(API_VERSION, KIND, "one", {"spec": {"message": "changed"}}, namespace=namespace)
        await wait_for(lambda: _calls(rec, key, 2), "a second reconcile after the spec change", timeout=5)
        assert rec.calls_for(key)[1].started - changed_at < 1.0
        assert rec.calls_for(key)[1].generation == 2
        obj = await wait_for(lambda: _status_field(kube, namespace, "one", "observedGeneration", 2),
                             "observedGeneration 2", timeout=5)
        assert obj["status"]["message"] == "changed"

        token = "2026-11-24T10:00:00.000000000Z"
        annotation = {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}
        await kube.patch(API_VERSION, KIND, "one", annotation, namespace=namespace)
        await wait_for(lambda: _calls(rec, key, 3), "a reconcile for the requestedAt token", timeout=5)
        obj = await wait_for(lambda: _status_field(kube, namespace, "one", "lastHandledReconcileAt", token),
                             "lastHandledReconcileAt to equal the token", timeout=5)
        assert obj["metadata"]["generation"] == 2  # annotations do not bump the generation
        await asyncio.sleep(0.3)
        assert len(rec.calls_for(key)) == 3
        assert rec.overlaps == []


async def _calls(rec: Any, key: tuple[str, str], count: int) -> bool:
    return len(rec.calls_for(key)) >= count


async def _status_field(kube: KubeClient, namespace: str, name: str, field: str, value: Any) -> dict[str, Any] | None:
    obj = await get_example(kube, namespace, name)
    return obj if (obj.get("status") or {}).get(field) == value else None


@pytest.mark.usefixtures("example_crd")
async def test_interval_requeue_within_jitter_and_suspend_resume(kube: KubeClient, namespace: str) -> None:
    interval, jitter = 1.0, 5
    async with RunningController(kube, namespace, fast_options(interval_jitter_percentage=jitter)) as running:
        rec = running.reconciler
        key = (namespace, "ticker")
        await kube.create(example("ticker", namespace, interval="1s"))
        await wait_for(lambda: _calls(rec, key, 4), "4 interval reconciles", timeout=10)
        calls = rec.calls_for(key)
        gaps = [b.started - a.ended for a, b in itertools.pairwise(calls[1:])]
        low, high = interval * (1 - jitter / 100), interval * (1 + jitter / 100)
        for gap in gaps:  # the first gap includes the finalizer write; later ones are pure requeues
            assert low - 0.02 <= gap <= high + 0.15, f"gap {gap:.3f}s outside the jitter window [{low}, {high}]"

        await kube.patch(API_VERSION, KIND, "ticker", {"spec": {"suspend": True}}, namespace=namespace)
        await asyncio.sleep(0.3)  # the suspend change itself is handled (and recorded as suspended)
        count = len(rec.calls_for(key))
        await asyncio.sleep(2.5 * interval)
        assert len(rec.calls_for(key)) == count, "a suspended object must not be reconciled"

        token = "while-suspended"
        await kube.patch(API_VERSION, KIND, "ticker",
                         {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}, namespace=namespace)
        await asyncio.sleep(0.5)
        obj = await get_example(kube, namespace, "ticker")
        assert obj["status"].get("lastHandledReconcileAt") != token, "not recorded while suspended"

        await kube.patch(API_VERSION, KIND, "ticker", {"spec": {"suspend": False}}, namespace=namespace)
        await wait_for(lambda: _calls(rec, key, count + 2), "reconciles to resume on the interval", timeout=5)
        await wait_for(lambda: _status_field(kube, namespace, "ticker", "lastHandledReconcileAt", token),
                       "the requestedAt token to be recorded after resume", timeout=5)


@pytest.mark.usefixtures("example_crd")
async def test_failures_back_off_exponentially_then_recover(kube: KubeClient, namespace: str) -> None:
    async with RunningController(kube, namespace, fast_options(min_retry_delay=0.2)) as running:
        rec = running.reconciler
        key = (namespace, "flaky")
        await kube.create(example("flaky", namespace, interval="10m", failures=4))

        async def failing() -> dict[str, Any] | None:
            obj = await get_example(kube, namespace, "flaky")
            return obj if (ready(obj) or {}).get("status") == "False" else None

        obj = await wait_for(failing, "Ready=False after the first failure", timeout=5)
        conds = obj["status"]["conditions"]
        assert cond.get_reason(conds, cond.READY_CONDITION) == "ExampleFailed"
        assert cond.get_message(conds, cond.READY_CONDITION).startswith("deliberate failure")
        assert cond.get_reason(conds, cond.RECONCILING_CONDITION) == cond.PROGRESSING_WITH_RETRY_REASON
        assert not cond.has(conds, cond.STALLED_CONDITION)

        await wait_for(lambda: _calls(rec, key, 5), "4 failures and a success", timeout=10)
        calls = rec.calls_for(key)
        delays = [b.started - a.ended for a, b in itertools.pairwise(calls)]
        for attempt, (measured, expected) in enumerate(zip(delays, (0.2, 0.4, 0.8, 1.6), strict=True), 1):
            assert expected - 0.02 <= measured <= expected + 0.25, f"retry {attempt}: {measured:.3f}s, want {expected}s"

        async def recovered() -> dict[str, Any] | None:
            obj = await get_example(kube, namespace, "flaky")
            return obj if (ready(obj) or {}).get("status") == "True" else None

        obj = await wait_for(recovered, "recovery to Ready=True", timeout=5)
        conds = obj["status"]["conditions"]
        assert not cond.has(conds, cond.RECONCILING_CONDITION)
        assert cond.get_reason(conds, cond.READY_CONDITION) == cond.RECONCILIATION_SUCCEEDED_REASON
        events = (await kube.list("v1", "Event", namespace,
                                  field_selector="involvedObject.name=flaky,type=Warning"))["items"]
        assert {e["reason"] for e in events} == {"ExampleFailed"}
        assert all(e["source"]["component"] == "example-controller" for e in events)


@pytest.mark.usefixtures("example_crd")
async def test_terminal_error_stalls_without_retry_until_the_spec_changes(kube: KubeClient, namespace: str) -> None:
    async with RunningController(kube, namespace, fast_options()) as running:
        rec = running.reconciler
        key = (namespace, "stuck")
        await kube.create(example("stuck", namespace, interval="1s", terminal=True))

        async def stalled() -> dict[str, Any] | None:
            obj = await get_example(kube, namespace, "stuck")
            return obj if cond.is_true(obj.get("status", {}).get("conditions", []), cond.STALLED_CONDITION) else None

        obj = await wait_for(stalled, "Stalled=True", timeout=5)
        conds = obj["status"]["conditions"]
        assert cond.get_reason(conds, cond.STALLED_CONDITION) == "InvalidSpec"
        assert cond.is_false(conds, cond.READY_CONDITION)
        assert not cond.has(conds, cond.RECONCILING_CONDITION)
        assert obj["status"]["observedGeneration"] == 1
        await asyncio.sleep(1.5)
        assert len(rec.calls_for(key)) == 1, "a stalled object must not be retried"

        await kube.patch(API_VERSION, KIND, "stuck", {"spec": {"terminal": False}}, namespace=namespace)
        await wait_for(lambda: _status_field(kube, namespace, "stuck", "observedGeneration", 2),
                       "a reconcile of the new generation", timeout=5)
        obj = await get_example(kube, namespace, "stuck")
        assert (ready(obj) or {}).get("status") == "True"
        assert not cond.has(obj["status"]["conditions"], cond.STALLED_CONDITION)


@pytest.mark.usefixtures("example_crd")
async def test_deletion_runs_finalize_then_removes_the_finalizer(kube: KubeClient, namespace: str) -> None:
    async with RunningController(kube, namespace, fast_options()) as running:
        await kube.create(example("doomed", namespace, interval="10m"))
        await wait_for(lambda: _status_field(kube, namespace, "doomed", "observedGeneration", 1), "Ready", timeout=5)
        await kube.delete(API_VERSION, KIND, "doomed", namespace)

        async def gone() -> bool:
            return await kube.get_or_none(API_VERSION, KIND, "doomed", namespace) is None

        await wait_for(gone, "the Example to be deleted", timeout=5)
        assert running.reconciler.finalized == [(namespace, "doomed")]


@pytest.mark.usefixtures("example_crd")
async def test_failure_events_reach_kubernetes_and_the_events_address(kube: KubeClient, namespace: str) -> None:
    received: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        options = fast_options(events_addr=f"http://{host}:{port}/")
        async with RunningController(kube, namespace, options):
            await kube.create(example("noisy", namespace, interval="10m", terminal=True))
            await wait_for(lambda: _received(received), "the event payload at --events-addr", timeout=10)
    finally:
        await runner.cleanup()
    payload = received[0]
    assert payload["involvedObject"] == {"kind": KIND, "namespace": namespace, "name": "noisy",
                                         "uid": payload["involvedObject"]["uid"], "apiVersion": API_VERSION,
                                         "resourceVersion": payload["involvedObject"]["resourceVersion"]}
    assert (payload["severity"], payload["reason"]) == ("error", "InvalidSpec")
    assert payload["message"] == "terminal is set: this cannot succeed"
    assert payload["reportingController"] == "example-controller"
    core = (await kube.list("v1", "Event", namespace, field_selector="involvedObject.name=noisy"))["items"]
    assert [(e["type"], e["reason"]) for e in core] == [("Warning", "InvalidSpec")]


async def _received(received: list[dict[str, Any]]) -> bool:
    return bool(received)
