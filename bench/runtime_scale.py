"""How fast the controller runtime syncs and reconciles N objects, and how much memory it needs.

Measures the runtime alone (informer + work queue + controller loop + status writes) with the example
reconciler, whose reconcile does no work of its own: what remains is the runtime's cost and the
apiserver's. Objects are created first (not timed as part of the run); then, from a cold start, the
informer lists them and the controller reconciles each one to Ready (a finalizer patch and a status
patch per object, as real controllers do).

    .venv/bin/python bench/runtime_scale.py --objects 1000 [--concurrent 4] [--cluster NAME] [--record]

Without --cluster it starts (and stops) a local control plane of its own. --record appends the row to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.example_reconciler import EXAMPLE_CRD, ExampleReconciler, example  # noqa: E402

from headwater.devcluster.cluster import Cluster  # noqa: E402
from headwater.devcluster.versions import KUBERNETES  # noqa: E402
from headwater.runtime.controller import Controller  # noqa: E402
from headwater.runtime.informer import Informer, run_until_synced, stop  # noqa: E402
from headwater.runtime.kube import KubeClient, connect  # noqa: E402
from headwater.runtime.kube.crds import install_crds  # noqa: E402
from headwater.runtime.options import ControllerOptions  # noqa: E402


@dataclass
class Figures:
    objects: int
    concurrent: int
    create_seconds: float
    sync_seconds: float
    reconcile_seconds: float
    cpu_seconds: float
    rss_before_mib: float
    rss_peak_mib: float
    status_writes: int


async def create_all(kube: KubeClient, namespace: str, count: int, concurrency: int = 32) -> float:
    started = time.monotonic()
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with slots:
            await kube.create(example(f"obj-{index:05d}", namespace, interval="1h", message="hello"))

    await asyncio.gather(*(one(i) for i in range(count)))
    return time.monotonic() - started


async def measure(kube: KubeClient, namespace: str, count: int, concurrent: int) -> Figures:
    await install_crds(kube, [EXAMPLE_CRD])
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    create_seconds = await create_all(kube, namespace, count)

    me = psutil.Process()
    rss_before = me.memory_info().rss
    peak = rss_before
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, me.memory_info().rss)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    cpu_before = time.process_time()
    started = time.monotonic()

    informer = Informer(kube, EXAMPLE_CRD["spec"]["group"] + "/v1", "Example", namespace=namespace)
    options = ControllerOptions(concurrent=concurrent)
    controller = Controller("example-controller", kube, ExampleReconciler(), informer, options=options)
    done = asyncio.Event()
    finished: set[tuple[str, str]] = set()

    def on_reconciled(key: tuple[str, str], outcome: str) -> None:
        if outcome == "success":
            finished.add(key)
            if len(finished) == count:
                done.set()

    controller.on_reconciled = on_reconciled
    task = await run_until_synced(informer)
    synced = time.monotonic()
    await controller.start()
    await done.wait()
    ended = time.monotonic()
    cpu = time.process_time() - cpu_before
    sampling = False
    await sampler
    await controller.stop()
    await stop(task)
    await kube.delete("v1", "Namespace", namespace)
    return Figures(
        objects=count, concurrent=concurrent, create_seconds=create_seconds,
        sync_seconds=synced - started, reconcile_seconds=ended - synced, cpu_seconds=cpu,
        rss_before_mib=rss_before / 2**20, rss_peak_mib=peak / 2**20, status_writes=controller.status_writes,
    )


def table(f: Figures) -> str:
    return (
        f"| {f.objects} | {f.concurrent} | {f.sync_seconds:.2f} s | {f.reconcile_seconds:.2f} s | "
        f"{f.sync_seconds + f.reconcile_seconds:.2f} s | {f.cpu_seconds:.2f} s | {f.rss_before_mib:.0f} MiB | "
        f"{f.rss_peak_mib:.0f} MiB | {f.status_writes} | {f.create_seconds:.2f} s |"
    )


HEADER = (
    "| objects | --concurrent | initial list (sync) | reconcile all to Ready | total | CPU (controller process) "
    "| RSS before | peak RSS | status writes | (creating them, not part of the run) |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def record(rows: list[Figures], command: str) -> None:
    memory = psutil.virtual_memory().total / 2**30
    memory = psutil.virtual_memory().total / 2**30
    machine = f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"
    text = [
        "",
        f"## Controller runtime at scale ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"Machine: {machine}. Kubernetes {KUBERNETES} (local control plane). Command: `{command}`.",
        "Example reconciler (no work of its own): the runtime's cost plus the apiserver's.",
        "",
        HEADER,
        *(table(f) for f in rows),
        "",
    ]
    with (ROOT / "docs" / "benchmarks.md").open("a") as handle:
        handle.write("\n".join(text))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--concurrent", type=int, action="append", help="workers; repeat to compare")
    parser.add_argument("--cluster", help="use this running dev cluster instead of starting one")
    parser.add_argument("--record", action="store_true", help="append the results to docs/benchmarks.md")
    args = parser.parse_args()
    cluster = Cluster(args.cluster or "bench-runtime")
    info = cluster.info() if args.cluster else await asyncio.to_thread(cluster.up, lambda m: print(m))
    if info is None:
        raise SystemExit(f"cluster {args.cluster} is not running")
    rows = []
    try:
        async with connect(info.kubeconfig) as kube:
            for concurrent in args.concurrent or [4]:
                namespace = f"bench-{concurrent}-{int(time.time())}"
                rows.append(await measure(kube, namespace, args.objects, concurrent))
                print(HEADER if len(rows) == 1 else "", table(rows[-1]), sep="\n" if len(rows) == 1 else "")
    finally:
        if not args.cluster:
            await asyncio.to_thread(cluster.down, lambda m: print(m))
    if args.record:
        record(rows, "python bench/runtime_scale.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    asyncio.run(main())
