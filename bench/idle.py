"""Idle: what N Kustomizations cost when nothing changes - CPU per minute, apiserver requests per minute.

N pairs (the scale scenario's shape) at `interval: 1m` on both the GitRepositories and the
Kustomizations, the controllers as processes. Once all are Ready (plus a few seconds to settle), a
window of `--minutes` with no change anywhere: CPU seconds per minute of each controller process and of
kube-apiserver (and as a share of one core), apiserver requests per minute (`apiserver_request_total`,
all clients), the reconciles the controllers ran in it, and the work the no-op path must not do - no
kustomize build, no artifact fetch, no Git fetch, no apply (each must be 0).

    .venv/bin/python bench/idle.py --count 1000 [--minutes 10] [--profile DIR] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    KS_API,
    Controllers,
    Fleet,
    Sampler,
    Usage,
    apiserver_process,
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
class IdleFigures:
    count: int
    interval: str
    ready_count: int = 0
    window_seconds: float = 0.0
    usage: Usage = field(default_factory=Usage)
    server_fetches: int = 0
    rss_mib: dict[str, float] = field(default_factory=dict)
    profile: str = ""

    def per_minute(self, value: float) -> float:
        return value * 60.0 / self.window_seconds if self.window_seconds else 0.0

    def core_share(self, process: str) -> float:
        return self.usage.cpu.get(process, 0.0) / self.window_seconds if self.window_seconds else 0.0


async def measure(kube: KubeClient, info: ClusterInfo, count: int, workdir: Path, *, minutes: float,
                  interval: str = "1m", apiserver: psutil.Process | None = None, prefix: str = "bench-idle",
                  settle: float = 5.0, cleanup: bool = True, profile_dir: Path | None = None,
                  timeout: float = 1800.0) -> IdleFigures:
    await prepare(kube)
    fleet = Fleet(count, prefix, stamp())
    figures = IdleFigures(count, interval)
    await fleet.create_namespace(kube)
    with RepoBuilder(workdir / "repos") as repos, GitHttpServer(repos.root) as server:
        fleet.repositories(repos)
        controllers = Controllers(info.kubeconfig, workdir, apiserver, label_selector=fleet.selector,
                                  profile_dir=profile_dir)
        async with controllers, watching(kube, KS_API, "Kustomization", fleet.namespace, fleet.selector) as ks:
            await fleet.create_pairs(kube, server, interval)
            figures.ready_count = await wait_all(ks, fleet.namespace, count, is_ready, timeout)
            await asyncio.sleep(settle)
            await controllers.start_profiles()  # with --profile: the window only
            with Sampler(controllers.processes()) as sampler:
                before, fetches0 = await controllers.snapshot(kube), fleet.server_fetches(server)
                started = time.monotonic()
                await asyncio.sleep(minutes * 60)
                figures.usage = await controllers.since(kube, before)
                figures.window_seconds = time.monotonic() - started
                figures.server_fetches = fleet.server_fetches(server) - fetches0
                figures.rss_mib = {n: sampler.peak_mib(n) for n in PROCESSES}
            await controllers.stop_profiles()
            if cleanup:
                await fleet.delete(kube)
    figures.profile = profile_report(controllers.all)
    return figures


def rows(f: IdleFigures) -> list[tuple[str, str]]:
    u = f.usage
    requests = sum(u.requests.values())
    return [
        ("Kustomizations (each with its own GitRepository), all at `interval`",
         f"{f.count} at {f.interval} ({f.ready_count}/{f.count} Ready before the window)"),
        ("idle window", f"{f.window_seconds / 60:.1f} min"),
        ("reconciles in it: source / kustomize",
         f"{u.counters.get('source_reconciles', 0):.0f} / {u.counters.get('kustomize_reconciles', 0):.0f}"),
        ("**CPU per minute**: source / kustomize controller / kube-apiserver",
         " / ".join(f"**{f.per_minute(u.cpu.get(n, 0)):.2f} s**" for n in PROCESSES)),
        ("  as a share of one core", " / ".join(f"{f.core_share(n):.1%}" for n in PROCESSES)),
        ("  kustomize controller's children (`kubectl`) per minute",
         f"{f.per_minute(u.children_cpu.get('kustomize', 0)):.2f} s"),
        ("**apiserver requests per minute** (all clients)", f"**{f.per_minute(requests):.0f}**"),
        ("  by verb, per minute", fmt_requests({k: round(f.per_minute(v)) for k, v in u.requests.items()})),
        ("builds / artifact fetches / Git fetches (server, controller) / applies in it (must be 0)",
         f"{u.counters.get('builds', 0):.0f} / {u.counters.get('artifact_fetches', 0):.0f} / "
         f"{f.server_fetches}, {u.counters.get('git_fetches', 0):.0f} / {u.counters.get('applies', 0):.0f}"),
        ("peak RSS in it: source / kustomize controller / kube-apiserver",
         " / ".join(f"{f.rss_mib.get(n, 0):.0f} MiB" for n in PROCESSES)),
    ]


def table(f: IdleFigures) -> str:
    return markdown_table(rows(f))


async def run(args: argparse.Namespace) -> IdleFigures:
    load_before = load_average()
    async with control_plane("bench-idle", args.cluster) as (info, kube):
        server_version = (await kube.version()).get("gitVersion", "?")
        with tempfile.TemporaryDirectory(prefix="hw-bench-idle-") as tmp:
            figures = await measure(kube, info, args.count, Path(tmp), minutes=args.minutes,
                                    apiserver=apiserver_process(info), cleanup=bool(args.cluster),
                                    profile_dir=args.profile)
    print(table(figures))
    if figures.profile:
        print("\n" + figures.profile)
    if args.record and not args.profile:
        record(f"Idle: {figures.count} Kustomizations at interval 1m, {args.minutes:g} minutes without change",
               table(figures), server_version=server_version,
               load=f"1-minute load average {load_before:.1f} before, {load_average():.1f} after",
               notes="Controllers as two processes with default flags; the window starts 5 s after all are Ready.")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--cluster", help="use this running dev cluster instead of starting one")
    parser.add_argument("--profile", metavar="DIR", type=lambda p: Path(p).resolve(),
                        help="run the controllers under py-spy, profiles into DIR (such runs are not recorded)")
    parser.add_argument("--record", action="store_true", help="append the result to docs/benchmarks.md")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
