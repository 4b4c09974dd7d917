"""Prometheus metrics with the Flux controllers' names and labels, and the HTTP endpoints.

Dashboards and alerts written for Flux (the flux2-monitoring-example Grafana boards, the
``gotk_*`` alert rules) query fixed metric names: ``gotk_reconcile_duration_seconds``,
``controller_runtime_reconcile_total``, ``workqueue_depth`` ... For headwater to be a drop-in
these must exist with the same names, types and labels. They live on a dedicated
:class:`~prometheus_client.CollectorRegistry` (:data:`REGISTRY`, the only global state in the
runtime package) served at ``/metrics`` on ``--metrics-addr``; ``/healthz`` and ``/readyz`` are
served on ``--health-addr``.

:class:`FluxMetrics` owns the collectors; tests create their own instance on a fresh registry.
The module-level record functions use the default instance.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

__all__ = [
    "DEFAULT",
    "REGISTRY",
    "FluxMetrics",
    "PrometheusQueueMetrics",
    "exponential_buckets",
    "exponential_buckets_range",
    "make_health_app",
    "make_metrics_app",
    "record_condition",
    "record_reconcile",
    "record_reconcile_duration",
    "record_suspend",
]

# Go's client does not export ``*_created`` series; neither do we (a process-wide library switch).
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Result label values of ``controller_runtime_reconcile_total``.
RESULT_SUCCESS: Final = "success"
RESULT_ERROR: Final = "error"
RESULT_REQUEUE: Final = "requeue"
RESULT_REQUEUE_AFTER: Final = "requeue_after"
_RESULTS: Final = (RESULT_SUCCESS, RESULT_ERROR, RESULT_REQUEUE, RESULT_REQUEUE_AFTER)

#: Status label values of ``gotk_reconcile_condition`` (``Deleted`` when the object is gone).
CONDITION_DELETED: Final = "Deleted"
_CONDITION_STATUSES: Final = ("True", "False", "Unknown", CONDITION_DELETED)


def exponential_buckets(start: float, factor: float, count: int) -> list[float]:
    """``start * factor**i`` for i in range(count) (Prometheus ExponentialBuckets)."""
    if start <= 0 or factor <= 1 or count < 1:
        raise ValueError("need start > 0, factor > 1 and count >= 1")
    return [start * factor**i for i in range(count)]


def exponential_buckets_range(low: float, high: float, count: int) -> list[float]:
    """``count`` buckets growing exponentially from ``low`` to ``high`` (ExponentialBucketsRange)."""
    if low <= 0 or high <= low or count < 2:
        raise ValueError("need 0 < low < high and count >= 2")
    factor = (high / low) ** (1.0 / (count - 1))
    return [low * factor**i for i in range(count)]


# controller-runtime's reconcile_time_seconds buckets
_RECONCILE_TIME_BUCKETS: Final = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
]  # fmt: skip

_RESOURCE_INFO_LABELS: Final = (
    "customresource_group",
    "customresource_kind",
    "customresource_version",
    "exported_namespace",
    "name",
    "ready",
    "suspended",
    "revision",
    "source_name",
)


class FluxMetrics:
    """All collectors a headwater controller exports, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry, *, process_metrics: bool = True) -> None:
        self.registry = registry
        obj_labels = ["kind", "name", "namespace"]
        # ---- gotk_* (fluxcd/pkg/runtime/metrics)
        self.reconcile_duration = Histogram(
            "gotk_reconcile_duration_seconds",
            "The duration in seconds of a GitOps Toolkit resource reconciliation.",
            obj_labels,
            buckets=exponential_buckets_range(10e-3, 1800, 10),
            registry=registry,
        )
        self.reconcile_condition = Gauge(
            "gotk_reconcile_condition",
            "The current condition status of a GitOps Toolkit resource reconciliation.",
            [*obj_labels, "type", "status"],
            registry=registry,
        )
        self.suspend_status = Gauge(
            "gotk_suspend_status",
            "The current suspend status of a GitOps Toolkit resource.",
            obj_labels,
            registry=registry,
        )
        self.resource_info = Gauge(
            "gotk_resource_info",
            "The current state of a Flux resource (kube-state-metrics compatible labels).",
            list(_RESOURCE_INFO_LABELS),
            registry=registry,
        )
        self._resource_info_series: dict[tuple[str, str, str], tuple[str, ...]] = {}
        # ---- controller-runtime
        self.reconcile_total = Counter(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            ["controller"],
            registry=registry,
        )
        self.terminal_reconcile_errors = Counter(
            "controller_runtime_terminal_reconcile_errors",
            "Total number of terminal reconciliation errors per controller",
            ["controller"],
            registry=registry,
        )
        self.reconcile_panics = Counter(
            "controller_runtime_reconcile_panics",
            "Total number of reconciliation panics per controller",
            ["controller"],
            registry=registry,
        )
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            buckets=_RECONCILE_TIME_BUCKETS,
            registry=registry,
        )
        self.max_concurrent_reconciles = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            ["controller"],
            registry=registry,
        )
        self.active_workers = Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            ["controller"],
            registry=registry,
        )
        # ---- workqueue (client-go names, labelled like controller-runtime)
        wq_labels = ["name", "controller"]
        self.workqueue_depth = Gauge(
            "workqueue_depth", "Current depth of workqueue", wq_labels, registry=registry
        )
        self.workqueue_adds = Counter(
            "workqueue_adds", "Total number of adds handled by workqueue", wq_labels, registry=registry
        )
        self.workqueue_queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            wq_labels,
            buckets=exponential_buckets(10e-9, 10, 12),
            registry=registry,
        )
        self.workqueue_work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            wq_labels,
            buckets=exponential_buckets(10e-9, 10, 12),
            registry=registry,
        )
        self.workqueue_unfinished_work = Gauge(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by "
            "work_duration. Large values indicate stuck threads.",
            wq_labels,
            registry=registry,
        )
        self.workqueue_longest_running_processor = Gauge(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            wq_labels,
            registry=registry,
        )
        self.workqueue_retries = Counter(
            "workqueue_retries", "Total number of retries handled by workqueue", wq_labels, registry=registry
        )
        # ---- client / leader election
        self.rest_client_requests = Counter(
            "rest_client_requests",
            "Number of HTTP requests, partitioned by status code, method, and host.",
            ["code", "method", "host"],
            registry=registry,
        )
        self.leader_election_master_status = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, "
            "1 indicates master. 'name' is the string used to identify the lease.",
            ["name"],
            registry=registry,
        )
        if process_metrics:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)

    # ------------------------------------------------------------------ gotk_*

    def record_reconcile_duration(self, kind: str, name: str, namespace: str, seconds: float) -> None:
        self.reconcile_duration.labels(kind, name, namespace).observe(max(0.0, seconds))

    def record_condition(
        self, kind: str, name: str, namespace: str, cond_type: str, status: str, *, deleted: bool = False
    ) -> None:
        """Set the series of ``cond_type`` to 1 for ``status`` (or Deleted) and 0 for the others."""
        current = CONDITION_DELETED if deleted else status
        for candidate in _CONDITION_STATUSES:
            value = 1.0 if candidate == current else 0.0
            self.reconcile_condition.labels(kind, name, namespace, cond_type, candidate).set(value)

    def record_suspend(self, kind: str, name: str, namespace: str, suspended: bool) -> None:
        self.suspend_status.labels(kind, name, namespace).set(1.0 if suspended else 0.0)

    def record_resource_info(
        self,
        *,
        group: str,
        kind: str,
        version: str,
        name: str,
        namespace: str,
        ready: str,
        suspended: bool,
        revision: str = "",
        source_name: str = "",
    ) -> None:
        """Export the object's state as ``gotk_resource_info`` (one series per object)."""
        labels = (group, kind, version, namespace, name, ready, str(suspended).lower(), revision, source_name)
        key = (kind, namespace, name)
        previous = self._resource_info_series.get(key)
        if previous is not None and previous != labels:
            self.resource_info.remove(*previous)
        self._resource_info_series[key] = labels
        self.resource_info.labels(*labels).set(1.0)

    def forget_object(self, kind: str, name: str, namespace: str) -> None:
        """Drop the per-object series of a deleted object (except the duration histogram)."""
        previous = self._resource_info_series.pop((kind, namespace, name), None)
        if previous is not None:
            self.resource_info.remove(*previous)
        with contextlib.suppress(KeyError):
            self.suspend_status.remove(kind, name, namespace)

    # ------------------------------------------------------------------ controller-runtime

    def record_reconcile(
        self,
        controller: str,
        result: str,
        seconds: float | None = None,
        *,
        error: bool = False,
        terminal: bool = False,
    ) -> None:
        """Count one reconcile (``result``: success, error, requeue or requeue_after)."""
        if result not in _RESULTS:
            raise ValueError(f"invalid reconcile result {result!r}")
        self.reconcile_total.labels(controller, result).inc()
        if error or result == RESULT_ERROR:
            self.reconcile_errors.labels(controller).inc()
        if terminal:
            self.terminal_reconcile_errors.labels(controller).inc()
        if seconds is not None:
            self.reconcile_time.labels(controller).observe(max(0.0, seconds))

    def record_panic(self, controller: str) -> None:
        self.reconcile_panics.labels(controller).inc()

    def init_controller(self, controller: str, max_concurrent: int) -> None:
        """Create the controller's series with zero values, as controller-runtime does."""
        self.max_concurrent_reconciles.labels(controller).set(max_concurrent)
        self.active_workers.labels(controller).set(0)
        for result in _RESULTS:
            self.reconcile_total.labels(controller, result).inc(0)
        self.reconcile_errors.labels(controller).inc(0)
        self.terminal_reconcile_errors.labels(controller).inc(0)
        self.reconcile_panics.labels(controller).inc(0)

    def set_active_workers(self, controller: str, count: int) -> None:
        self.active_workers.labels(controller).set(count)

    def queue_metrics(self, controller: str) -> PrometheusQueueMetrics:
        """Hooks for ``WorkQueue(metrics=...)`` recording the ``workqueue_*`` series."""
        return PrometheusQueueMetrics(self, controller)

    # ------------------------------------------------------------------ client / leader

    def record_rest_request(self, code: int | str, method: str, host: str) -> None:
        self.rest_client_requests.labels(str(code), method.upper(), host).inc()

    def set_leader(self, lease: str, leading: bool) -> None:
        self.leader_election_master_status.labels(lease).set(1.0 if leading else 0.0)


