"""Benchmark of Kubernetes client candidates on a real local apiserver.

Why this exists: the Kubernetes client is the hottest path of every headwater controller (every reconcile
lists, watches and server-side-applies objects), and we chose to write a thin client of our own
(`headwater.runtime.kube`) rather than adopt an existing library. This script keeps that choice honest: it
measures our client against lightkube (async API, generic resources) and kubernetes_asyncio (the official
client's asyncio flavour, dynamic client) doing the same work against the same apiserver, so the figures in
docs/design/kube-client.md can be reproduced and re-checked after any change to the client.

Operations, each for `--objects` ConfigMaps with a few keys:

* `apply`: server-side apply (creating the objects) at each `--concurrency`, with a field manager and force;
* `apply-noop`: the same apply again, unchanged (the steady state of a reconcile loop);
* `list`: a paged list (500 per page) of the namespace, `--list-repeats` times (figures are per list);
* `watch`: a watch is started, then a separate writer process creates the objects; time until the watcher
  has received every ADDED event;
* `watch-initial`: a watch from resourceVersion "0" of a namespace already holding the objects (the
  initial burst an informer receives at start-up): the client's decoding throughput.

Every measurement runs in a fresh worker process (this script re-invoked with `--worker`), so the CPU time
(`time.process_time`) and the peak RSS (`VmHWM`, see `Memory`) belong to that one client and operation. Workers run
with the interpreter that runs this script; install the competitors next to headwater in a separate venv:

    python3 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install -e . lightkube==1.0.1 kubernetes-asyncio==36.1.0
    /tmp/benchvenv/bin/python bench/kube_client.py --objects 1000 --concurrency 32,1

With only the project venv, the competitors are reported as not installed and only `ours` runs. The script
starts its own cluster (`Cluster("bench-client")`) and always stops it; `--kubeconfig` uses a running one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

FIELD_MANAGER = "headwater-bench"
PAGE_SIZE = 500
PREFIX = "cm-"
WATCH_DEADLINE = 300.0
CLIENTS = ("ours", "lightkube", "kubernetes_asyncio")
SHORT = {"ours": "ours", "lightkube": "lk", "kubernetes_asyncio": "k8sa"}
MODULES = {"ours": "headwater.runtime.kube", "lightkube": "lightkube", "kubernetes_asyncio": "kubernetes_asyncio"}
DISTRIBUTIONS = ("aiohttp", "lightkube", "lightkube-models", "httpx2", "msgspec", "kubernetes-asyncio")

Event = tuple[str, str, str]  # (type, name, resourceVersion)


def configmap(namespace: str, index: int) -> dict[str, Any]:
    """A small ConfigMap, the same for every client."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{PREFIX}{index:05d}", "namespace": namespace, "labels": {"bench": "kube-client"}},
        "data": {"mode": "fast", "replicas": "3", "endpoint": f"http://svc-{index}.example:8080/path"},
    }


# -- the clients ---------------------------------------------------------------------------------------


class Adapter(Protocol):
    """What the benchmark asks of a client; every implementation does what a controller would do."""

    async def open(self, kubeconfig: Path) -> None: ...

    async def apply(self, obj: dict[str, Any]) -> str:
        """Server-side apply with our field manager and force; the applied object's resourceVersion."""
        ...

    async def list_all(self, namespace: str) -> tuple[list[str], str]:
        """Every object's name across pages, and the list's resourceVersion."""
        ...

    def watch(self, namespace: str, resource_version: str) -> AsyncGenerator[Event, None]: ...

    async def close(self) -> None: ...


class Ours:
    """headwater.runtime.kube: plain JSON dicts over one aiohttp session."""

    async def open(self, kubeconfig: Path) -> None:
        from headwater.runtime.kube import KubeClient, connect

        self.client: KubeClient = connect(kubeconfig)
        await self.client.resource("v1", "ConfigMap")  # discovery, as a controller does once at start

    async def apply(self, obj: dict[str, Any]) -> str:
        applied = await self.client.apply(obj, field_manager=FIELD_MANAGER, force=True)
        return str(applied["metadata"]["resourceVersion"])

    async def list_all(self, namespace: str) -> tuple[list[str], str]:
        items, rv = await self.client.list_all("v1", "ConfigMap", namespace, page_size=PAGE_SIZE)
        return [item["metadata"]["name"] for item in items], rv

    async def watch(self, namespace: str, resource_version: str) -> AsyncGenerator[Event, None]:
        events = self.client.watch("v1", "ConfigMap", namespace, resource_version=resource_version)
        async with contextlib.aclosing(events):  # type: ignore[type-var]  # an async generator, typed AsyncIterator
            async for event in events:
                meta = event["object"]["metadata"]
                yield event["type"], meta["name"], meta["resourceVersion"]

    async def close(self) -> None:
        await self.client.close()


