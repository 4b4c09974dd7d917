"""Latency: a commit pushed to Git → the last of its objects applied in the cluster, p50/p95/max.

One GitRepository and one Kustomization (the scale scenario's app: Deployment, ServiceAccount, Service,
ConfigMap), the controllers as processes. Each push commits a new marker (an annotation on every object,
and the ConfigMap's data) to the local Git server; the bench watches the four objects and takes the
time the last one carries the marker. Triggers:

- `annotation`: what `headwater reconcile kustomization --with-source` does - `requestedAt` on the
  GitRepository, wait until it handled that request (`settled`, the CLI's own predicate), then
  `requestedAt` on the Kustomization. Both objects at `interval: 1h`, so nothing else triggers them.
  The waits watch the objects (no polling period added), so this is the protocol's latency, not the CLI's.
- `interval`: nothing but `interval` (default 10s) on both objects; each push waits a random part of the
  interval first, so pushes land at every phase of the polling cycle.

    .venv/bin/python bench/latency.py [--pushes 50] [--trigger annotation,interval] [--interval 10s] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    APP_KINDS,
    KS_API,
    MARKER,
    REQUESTED_AT,
    SRC_API,
    Controllers,
    Fleet,
    app_files,
    control_plane,
    is_ready,
    load_average,
    markdown_table,
    percentile,
    prepare,
    record,
    stamp,
    wait_all,
    watching,
)
from headwater.api.duration import parse_duration
from headwater.cli.common import rfc3339nano
from headwater.cli.reconcile import settled
from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime.informer import Informer, WatchEvent, run_until_synced
from headwater.runtime.informer import stop as stop_informer
from headwater.runtime.kube import KubeClient


@dataclass
class LatencyFigures:
    trigger: str
    interval: str
    pushes: int
    samples: list[float] = field(default_factory=list)  # seconds, one per push that arrived

    @property
    def missed(self) -> int:
        return self.pushes - len(self.samples)

    def quantiles(self) -> tuple[float, float, float]:
        if not self.samples:
            return (0.0, 0.0, 0.0)
        return (percentile(self.samples, 50), percentile(self.samples, 95), max(self.samples))


class Arrivals:
    """When each watched object first carried each marker (monotonic clock of this process)."""

    def __init__(self) -> None:
        self.times: dict[str, dict[str, float]] = {}
        self.changed = asyncio.Event()

    def handler(self, kind: str) -> Callable[[WatchEvent], None]:
        def on_event(event: WatchEvent) -> None:
            marker = ((event.obj.get("metadata") or {}).get("annotations") or {}).get(MARKER)
            if marker:
                self.times.setdefault(marker, {}).setdefault(kind, time.monotonic())
                self.changed.set()

        return on_event

    async def all_carry(self, marker: str, timeout: float) -> float | None:
        """The time the last of the app's objects carried `marker`; None at the timeout."""
        deadline = time.monotonic() + timeout
        while len(self.times.get(marker, {})) < len(APP_KINDS):
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                return None
        return max(self.times[marker].values())


async def until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll a check on a local cache every 10 ms."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def request(kube: KubeClient, informer: Informer, api_version: str, kind: str, name: str, namespace: str,
                  timeout: float) -> bool:
    """Set `requestedAt` and wait until the controller settled that request (the CLI's protocol)."""
    token = rfc3339nano()
    await kube.patch(api_version, kind, name, {"metadata": {"annotations": {REQUESTED_AT: token}}},
                     namespace=namespace)
    return await until(lambda: any(settled(o, token) for o in informer.list(namespace)
                                   if o["metadata"]["name"] == name), timeout)


async def measure(kube: KubeClient, info: ClusterInfo, workdir: Path, *, pushes: int, trigger: str,
                  interval: str = "10s", prefix: str = "bench-lat") -> LatencyFigures:
    await prepare(kube)
    fleet = Fleet(1, prefix, stamp())
    name, target = fleet.names[0], fleet.targets[0]
    every = parse_duration(interval).seconds
    figures = LatencyFigures(trigger, interval if trigger == "interval" else "1h", pushes)
    await fleet.create_namespace(kube)
    arrivals = Arrivals()
    with RepoBuilder(workdir / "repos") as repos, GitHttpServer(repos.root) as server:
        fleet.repositories(repos)
        repo = repos.open(f"{name}.git")
        controllers = Controllers(info.kubeconfig, workdir, None, label_selector=fleet.selector)
        async with controllers, \
                watching(kube, KS_API, "Kustomization", fleet.namespace, fleet.selector) as kustomizations, \
                watching(kube, SRC_API, "GitRepository", fleet.namespace, fleet.selector) as sources:
            await fleet.create_pairs(kube, server, figures.interval)
            if await wait_all(kustomizations, fleet.namespace, 1, is_ready, 120) != 1:
                raise RuntimeError("the Kustomization did not become Ready")
            watchers = []
            for api_version, kind in APP_KINDS:
                informer = Informer(kube, api_version, kind, namespace=target)
                informer.add_handler(arrivals.handler(kind))
                watchers.append(await run_until_synced(informer))
            try:
                for k in range(pushes):
                    marker = f"push-{k}"
                    if trigger == "interval":
                        await asyncio.sleep(random.uniform(0, every))
                    await asyncio.to_thread(repo.commit, app_files(name, marker), f"bench push {k}")
                    pushed = time.monotonic()
                    if trigger == "annotation":
                        await request(kube, sources, SRC_API, "GitRepository", name, fleet.namespace, 60)
                        await request(kube, kustomizations, KS_API, "Kustomization", name, fleet.namespace, 60)
                    arrived = await arrivals.all_carry(marker, 3 * every + 30 if trigger == "interval" else 60)
                    if arrived is not None:
                        figures.samples.append(arrived - pushed)
            finally:
                for task in watchers:
                    await stop_informer(task)
            await fleet.delete(kube)
    return figures


def rows(figures: list[LatencyFigures]) -> list[tuple[str, str]]:
    out = []
    for f in figures:
        p50, p95, top = f.quantiles()
        what = ("`requestedAt` on GitRepository, then on Kustomization (`reconcile ks --with-source`)"
                if f.trigger == "annotation" else f"interval alone (`interval: {f.interval}`)")
        out.append((f"push → last object applied, {what}: p50 / p95 / max",
                    f"**{p50:.2f} s** / {p95:.2f} s / {top:.2f} s ({len(f.samples)}/{f.pushes} pushes arrived)"))
    return out


async def run(args: argparse.Namespace) -> list[LatencyFigures]:
    load_before = load_average()
    results = []
    async with control_plane("bench-latency", args.cluster) as (info, kube):
        server_version = (await kube.version()).get("gitVersion", "?")
        for trigger in args.trigger.split(","):
            with tempfile.TemporaryDirectory(prefix="hw-bench-lat-") as tmp:
                results.append(await measure(kube, info, Path(tmp), pushes=args.pushes, trigger=trigger,
                                             interval=args.interval))
    text = markdown_table(rows(results))
    print(text)
    if args.record:
        record(f"Latency: commit pushed → applied, {args.pushes} pushes", text, server_version=server_version,
               load=f"1-minute load average {load_before:.1f} before, {load_average():.1f} after",
               notes="One GitRepository + Kustomization; controllers as processes with default flags; the time "
                     "is until all four objects of the app carry the pushed commit's marker.")
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--trigger", default="annotation,interval", help="annotation, interval or both")
    parser.add_argument("--interval", default="10s", help="the objects' interval for the interval trigger")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--cluster", help="use this running dev cluster instead of starting one")
    parser.add_argument("--record", action="store_true", help="append the result to docs/benchmarks.md")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