class PrometheusQueueMetrics:
    """Implements ``workqueue.QueueMetrics`` on top of :class:`FluxMetrics`."""

    def __init__(self, metrics: FluxMetrics, controller: str) -> None:
        labels = (controller, controller)
        self._depth = metrics.workqueue_depth.labels(*labels)
        self._adds = metrics.workqueue_adds.labels(*labels)
        self._latency = metrics.workqueue_queue_duration.labels(*labels)
        self._work = metrics.workqueue_work_duration.labels(*labels)
        self._retries = metrics.workqueue_retries.labels(*labels)
        self._unfinished = metrics.workqueue_unfinished_work.labels(*labels)
        self._longest = metrics.workqueue_longest_running_processor.labels(*labels)

    def on_add(self) -> None:
        self._adds.inc()

    def on_depth(self, depth: int) -> None:
        self._depth.set(depth)

    def on_get(self, waited: float) -> None:
        self._latency.observe(waited)

    def on_done(self, worked: float) -> None:
        self._work.observe(worked)

    def on_retry(self) -> None:
        self._retries.inc()

    def update_in_flight(self, total: float, longest: float) -> None:
        """Feed ``WorkQueue.in_flight_seconds()`` periodically (client-go does it every 500ms)."""
        self._unfinished.set(total)
        self._longest.set(longest)