class Lightkube:
    """lightkube's AsyncClient with a generic resource (no generated model for the kind)."""

    async def open(self, kubeconfig: Path) -> None:
        from lightkube import AsyncClient, KubeConfig
        from lightkube.generic_resource import create_namespaced_resource

        self.kind = create_namespaced_resource("", "v1", "ConfigMap", "configmaps")
        self.client = AsyncClient(KubeConfig.from_file(str(kubeconfig)), field_manager=FIELD_MANAGER)

    async def apply(self, obj: dict[str, Any]) -> str:
        applied = await self.client.apply(self.kind(obj), field_manager=FIELD_MANAGER, force=True)
        return str(applied["metadata"]["resourceVersion"])

    async def list_all(self, namespace: str) -> tuple[list[str], str]:
        listing = self.client.list(self.kind, namespace=namespace, chunk_size=PAGE_SIZE)
        names = [item["metadata"]["name"] async for item in listing]
        return names, listing.resourceVersion

    async def watch(self, namespace: str, resource_version: str) -> AsyncGenerator[Event, None]:
        events = self.client.watch(self.kind, namespace=namespace, resource_version=resource_version)
        async with contextlib.aclosing(events):
            async for kind, obj in events:
                meta = obj["metadata"]
                yield kind, meta["name"], meta["resourceVersion"]

    async def close(self) -> None:
        await self.client.close()


class KubernetesAsyncio:
    """kubernetes_asyncio's DynamicClient (discovery-driven, no codegen), as its users would call it."""

    async def open(self, kubeconfig: Path) -> None:
        from kubernetes_asyncio import client, config
        from kubernetes_asyncio.dynamic import DynamicClient

        configuration = client.Configuration()
        await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        self.api = client.ApiClient(configuration)
        self.dynamic = await DynamicClient(self.api)
        self.kind = await self.dynamic.resources.get(api_version="v1", kind="ConfigMap")

    async def apply(self, obj: dict[str, Any]) -> str:
        applied = await self.dynamic.server_side_apply(
            self.kind, body=obj, field_manager=FIELD_MANAGER, force_conflicts=True
        )
        return str(applied.metadata.resourceVersion)

    async def list_all(self, namespace: str) -> tuple[list[str], str]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = await self.dynamic.get(self.kind, namespace=namespace, limit=PAGE_SIZE, _continue=token)
            names.extend(item.metadata.name for item in page.items)
            token = page.metadata["continue"]
            if not token:
                return names, str(page.metadata.resourceVersion)

    async def watch(self, namespace: str, resource_version: str) -> AsyncGenerator[Event, None]:
        events = self.dynamic.watch(self.kind, namespace=namespace, resource_version=resource_version)
        async with contextlib.aclosing(events):
            async for event in events:
                meta = event["object"].metadata
                yield event["type"], meta.name, meta.resourceVersion

    async def close(self) -> None:
        await self.api.close()


ADAPTERS: dict[str, Callable[[], Adapter]] = {
    "ours": Ours,
    "lightkube": Lightkube,
    "kubernetes_asyncio": KubernetesAsyncio,
}


def installed(client: str) -> bool:
    try:
        return importlib.util.find_spec(MODULES[client]) is not None
    except ModuleNotFoundError:
        return False


# -- one measurement (worker process) ------------------------------------------------------------------


@dataclass
class Result:
    """One client doing one operation once, in its own process."""

    client: str
    op: str
    concurrency: int
    wall: float
    cpu: float
    rss_peak_mib: float  # the whole worker process: interpreter, imports, client, operation
    rss_growth_mib: float  # peak during the operation above the resident size just before it
    extra: dict[str, Any] = field(default_factory=dict)


def _proc_status_mib(key: str) -> float | None:
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    return None


