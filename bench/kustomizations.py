"""Scale: N Kustomizations, each with its own GitRepository, to Ready; an unchanged re-reconcile; the limit.

The shape of the public flux-benchmark: every pair is a GitRepository (a repository of its own on one
`git http-backend` server) and a Kustomization applying a Deployment (replicas 0), a ServiceAccount, a
Service and a ConfigMap into a namespace of its own via `targetNamespace`. The controllers run as
production does, `headwater controller source` and `headwater controller kustomize` as two processes,
each with its upstream default `--concurrent` (2 and 4) unless `--concurrent` is given.

Timed from the first write (each pair's target namespace, GitRepository and Kustomization, 16 pairs at
a time) to all Kustomizations Ready: wall time; peak RSS and CPU seconds of each controller process and
of kube-apiserver (sampled every 100 ms); the kustomize controller's children (`kubectl kustomize`)
apart; kustomize builds, artifact fetches and applies (the controllers' /metrics); Git fetches (the
server's count and the source controller's); apiserver requests by verb (`apiserver_request_total`, all
clients). Then `requestedAt` on every Kustomization with nothing changed: time until all are handled,
and builds, fetches and applies in it (all must be 0). Then, with the controllers stopped, the same
writes by a bare server-side-apply loop on the same control plane (bench/limit.py): headwater's time to
Ready as a multiple of it.

    .venv/bin/python bench/kustomizations.py --count 100 [--concurrent 4] [--profile DIR] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import limit
from harness import (
    KS_API,
    REQUESTED_AT,
    SRC_API,
    Controllers,
    Fleet,
    Sampler,
    Usage,
    apiserver_process,
    bounded,
    control_plane,
    fmt_requests,
    is_ready,
    load_average,
    markdown_table,
    prepare,
    profile_report,
    record,
    stamp,
    wait_all,
    watching,
)
from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime.kube import KubeClient

PROCESSES = ("source", "kustomize", "apiserver")


@dataclass
class Figures:
    count: int
    concurrent: str
    ready_seconds: float = 0.0
    ready_count: int = 0
    sources_ready_seconds: float = 0.0
    usage: Usage = field(default_factory=Usage)
    rss_mib: dict[str, float] = field(default_factory=dict)
    children_rss_mib: dict[str, float] = field(default_factory=dict)
    server_fetches: int = 0
    refresh_seconds: float = 0.0
    handled_count: int = 0
    refresh: Usage = field(default_factory=Usage)
    refresh_server_fetches: int = 0
    limit: limit.LimitFigures | None = None
    profile: str = ""


async def measure(kube: KubeClient, info: ClusterInfo, count: int, workdir: Path, *, concurrent: int | None = None,
                  apiserver: psutil.Process | None = None, prefix: str = "bench-ks", cleanup: bool = True,
                  limit_concurrencies: tuple[int, ...] = (8, 32, 64), profile_dir: Path | None = None,
                  timeout: float = 1800.0) -> Figures:
    """Run the scenario once on the running control plane `info`."""
    await prepare(kube)
    fleet = Fleet(count, prefix, stamp())
    figures = Figures(count, f"{concurrent} / {concurrent}" if concurrent else "2 / 4 (defaults)")
    await fleet.create_namespace(kube)
    with RepoBuilder(workdir / "repos") as repos, GitHttpServer(repos.root) as server:
        fleet.repositories(repos)
        controllers = Controllers(info.kubeconfig, workdir, apiserver, label_selector=fleet.selector,
                                  concurrent=concurrent, profile_dir=profile_dir)
        async with controllers, \
                watching(kube, KS_API, "Kustomization", fleet.namespace, fleet.selector) as kustomizations, \
                watching(kube, SRC_API, "GitRepository", fleet.namespace, fleet.selector) as sources:
            await controllers.start_profiles()  # with --profile: the timed run and the unchanged pass
            with Sampler(controllers.processes()) as sampler:
                before = await controllers.snapshot(kube)
                started = time.monotonic()

                async def sources_ready_at() -> float:
                    await wait_all(sources, fleet.namespace, count, is_ready, timeout)
                    return time.monotonic()

                sources_ready = asyncio.create_task(sources_ready_at())
                await fleet.create_pairs(kube, server, "1h")
                figures.ready_count = await wait_all(kustomizations, fleet.namespace, count, is_ready, timeout)
                figures.ready_seconds = time.monotonic() - started
                figures.sources_ready_seconds = await sources_ready - started
                figures.usage = await controllers.since(kube, before)
                figures.server_fetches = fleet.server_fetches(server)
                figures.rss_mib = {n: sampler.peak_mib(n) for n in PROCESSES}
                figures.children_rss_mib = {n: sampler.children_peak.get(n, 0) / 2**20 for n in PROCESSES}

            # unchanged re-reconcile of all
            await asyncio.sleep(1)
            token = datetime.now(UTC).isoformat()
            before, fetches0 = await controllers.snapshot(kube), fleet.server_fetches(server)
            started = time.monotonic()
            patch = {"metadata": {"annotations": {REQUESTED_AT: token}}}
            await bounded([lambda n=n: kube.patch(KS_API, "Kustomization", n, patch,  # type: ignore[misc]
                                                  namespace=fleet.namespace) for n in fleet.names], 16)
            figures.handled_count = await wait_all(
                kustomizations, fleet.namespace, count,
                lambda o: (o.get("status") or {}).get("lastHandledReconcileAt") == token, timeout)
            figures.refresh_seconds = time.monotonic() - started
            figures.refresh = await controllers.since(kube, before)
            figures.refresh_server_fetches = fleet.server_fetches(server) - fetches0
            await controllers.stop_profiles()
            if cleanup:  # with the controllers still running, so the finalizers are removed
                await fleet.delete(kube)
    figures.profile = profile_report(controllers.all)
    if limit_concurrencies:  # the controllers are stopped: the control plane is the loop's alone
        figures.limit = await limit.measure(kube, count, limit_concurrencies, cleanup=cleanup)
    return figures


def rows(f: Figures) -> list[tuple[str, str]]:
    u, r = f.usage, f.refresh
    out = [
        ("Kustomizations (each with its own GitRepository)", f"{f.count}"),
        ("--concurrent (source / kustomize)", f.concurrent),
        ("**all Ready** (from the first write)", f"**{f.ready_seconds:.1f} s** ({f.ready_count}/{f.count} Ready)"),
        ("all GitRepositories Ready (from the first write)", f"{f.sources_ready_seconds:.1f} s"),
        ("peak RSS: source / kustomize controller / kube-apiserver",
         " / ".join(f"{f.rss_mib.get(n, 0):.0f} MiB" for n in PROCESSES)),
        ("CPU: source / kustomize controller / kube-apiserver",
         " / ".join(f"{u.cpu.get(n, 0):.1f} s" for n in PROCESSES)),
        ("kustomize controller's children (`kubectl kustomize`): CPU, peak RSS together",
         f"{u.children_cpu.get('kustomize', 0):.1f} s, {f.children_rss_mib.get('kustomize', 0):.0f} MiB"),
        ("source controller's children: CPU", f"{u.children_cpu.get('source', 0):.1f} s"),
        ("kustomize builds run", f"{u.counters.get('builds', 0):.0f}"),
        ("artifact fetches (kustomize controller)", f"{u.counters.get('artifact_fetches', 0):.0f}"),
        ("Git fetches (server's count / source controller's)",
         f"{f.server_fetches} / {u.counters.get('git_fetches', 0):.0f}"),
        ("applies sent (not dry-run)", f"{u.counters.get('applies', 0):.0f}"),
        ("apiserver requests (all clients)", fmt_requests(u.requests)),
        ("**unchanged re-reconcile of all** (requestedAt → all handled)",
         f"**{f.refresh_seconds:.1f} s** ({f.handled_count}/{f.count} handled)"),
        ("  CPU in it: source / kustomize / apiserver", " / ".join(f"{r.cpu.get(n, 0):.1f} s" for n in PROCESSES)),
        ("  builds / artifact fetches / Git fetches (server) / applies in it",
         f"{r.counters.get('builds', 0):.0f} / {r.counters.get('artifact_fetches', 0):.0f} / "
         f"{f.refresh_server_fetches} / {r.counters.get('applies', 0):.0f}"),
        ("  apiserver requests in it", fmt_requests(r.requests)),
    ]
    if f.limit is not None and f.limit.seconds:
        out += limit.rows(f.limit)
        ratio = f.ready_seconds / f.limit.best[1]
        out.append(("**headwater ÷ limit** (all Ready ÷ best bare loop)", f"**{ratio:.1f} times**"))
    return out


def table(f: Figures) -> str:
    return markdown_table(rows(f))


async def run(args: argparse.Namespace) -> Figures:
    """The scenario on its own control plane (or `args.cluster`); prints, and records if asked."""
    load_before = load_average()
    async with control_plane("bench-ks", args.cluster) as (info, kube):
        server_version = (await kube.version()).get("gitVersion", "?")
        with tempfile.TemporaryDirectory(prefix="hw-bench-ks-") as tmp:
            figures = await measure(kube, info, args.count, Path(tmp), concurrent=args.concurrent,
                                    apiserver=apiserver_process(info), cleanup=bool(args.cluster),
                                    limit_concurrencies=tuple(int(c) for c in args.limit_concurrency.split(",") if c),
                                    profile_dir=args.profile)
    print(table(figures))
    if figures.profile:
        print("\n" + figures.profile)
    if args.record and not args.profile:
        record(f"Scale: {figures.count} Kustomizations, each with its own GitRepository", table(figures),
               server_version=server_version, load=f"1-minute load average {load_before:.1f} before, "
                                                   f"{load_average():.1f} after",
               notes="Controllers as two processes (`headwater controller source|kustomize`); the limit ran "
                     "after them on the same control plane with the controllers stopped.")
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrent", type=int, help="for both controllers (default: source 2, kustomize 4)")
    parser.add_argument("--limit-concurrency", default="8,32,64", help="bare-loop concurrencies to try ('' for none)")
    parser.add_argument("--cluster", help="use this running dev cluster instead of starting one")
    parser.add_argument("--profile", metavar="DIR", type=lambda p: Path(p).resolve(),
                        help="run the controllers under py-spy, profiles into DIR (such runs are not recorded)")
    parser.add_argument("--record", action="store_true", help="append the result to docs/benchmarks.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