#: The registry served at ``/metrics``.
REGISTRY: Final = CollectorRegistry(auto_describe=True)
#: The default collectors, registered on :data:`REGISTRY`.
DEFAULT: Final = FluxMetrics(REGISTRY)


def record_reconcile_duration(kind: str, name: str, namespace: str, seconds: float) -> None:
    DEFAULT.record_reconcile_duration(kind, name, namespace, seconds)


def record_condition(
    kind: str, name: str, namespace: str, cond_type: str, status: str, *, deleted: bool = False
) -> None:
    DEFAULT.record_condition(kind, name, namespace, cond_type, status, deleted=deleted)


def record_suspend(kind: str, name: str, namespace: str, suspended: bool) -> None:
    DEFAULT.record_suspend(kind, name, namespace, suspended)


def record_reconcile(
    controller: str, result: str, seconds: float | None = None, *, error: bool = False, terminal: bool = False
) -> None:
    DEFAULT.record_reconcile(controller, result, seconds, error=error, terminal=terminal)


# --------------------------------------------------------------------------- HTTP apps

Check = Callable[[], bool | Awaitable[bool]]


def make_metrics_app(registry: CollectorRegistry = REGISTRY) -> web.Application:
    """An aiohttp app serving ``GET /metrics`` (text format, or OpenMetrics if accepted)."""

    async def metrics_handler(request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    return app


async def _run_check(check: Check) -> tuple[bool, str]:
    try:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return bool(outcome), ""
    except Exception as exc:  # a failing check must produce 500, not crash the server
        return False, f"{type(exc).__name__}: {exc}"


def make_health_app(
    *,
    readiness: Mapping[str, Check] | Check | None = None,
    liveness: Mapping[str, Check] | Check | None = None,
) -> web.Application:
    """An aiohttp app with ``/healthz`` and ``/readyz`` (controller-runtime style).

    Each endpoint runs its checks (a callable or a name -> callable mapping; sync or async,
    returning True when healthy). All passing: 200 ``ok``. Otherwise 500 listing the failed
    checks. With no checks, the endpoint always answers ``ok`` (the ``ping`` check).
    """

    def normalise(checks: Mapping[str, Check] | Check | None) -> dict[str, Check]:
        if checks is None:
            return {}
        if callable(checks):
            return {"check": checks}
        return dict(checks)

    def endpoint(checks: dict[str, Check]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            lines: list[str] = ["[+]ping ok"]
            failed = False
            for name, check in checks.items():
                ok, detail = await _run_check(check)
                if ok:
                    lines.append(f"[+]{name} ok")
                else:
                    failed = True
                    lines.append(f"[-]{name} failed" + (f": {detail}" if detail else ""))
            if failed:
                return web.Response(status=500, text="\n".join(lines) + "\nhealthz check failed\n")
            if "verbose" in request.query:
                return web.Response(text="\n".join(lines) + "\nhealthz check passed\n")
            return web.Response(text="ok")

        return handler

    app = web.Application()
    app.router.add_get("/healthz", endpoint(normalise(liveness)))
    app.router.add_get("/readyz", endpoint(normalise(readiness)))
    return app