class Memory:
    """Resident memory of this process around the measured block, from /proc/self/status (Linux).

    Not `ru_maxrss`: Linux carries a process's high-water mark over exec, so a worker forked from the
    orchestrator would report at least the orchestrator's peak. `VmHWM` belongs to the worker's own address
    space, and writing 5 to /proc/self/clear_refs resets it so the peak of the block alone can be read.
    """

    def __init__(self) -> None:
        self.start_peak = _proc_status_mib("VmHWM") or self._rusage_peak()
        self.base = _proc_status_mib("VmRSS") or self.start_peak
        with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")

    def block_peak(self) -> float:
        return _proc_status_mib("VmHWM") or self._rusage_peak()

    @staticmethod
    def _rusage_peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def apply_all(adapter: Adapter, objects: list[dict[str, Any]], concurrency: int) -> None:
    """Apply every object with at most `concurrency` requests in flight."""
    pending: Iterator[dict[str, Any]] = iter(objects)

    async def lane() -> None:
        for obj in pending:
            await adapter.apply(obj)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def count_events(adapter: Adapter, namespace: str, resource_version: str, expected: int) -> int:
    """Consume the watch until `expected` ADDED events for our objects arrived."""
    seen: set[str] = set()
    events = adapter.watch(namespace, resource_version)
    async with contextlib.aclosing(events):
        async for kind, name, _rv in events:
            if kind == "ADDED" and name.startswith(PREFIX):
                seen.add(name)
                if len(seen) >= expected:
                    break
    return len(seen)


@contextlib.contextmanager
def profiled(target: Path | None) -> Iterator[None]:
    """Profile the block into `target` (pyinstrument when installed, cProfile otherwise)."""
    if target is None:
        yield
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("pyinstrument") is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()
            target.with_suffix(".txt").write_text(profiler.output_text(unicode=True, show_all=False))
        return
    import cProfile
    import pstats

    with cProfile.Profile() as prof:
        yield
    with target.with_suffix(".txt").open("w") as out:
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(60)


class WriterProcess:
    """The watch test's separate writer: this script with `--writer`, creating objects when told "go"."""

    def __init__(self, process: asyncio.subprocess.Process, since: str) -> None:
        self.process = process
        self.since = since  # the namespace's resourceVersion before any write: the watch starts there

    @classmethod
    async def start(cls, args: argparse.Namespace) -> WriterProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--writer", "--kubeconfig", str(args.kubeconfig),
            "--namespace", args.namespace, "--objects", str(args.objects), "--concurrency", str(args.concurrency),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        ready = await cls._line(process)  # "ready <rv>": imported, connected, namespace listed
        return cls(process, ready.split()[1])

    async def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()

    async def finish(self) -> float:
        """The writer's own wall time."""
        seconds = float(await self._line(self.process))
        await self.process.wait()
        return seconds

    @staticmethod
    async def _line(process: asyncio.subprocess.Process) -> str:
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode().strip()
        if not line:
            raise RuntimeError(f"the watch writer exited early ({await process.wait()})")
        return line


