"""N GitRepositories against one local Git server: time to Ready, and what an unchanged re-reconcile costs.

Each GitRepository has a repository of its own on one `git http-backend` server. The source controller
runs in this process with its defaults except `--concurrent`. Measured: wall time from creating the
objects to all Ready, Git fetches (upload-pack requests that ask for objects, counted by the server),
then a reconcile of every object requested at once (the `requestedAt` protocol) with nothing changed
upstream: time until all are handled and fetches made (must be 0), and peak RSS of this process.

    .venv/bin/python bench/gitrepositories.py --count 100 [--concurrent 4] [--cluster NAME] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from headwater.api.crdgen import crd_paths  # noqa: E402
from headwater.devcluster.cluster import Cluster  # noqa: E402
from headwater.devcluster.gitrepos import RepoBuilder  # noqa: E402
from headwater.devcluster.gitserver_http import GitHttpServer  # noqa: E402
from headwater.devcluster.ports import PortAllocator  # noqa: E402
from headwater.runtime.kube import KubeClient, connect  # noqa: E402
from headwater.runtime.kube.crds import install_crds, load_manifests  # noqa: E402
from headwater.runtime.manager import Manager  # noqa: E402
from headwater.runtime.options import ControllerOptions  # noqa: E402
from headwater.source.spec import SPEC, SourceFlags  # noqa: E402

API = "source.toolkit.fluxcd.io/v1"


@dataclass
class Figures:
    count: int
    concurrent: int
    ready_seconds: float
    fetches_initial: int
    refresh_seconds: float
    fetches_refresh: int
    ref_listings_refresh: int
    rss_peak_mib: float


async def wait_all(kube: KubeClient, namespace: str, count: int, check: Any) -> None:
    while True:
        items = (await kube.list(API, "GitRepository", namespace))["items"]
        if len(items) == count and all(check(o) for o in items):
            return
        await asyncio.sleep(0.2)


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def measure(kube: KubeClient, count: int, concurrent: int, workdir: Path) -> Figures:
    await install_crds(kube, load_manifests(crd_paths()))
    namespace = f"bench-git-{int(time.time())}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    with RepoBuilder(workdir / "repos") as repos, GitHttpServer(repos.root) as server:
        names = [f"app-{i:04d}.git" for i in range(count)]
        for name in names:
            repos.create(name, {"deploy/app.yaml": f"kind: ConfigMap\nmetadata:\n  name: {name}\n"})
        port = PortAllocator().allocate()
        storage = workdir / "storage"
        flags = SourceFlags(storage_path=str(storage), storage_addr=f"127.0.0.1:{port}",
                            storage_adv_addr=f"127.0.0.1:{port}")
        options = ControllerOptions(concurrent=concurrent, metrics_addr="0", health_addr="0")
        manager = Manager("source-controller", kube, options)
        await SPEC.install(manager, options, flags)
        stop = asyncio.Event()
        task = asyncio.create_task(manager.run(stop))
        me, peak = psutil.Process(), 0
        try:
            started = time.monotonic()
            for index, name in enumerate(names):
                await kube.create({"apiVersion": API, "kind": "GitRepository",
                                   "metadata": {"name": f"app-{index:04d}", "namespace": namespace},
                                   "spec": {"url": server.url(name), "interval": "1h", "ref": {"branch": "main"}}})
            await wait_all(kube, namespace, count, is_ready)
            ready_seconds = time.monotonic() - started
            peak = max(peak, me.memory_info().rss)
            fetches = sum(server.stats[n]["upload-pack"] for n in names)
            listings_before = sum(server.stats[n]["info/refs"] + server.stats[n]["ls-refs"] for n in names)

            token = datetime.now(UTC).isoformat()
            started = time.monotonic()
            for index in range(count):
                await kube.patch(API, "GitRepository", f"app-{index:04d}",
                                 {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}},
                                 namespace=namespace)
            await wait_all(kube, namespace, count,
                           lambda o: (o.get("status") or {}).get("lastHandledReconcileAt") == token)
            refresh_seconds = time.monotonic() - started
            peak = max(peak, me.memory_info().rss)
            refetches = sum(server.stats[n]["upload-pack"] for n in names) - fetches
            listings = sum(server.stats[n]["info/refs"] + server.stats[n]["ls-refs"] for n in names) - listings_before
        finally:
            stop.set()
            await task
            await kube.delete("v1", "Namespace", namespace)
    return Figures(count, concurrent, ready_seconds, fetches, refresh_seconds, refetches, listings, peak / 2**20)


HEADER = ("| GitRepositories | --concurrent | all Ready | fetches | unchanged re-reconcile of all | fetches in it "
          "| ref listings in it | peak RSS (controller process) |\n|---|---|---|---|---|---|---|---|")


def row(f: Figures) -> str:
    return (f"| {f.count} | {f.concurrent} | {f.ready_seconds:.1f} s | {f.fetches_initial} | "
            f"{f.refresh_seconds:.1f} s | {f.fetches_refresh} | {f.ref_listings_refresh} | {f.rss_peak_mib:.0f} MiB |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=2, help="source-controller's default is 2")
    parser.add_argument("--cluster", help="use this running dev cluster instead of starting one")
    parser.add_argument("--record", action="store_true", help="append the result to docs/benchmarks.md")
    args = parser.parse_args()
    cluster = Cluster(args.cluster or "bench-git")
    info = cluster.info() if args.cluster else await asyncio.to_thread(cluster.up, print)
    if info is None:
        raise SystemExit(f"cluster {args.cluster} is not running")
    try:
        with tempfile.TemporaryDirectory(prefix="hw-bench-git-") as tmp:
            async with connect(info.kubeconfig) as kube:
                figures = await measure(kube, args.count, args.concurrent, Path(tmp))
    finally:
        if not args.cluster:
            await asyncio.to_thread(cluster.down, print)
    print(HEADER)
    print(row(figures))
    if args.record:
        machine = f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB"
        with (ROOT / "docs" / "benchmarks.md").open("a") as handle:
            handle.write(f"\n## GitRepositories against one Git server ({datetime.now(UTC):%Y-%m-%d})\n\n"
                         f"Machine: {machine}. Command: `python bench/gitrepositories.py {' '.join(sys.argv[1:])}`.\n"
                         "Fetches are counted by the Git server (upload-pack requests asking for objects).\n\n"
                         f"{HEADER}\n{row(figures)}\n")


if __name__ == "__main__":
    asyncio.run(main())
