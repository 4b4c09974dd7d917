"""Wait until what a Kustomization applied is healthy (`wait: true` or `healthChecks`), or say why not.

The objects are polled (GET each, bounded concurrency) and judged by kstatus rules
(`headwater.apply.health`), with the Kustomization's `healthCheckExprs` first when it has them. The wait
ends as soon as everything is Current, as soon as anything has Failed (fail-fast, as Flux), or at the
timeout; the failure message is Flux's (`timeout waiting for: [...]`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from headwater.api.duration import format_seconds
from headwater.api.kinds import kind_named
from headwater.api.models.kustomize import Kustomization
from headwater.apply.health import (
    NOT_FOUND,
    CustomStatusReader,
    Status,
    aggregate,
    compute_status,
    format_object_id,
    is_job_with_ttl,
    wait_failure_message,
)
from headwater.runtime.kube import KubeClient, NotFound
from headwater.runtime.kube.client import UnknownKind

POLL_INTERVAL = 1.0


@dataclass(frozen=True)
class Target:
    api_version: str
    kind: str
    name: str
    namespace: str

    @property
    def key(self) -> str:
        return format_object_id(self.kind, self.namespace or None, self.name)


class HealthCheckFailed(Exception):
    reason = "HealthCheckFailed"


def targets_for(ks: Kustomization, applied: list[dict[str, Any]]) -> list[Target]:
    """`wait: true` → every applied object; else the `healthChecks` references. Never the Kustomization
    itself (it would wait for its own Ready: a deadlock)."""
    spec = ks.spec
    if spec.wait:
        found = [Target(o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace") or "")
                 for o in applied]
    else:
        found = [Target(ref.api_version or _default_api(ref.kind), ref.kind, ref.name, ref.namespace or "")
                 for ref in spec.health_checks]
    return [t for t in found if not (t.kind == "Kustomization" and t.name == ks.name and t.namespace == ks.namespace)]


#: Workload kinds a health check may name without an apiVersion (Flux's CLI writes none for them).
_WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


def _default_api(kind: str) -> str:
    """The apiVersion of a health check without one: a Flux kind's from the registry, apps/v1, else v1."""
    if kind in _WORKLOADS:
        return "apps/v1"
    try:
        return kind_named(kind).api_version
    except KeyError:
        return "v1"


async def wait_healthy(
    kube: KubeClient,
    targets: list[Target],
    timeout: float,
    *,
    custom: CustomStatusReader | None = None,
    poll: float = POLL_INTERVAL,
    concurrency: int = 8,
) -> float:
    """Return the seconds it took; raise `HealthCheckFailed` with Flux's message otherwise."""
    started = time.monotonic()
    slots = asyncio.Semaphore(concurrency)

    async def read(target: Target) -> tuple[Target, Status, bool]:
        async with slots:
            try:
                obj = await kube.get(target.api_version, target.kind, target.name, target.namespace or None)
            except (NotFound, UnknownKind):
                return target, Status(NOT_FOUND, "Resource not found"), False
            return target, compute_status(obj, custom=custom), is_job_with_ttl(obj)

    while True:
        results = await asyncio.gather(*(read(t) for t in targets))
        statuses = {t.key: status for t, status, _ in results}
        ttl_jobs = [t.key for t, _, ttl in results if ttl]
        state = aggregate(statuses, jobs_with_ttl=ttl_jobs)
        elapsed = time.monotonic() - started
        timed_out = elapsed >= timeout
        if state.done() or timed_out:
            message = wait_failure_message(statuses, timed_out=timed_out and not state.all_current,
                                           jobs_with_ttl=ttl_jobs)
            if message is None:
                return elapsed
            raise HealthCheckFailed(f"health check failed after {format_seconds(elapsed)}: {message}")
        await asyncio.sleep(min(poll, max(0.05, timeout - elapsed)))
