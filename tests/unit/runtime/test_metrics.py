"""Unit tests for headwater.runtime.metrics (Flux metric names, exposition, HTTP apps)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry, generate_latest

from headwater.runtime import metrics as m
from headwater.runtime.backoff import ExponentialBackoff
from headwater.runtime.workqueue import WorkQueue

pytestmark = pytest.mark.unit


@pytest.fixture
def fm() -> m.FluxMetrics:
    return m.FluxMetrics(CollectorRegistry(), process_metrics=False)


def exposition(fm: m.FluxMetrics) -> str:
    return generate_latest(fm.registry).decode()


def value(fm: m.FluxMetrics, name: str, labels: dict[str, str]) -> float | None:
    return fm.registry.get_sample_value(name, labels)


OBJ = {"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}


def test_exposition_contains_flux_names_after_recording(fm: m.FluxMetrics) -> None:
    fm.init_controller("kustomization", 4)
    fm.record_reconcile_duration("Kustomization", "apps", "flux-system", 1.2)
    fm.record_condition("Kustomization", "apps", "flux-system", "Ready", "True")
    fm.record_suspend("Kustomization", "apps", "flux-system", False)
    fm.record_resource_info(
        group="kustomize.toolkit.fluxcd.io",
        kind="Kustomization",
        version="v1",
        name="apps",
        namespace="flux-system",
        ready="True",
        suspended=False,
        revision="main@sha1:abc",
        source_name="flux-system",
    )
    fm.record_reconcile("kustomization", "success", 0.3)
    fm.record_reconcile("kustomization", "error", 0.1)
    fm.record_panic("kustomization")
    fm.set_active_workers("kustomization", 2)
    fm.record_rest_request(200, "get", "10.0.0.1:6443")
    fm.set_leader("kustomize-controller-leader-election", True)
    q = fm.queue_metrics("kustomization")
    q.on_add()
    q.on_depth(3)
    q.on_get(0.01)
    q.on_done(0.2)
    q.on_retry()
    q.update_in_flight(1.5, 1.0)
    text = exposition(fm)
    for name in [
        "gotk_reconcile_duration_seconds_bucket",
        "gotk_reconcile_duration_seconds_sum",
        "gotk_reconcile_duration_seconds_count",
        "gotk_reconcile_condition",
        "gotk_suspend_status",
        "gotk_resource_info",
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_errors_total",
        "controller_runtime_terminal_reconcile_errors_total",
        "controller_runtime_reconcile_panics_total",
        "controller_runtime_reconcile_time_seconds_bucket",
        "controller_runtime_max_concurrent_reconciles",
        "controller_runtime_active_workers",
        "workqueue_depth",
        "workqueue_adds_total",
        "workqueue_retries_total",
        "workqueue_queue_duration_seconds_bucket",
        "workqueue_work_duration_seconds_bucket",
        "workqueue_unfinished_work_seconds",
        "workqueue_longest_running_processor_seconds",
        "rest_client_requests_total",
        "leader_election_master_status",
    ]:
        assert f"\n{name}{{" in text or f"\n{name} " in text, name
    assert "_created" not in text, "Go clients do not export *_created series"


@pytest.mark.parametrize(
    ("metric", "labels"),
    [
        ("gotk_reconcile_duration_seconds_count", ["kind", "name", "namespace"]),
        ("gotk_reconcile_condition", ["kind", "name", "namespace", "type", "status"]),
        ("gotk_suspend_status", ["kind", "name", "namespace"]),
        ("controller_runtime_reconcile_total", ["controller", "result"]),
        ("controller_runtime_reconcile_errors_total", ["controller"]),
        ("workqueue_depth", ["name", "controller"]),
        ("workqueue_adds_total", ["name", "controller"]),
        ("workqueue_retries_total", ["name", "controller"]),
    ],
)
def test_label_names(fm: m.FluxMetrics, metric: str, labels: list[str]) -> None:
    fm.init_controller("c", 1)
    fm.record_reconcile_duration("K", "n", "ns", 1)
    fm.record_condition("K", "n", "ns", "Ready", "True")
    fm.record_suspend("K", "n", "ns", True)
    fm.record_reconcile("c", "error")
    qm = fm.queue_metrics("c")
    qm.on_add()
    qm.on_retry()
    qm.on_depth(1)
    found = False
    for family in fm.registry.collect():
        for sample in family.samples:
            if sample.name == metric:
                assert sorted(sample.labels) == sorted(labels)
                found = True
    assert found, metric


def test_reconcile_duration_buckets_10ms_to_1800s(fm: m.FluxMetrics) -> None:
    fm.record_reconcile_duration(**OBJ, seconds=0.5)
    les = [
        s.labels["le"]
        for family in fm.registry.collect()
        for s in family.samples
        if s.name == "gotk_reconcile_duration_seconds_bucket"
    ]
    assert les[0] == "0.01"
    assert float(les[-2]) == pytest.approx(1800)
    assert les[-1] == "+Inf"
    assert len(les) == 11


def test_bucket_helpers() -> None:
    assert m.exponential_buckets(1, 10, 3) == [1, 10, 100]
    buckets = m.exponential_buckets_range(0.01, 1800, 10)
    assert buckets[0] == pytest.approx(0.01)
    assert buckets[-1] == pytest.approx(1800)
    ratios = {round(b / a, 9) for a, b in itertools.pairwise(buckets)}
    assert len(ratios) == 1
    with pytest.raises(ValueError, match="start"):
        m.exponential_buckets(0, 2, 3)
    with pytest.raises(ValueError, match="low"):
        m.exponential_buckets_range(5, 1, 3)


@pytest.mark.parametrize(
    ("status", "deleted", "ones"),
    [
        ("True", False, "True"),
        ("False", False, "False"),
        ("Unknown", False, "Unknown"),
        ("True", True, "Deleted"),
    ],
)
def test_record_condition_is_one_hot(fm: m.FluxMetrics, status: str, deleted: bool, ones: str) -> None:
    fm.record_condition(**OBJ, cond_type="Ready", status=status, deleted=deleted)
    for candidate in ("True", "False", "Unknown", "Deleted"):
        sample = value(fm, "gotk_reconcile_condition", {**OBJ, "type": "Ready", "status": candidate})
        assert sample == (1.0 if candidate == ones else 0.0)


def test_record_reconcile_results(fm: m.FluxMetrics) -> None:
    fm.init_controller("gitrepository", 2)
    assert (
        value(fm, "controller_runtime_reconcile_total", {"controller": "gitrepository", "result": "error"})
        == 0
    )
    assert value(fm, "controller_runtime_max_concurrent_reconciles", {"controller": "gitrepository"}) == 2
    fm.record_reconcile("gitrepository", "success", 0.2)
    fm.record_reconcile("gitrepository", "requeue_after", 0.2)
    fm.record_reconcile("gitrepository", "error", 0.2)
    fm.record_reconcile("gitrepository", "error", terminal=True)
    labels = {"controller": "gitrepository"}
    assert value(fm, "controller_runtime_reconcile_total", {**labels, "result": "success"}) == 1
    assert value(fm, "controller_runtime_reconcile_total", {**labels, "result": "requeue_after"}) == 1
    assert value(fm, "controller_runtime_reconcile_total", {**labels, "result": "error"}) == 2
    assert value(fm, "controller_runtime_reconcile_errors_total", labels) == 2
    assert value(fm, "controller_runtime_terminal_reconcile_errors_total", labels) == 1
    assert value(fm, "controller_runtime_reconcile_time_seconds_count", labels) == 3
    with pytest.raises(ValueError, match="invalid reconcile result"):
        fm.record_reconcile("gitrepository", "weird")


def test_resource_info_replaces_series_and_forget(fm: m.FluxMetrics) -> None:
    common: dict[str, Any] = {
        "group": "source.toolkit.fluxcd.io",
        "kind": "GitRepository",
        "version": "v1",
        "name": "podinfo",
        "namespace": "default",
        "suspended": False,
    }
    fm.record_resource_info(**common, ready="Unknown")
    fm.record_resource_info(**common, ready="True", revision="main@sha1:1")
    series = [
        s.labels for family in fm.registry.collect() for s in family.samples if s.name == "gotk_resource_info"
    ]
    assert len(series) == 1
    assert series[0]["ready"] == "True"
    assert series[0]["exported_namespace"] == "default"
    assert series[0]["suspended"] == "false"
    fm.record_suspend("GitRepository", "podinfo", "default", True)
    fm.forget_object("GitRepository", "podinfo", "default")
    fm.forget_object("GitRepository", "podinfo", "default")  # idempotent
    text = exposition(fm)
    assert 'name="podinfo"' not in text


async def test_workqueue_records_through_queue_metrics(fm: m.FluxMetrics) -> None:
    q: WorkQueue[str] = WorkQueue(
        "helmrelease", metrics=fm.queue_metrics("helmrelease"), rate_limiter=ExponentialBackoff(0.001, 0.001)
    )
    labels = {"name": "helmrelease", "controller": "helmrelease"}
    q.add("a")
    q.add("a")
    q.add("b")
    assert value(fm, "workqueue_adds_total", labels) == 2
    assert value(fm, "workqueue_depth", labels) == 2
    key = await q.get()
    assert value(fm, "workqueue_depth", labels) == 1
    q.done(key)
    assert value(fm, "workqueue_work_duration_seconds_count", labels) == 1
    assert value(fm, "workqueue_queue_duration_seconds_count", labels) == 1
    q.add_rate_limited("c")
    assert value(fm, "workqueue_retries_total", labels) == 1
    q.shutdown()
    assert value(fm, "workqueue_depth", labels) == 0


def test_default_registry_and_module_functions() -> None:
    m.record_reconcile_duration("Bucket", "b", "ns", 0.1)
    m.record_condition("Bucket", "b", "ns", "Ready", "False")
    m.record_suspend("Bucket", "b", "ns", True)
    m.record_reconcile("bucket", "success", 0.1)
    text = generate_latest(m.REGISTRY).decode()
    assert 'gotk_reconcile_duration_seconds_count{kind="Bucket",name="b",namespace="ns"}' in text
    assert 'gotk_suspend_status{kind="Bucket",name="b",namespace="ns"} 1.0' in text
    assert 'controller_runtime_reconcile_total{controller="bucket",result="success"}' in text
    assert m.DEFAULT.registry is m.REGISTRY


# --------------------------------------------------------------------------- HTTP apps


async def call(app: web.Application, path: str, headers: dict[str, str] | None = None) -> web.Response:
    request = make_mocked_request("GET", path, headers=headers or {}, app=app)
    match = await app.router.resolve(request)
    assert match.http_exception is None, path
    response = await match.handler(request)
    assert isinstance(response, web.Response)
    return response


async def test_metrics_app_serves_registry(fm: m.FluxMetrics) -> None:
    fm.record_reconcile("kustomization", "success", 0.1)
    app = m.make_metrics_app(fm.registry)
    response = await call(app, "/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert isinstance(response.body, bytes)
    assert b"controller_runtime_reconcile_total" in response.body
    openmetrics = await call(app, "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.content_type == "application/openmetrics-text"
    assert isinstance(openmetrics.body, bytes)
    assert openmetrics.body.endswith(b"# EOF\n")


async def test_metrics_app_unknown_path_is_404() -> None:
    app = m.make_metrics_app(CollectorRegistry())
    request = make_mocked_request("GET", "/nope", app=app)
    match = await app.router.resolve(request)
    assert match.http_exception is not None
    assert match.http_exception.status == 404


async def test_health_app_defaults_to_ok() -> None:
    app = m.make_health_app()
    for path in ("/healthz", "/readyz"):
        response = await call(app, path)
        assert response.status == 200
        assert response.text == "ok"


async def test_health_app_readiness_callback() -> None:
    state = {"ready": False}

    async def informers_synced() -> bool:
        await asyncio.sleep(0)
        return state["ready"]

    def broken() -> bool:
        raise RuntimeError("cache not started")

    app = m.make_health_app(readiness=informers_synced, liveness={"ping2": lambda: True})
    not_ready = await call(app, "/readyz")
    assert not_ready.status == 500
    assert "[-]check failed" in (not_ready.text or "")
    assert (await call(app, "/healthz")).status == 200
    state["ready"] = True
    assert (await call(app, "/readyz")).status == 200
    verbose = await call(app, "/readyz?verbose=1")
    assert "[+]check ok" in (verbose.text or "")

    failing = m.make_health_app(readiness={"cache": broken})
    response = await call(failing, "/readyz")
    assert response.status == 500
    assert "RuntimeError: cache not started" in (response.text or "")