async def writer(args: argparse.Namespace) -> None:
    """Body of the writer process: always our client, so every watcher sees the same stream of writes."""
    adapter = Ours()
    await adapter.open(args.kubeconfig)
    objects = [configmap(args.namespace, i) for i in range(args.objects)]
    _, since = await adapter.list_all(args.namespace)
    print(f"ready {since}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    started = time.perf_counter()
    await apply_all(adapter, objects, args.concurrency)
    print(f"{time.perf_counter() - started:.4f}", flush=True)
    await adapter.close()


async def measured(adapter: Adapter, args: argparse.Namespace, writer: WriterProcess | None) -> dict[str, Any]:
    """The timed part of one operation; what it observed (item and event counts)."""
    n, ns = args.objects, args.namespace
    if args.op in ("apply", "apply-noop"):
        await apply_all(adapter, [configmap(ns, i) for i in range(n)], args.concurrency)
        return {}
    if args.op == "list":
        sizes = [len((await adapter.list_all(ns))[0]) for _ in range(args.list_repeats)]
        return {"items": sizes[-1]}
    if args.op == "watch-initial":
        return {"events": await asyncio.wait_for(count_events(adapter, ns, "0", n), WATCH_DEADLINE)}
    if args.op == "watch" and writer is not None:
        watching = asyncio.create_task(count_events(adapter, ns, writer.since, n))
        await asyncio.sleep(0)  # let the watch request go out first
        await writer.go()
        return {"events": await asyncio.wait_for(watching, WATCH_DEADLINE)}
    raise ValueError(f"unknown operation {args.op}")


async def worker(args: argparse.Namespace) -> Result:
    """Body of a worker process: open the client, measure one operation, report it."""
    adapter = ADAPTERS[args.client]()
    await adapter.open(args.kubeconfig)
    profile = args.profile / f"{args.client}-{args.op}-c{args.concurrency}" if args.profile else None
    try:
        writer = await WriterProcess.start(args) if args.op == "watch" else None
        memory = Memory()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        with profiled(profile):
            extra = await measured(adapter, args, writer)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        peak = memory.block_peak()
        if writer is not None:
            extra["writer_wall"] = round(await writer.finish(), 3)
    finally:
        await adapter.close()
    if args.op == "list":
        wall, cpu = wall / args.list_repeats, cpu / args.list_repeats
    return Result(args.client, args.op, args.concurrency, wall, cpu, max(peak, memory.start_peak),
                  max(0.0, peak - memory.base), extra)


# -- orchestration -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    client: str
    op: str
    concurrency: int
    namespace: str


def plan(clients: list[str], concurrencies: list[int], run: int, tag: str) -> list[Job]:
    """One run: apply and no-op apply at every concurrency, list, then both watches; each step is done by
    every client back to back (in an order rotated per run), so slow drift of the machine hits them alike."""
    order = clients[run % len(clients):] + clients[: run % len(clients)]

    def namespace(client: str, suffix: str) -> str:
        return f"bench-{tag}-r{run}-{SHORT[client]}-{suffix}"

    steps = [(op, conc, f"c{conc}") for conc in concurrencies for op in ("apply", "apply-noop")]
    steps += [("list", 1, f"c{concurrencies[0]}"), ("watch-initial", 1, f"c{concurrencies[0]}")]
    steps += [("watch", concurrencies[0], "watch")]
    return [Job(client, op, conc, namespace(client, suffix)) for op, conc, suffix in steps for client in order]


def run_job(job: Job, args: argparse.Namespace, kubeconfig: Path) -> Result:
    argv = [
        sys.executable, __file__, "--worker", "--client", job.client, "--op", job.op,
        "--concurrency", str(job.concurrency), "--namespace", job.namespace, "--objects", str(args.objects),
        "--list-repeats", str(args.list_repeats), "--kubeconfig", str(kubeconfig),
    ]
    if args.profile:
        argv += ["--profile", str(args.profile)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=WATCH_DEADLINE + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{job} failed:\n{done.stderr[-3000:]}")
    return Result(**json.loads(done.stdout.strip().splitlines()[-1]))


def create_namespaces(kubeconfig: Path, names: list[str]) -> str:
    """Create the namespaces every run needs; the apiserver's version string."""

    async def create() -> str:
        from headwater.runtime.kube import connect

        async with connect(kubeconfig) as client:
            for name in names:
                await client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                                   field_manager=FIELD_MANAGER)
            return str((await client.version()).get("gitVersion", "?"))

    return asyncio.run(create())


def versions(server: str) -> str:
    found = [f"Python {platform.python_version()}", f"Kubernetes {server}"]
    for dist in DISTRIBUTIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{dist} {metadata.version(dist)}")
    return ", ".join(found)


def table(results: list[Result], clients: list[str]) -> str:
    """Medians over runs, one row per operation, concurrency and client, as a Markdown table."""
    groups: dict[tuple[str, int, str], list[Result]] = {}
    for result in results:
        groups.setdefault((result.op, result.concurrency, result.client), []).append(result)
    ops = ["apply", "apply-noop", "list", "watch", "watch-initial"]
    lines = [
        "| operation | conc. | client | wall s | CPU s | peak RSS MiB | RSS growth MiB | runs |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for op, conc, client in sorted(groups, key=lambda k: (ops.index(k[0]), -k[1], clients.index(k[2]))):
        rows = groups[(op, conc, client)]
        label = f"{op} (per list)" if op == "list" else op
        wall, cpu = _median(rows, lambda r: r.wall), _median(rows, lambda r: r.cpu)
        peak = _median(rows, lambda r: r.rss_peak_mib)
        growth = _median(rows, lambda r: r.rss_growth_mib)
        lines.append(
            f"| {label} | {conc} | {client} | {wall:.3f} | {cpu:.3f} | {peak:.0f} | {growth:.1f} | {len(rows)} |"
        )
    lags = {}
    for (op, _conc, client), rows in groups.items():
        if op == "watch":
            lags[client] = _median(rows, lambda r: r.wall - float(r.extra.get("writer_wall", r.wall)))
    if lags:
        lines.append("\nwatch: the watcher's lag behind the writer's last write, median: " + ", ".join(
            f"{client} {lags[client] * 1000:.0f} ms" for client in clients if client in lags))
    return "\n".join(lines)


def _median(rows: list[Result], get: Callable[[Result], float]) -> float:
    return statistics.median(get(row) for row in rows)


def orchestrate(args: argparse.Namespace) -> int:
    wanted = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in CLIENTS]
    if unknown:
        print(f"unknown client(s) {', '.join(unknown)}; choose from {', '.join(CLIENTS)}", file=sys.stderr)
        return 2
    clients = [c for c in wanted if installed(c)]
    for missing in (c for c in wanted if c not in clients):
        print(f"{missing}: not installed in {sys.prefix}; skipped (see this script's docstring)")
    if not clients:
        return 1
    concurrencies = [int(c) for c in str(args.concurrency).split(",")]
    cluster = None
    kubeconfig: Path
    if args.kubeconfig:
        kubeconfig = args.kubeconfig
    else:
        from headwater.devcluster.cluster import Cluster

        cluster = Cluster(args.cluster_name)
    results: list[Result] = []
    try:
        if cluster is not None:
            kubeconfig = cluster.up(report=lambda msg: print(msg, file=sys.stderr)).kubeconfig
        tag = secrets.token_hex(3)  # fresh namespaces, also when reusing a cluster given by --kubeconfig
        runs = [plan(clients, concurrencies, run, tag) for run in range(args.runs)]
        server = create_namespaces(kubeconfig, sorted({job.namespace for jobs in runs for job in jobs}))
        for run, jobs in enumerate(runs, 1):
            for job in jobs:
                load = os.getloadavg()[0]
                result = run_job(job, args, kubeconfig)
                result.extra["load1"] = load
                results.append(result)
                print(f"run {run}/{args.runs} {job.client:<18} {job.op:<13} c={job.concurrency:<3} "
                      f"wall {result.wall:7.3f}s cpu {result.cpu:7.3f}s rss {result.rss_peak_mib:5.0f} MiB "
                      f"{result.extra or ''}", file=sys.stderr, flush=True)
    finally:
        if cluster is not None:
            cluster.down(report=lambda msg: print(msg, file=sys.stderr))
    loads = sorted(r.extra["load1"] for r in results)
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"\n{args.objects} ConfigMaps; medians of {args.runs} runs; {os.cpu_count()} cores, {memory_gib:.1f} GiB; "
          f"1-min load average {loads[0]:.1f}-{loads[-1]:.1f} (median {statistics.median(loads):.1f})")
    print(versions(server))
    print(table(results, clients))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=1000, help="objects per operation (default 1000)")
    parser.add_argument("--concurrency", default="32,1", help="requests in flight for apply, comma-separated")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated subset of the clients")
    parser.add_argument("--runs", type=int, default=5, help="repetitions; the table shows medians (default 5)")
    parser.add_argument("--list-repeats", type=int, default=10, help="lists per list measurement (default 10)")
    parser.add_argument("--kubeconfig", type=Path, help="use this running cluster instead of starting one")
    parser.add_argument("--cluster-name", default="bench-client", help="name of the cluster started")
    parser.add_argument("--json", type=Path, help="also write every raw measurement to this file")
    parser.add_argument("--profile", type=Path, help="profile each measured operation into this directory")
    # Internal: the per-measurement worker and the watch test's writer.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--op", help=argparse.SUPPRESS)
    parser.add_argument("--namespace", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.writer:
        args.concurrency = int(args.concurrency)
        asyncio.run(writer(args))
        return 0
    if args.worker:
        args.concurrency = int(args.concurrency)
        print(json.dumps(asdict(asyncio.run(worker(args)))))
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
