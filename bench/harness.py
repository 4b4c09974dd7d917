"""What every benchmark scenario shares: controllers as processes, sampling, counters, the recorded row.

Issue #8 asks for the peak RSS and CPU seconds of *each* controller and of kube-apiserver, so the
controllers run the way they run in production: `headwater controller source` and `headwater controller
kustomize` as separate processes, sampled with psutil (their `kubectl kustomize` children measured
apart), their work counters (builds, artifact fetches, applies, Git fetches) read from their own
`/metrics`. The bench process only creates objects and watches them, through informers of its own, so
waiting for Ready costs the apiserver one watch per kind and the controllers nothing.

`--profile DIR` attaches `py-spy record` to each controller for the measured part of a run (raw
collapsed stacks) and prints its hot functions; sampling perturbs the figures a little, so profiled
runs are not recorded as figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from headwater.api.crdgen import crd_paths  # noqa: E402
from headwater.devcluster.cluster import Cluster, ClusterInfo  # noqa: E402
from headwater.devcluster.ports import PortAllocator  # noqa: E402
from headwater.runtime.informer import Informer, run_until_synced  # noqa: E402
from headwater.runtime.informer import stop as stop_informer  # noqa: E402
from headwater.runtime.kube import KubeClient, connect  # noqa: E402
from headwater.runtime.kube.crds import install_crds, load_manifests  # noqa: E402

SRC_API = "source.toolkit.fluxcd.io/v1"
KS_API = "kustomize.toolkit.fluxcd.io/v1"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
MARKER = "bench.headwater.dev/commit"
VERBS = ("GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "APPLY", "DELETE")
MIB = 2**20

# The controllers' work counters (src/headwater/{kustomize/reconciler,source/gitrepository}.py).
BUILDS = "headwater_kustomize_builds_total"
ARTIFACT_FETCHES = "headwater_kustomize_artifact_fetches_total"
APPLIES = "headwater_kustomize_applies_total"
GIT_FETCHES = "headwater_source_git_fetches_total"
RECONCILES = "controller_runtime_reconcile_total"


# --------------------------------------------------------------------------- the shape of one app


def app_files(name: str, marker: str = "") -> dict[str, str]:
    """The public flux-benchmark's app: a Deployment (replicas 0), a ServiceAccount, a Service, a ConfigMap.

    With `marker`, every object carries it as an annotation and the ConfigMap in its data, so a watcher
    can tell which commit each object was last applied from."""
    meta = f"{{name: {name}, annotations: {{{MARKER}: '{marker}'}}}}" if marker else f"{{name: {name}}}"
    data = f"{{a: '1', commit: '{marker}'}}" if marker else "{a: '1'}"
    return {
        "deploy/deployment.yaml": f"""apiVersion: apps/v1
kind: Deployment
metadata: {meta}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{serviceAccountName: {name}, containers: [{{name: app, image: "example.invalid/{name}:1"}}]}}
""",
        "deploy/serviceaccount.yaml": f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {meta}\n",
        "deploy/service.yaml": f"apiVersion: v1\nkind: Service\nmetadata: {meta}\n"
                               f"spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}\n",
        "deploy/configmap.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {meta}\ndata: {data}\n",
    }


APP_KINDS = (("apps/v1", "Deployment"), ("v1", "ServiceAccount"), ("v1", "Service"), ("v1", "ConfigMap"))


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def git_repository(name: str, namespace: str, url: str, interval: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": SRC_API, "kind": "GitRepository",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"url": url, "interval": interval, "ref": {"branch": "main"}}}


def kustomization(name: str, namespace: str, target: str, interval: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": KS_API, "kind": "Kustomization",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"interval": interval, "path": "./deploy", "prune": True, "targetNamespace": target,
                     "sourceRef": {"kind": "GitRepository", "name": name}}}


async def bounded(jobs: Iterable[Callable[[], Any]], concurrency: int) -> None:
    """Run the coroutine factories with at most `concurrency` in flight."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Any]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(j) for j in jobs))


async def prepare(kube: KubeClient) -> None:
    await install_crds(kube, load_manifests(crd_paths()))


# --------------------------------------------------------------------------- processes and sampling


def cpu_seconds(process: psutil.Process | None, children: bool = False) -> float:
    """User + system CPU of the process (or of its terminated, waited-for children)."""
    if process is None:
        return 0.0
    try:
        t = process.cpu_times()
    except psutil.Error:
        return 0.0
    return t.children_user + t.children_system if children else t.user + t.system


def apiserver_process(info: ClusterInfo | None) -> psutil.Process | None:
    record = next((p for p in (info.processes if info else []) if p.component == "kube-apiserver"), None)
    if record is None:
        return None
    try:
        return psutil.Process(record.pid)
    except psutil.Error:
        return None


class Sampler:
    """Peak RSS of each named process (and of its live children, summed) every 100 ms."""

    def __init__(self, processes: dict[str, psutil.Process | None]) -> None:
        self.processes = {k: v for k, v in processes.items() if v is not None}
        self.peak: dict[str, int] = dict.fromkeys(self.processes, 0)
        self.children_peak: dict[str, int] = dict.fromkeys(self.processes, 0)
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        self.samples += 1
        for name, process in list(self.processes.items()):
            try:
                self.peak[name] = max(self.peak[name], process.memory_info().rss)
                kids = 0
                for child in process.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        kids += child.memory_info().rss
                self.children_peak[name] = max(self.children_peak[name], kids)
            except psutil.Error:
                del self.processes[name]

    def peak_mib(self, name: str) -> float:
        return self.peak.get(name, 0) / MIB

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.1)

    def __enter__(self) -> Sampler:
        self.sample()
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.sample()


METRIC_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format → series name (labels dropped) → sum over its label sets."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            with contextlib.suppress(ValueError):
                totals[match["name"]] = totals.get(match["name"], 0.0) + float(match["value"])
    return totals


async def requests_by_verb(kube: KubeClient) -> Counter[str]:
    """The apiserver's `apiserver_request_total`, all clients, by verb."""
    try:
        text = await kube.request_text("/metrics")
    except Exception:  # the request counts are optional (RBAC, an old server)
        return Counter()
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("apiserver_request_total{"):
            verb = re.search(r'verb="([^"]*)"', line)
            counts[verb.group(1) if verb else "?"] += int(float(line.rsplit(" ", 1)[1]))
    return counts


def fmt_requests(requests: dict[str, int]) -> str:
    shown = [f"{v} {requests[v]}" for v in VERBS if requests.get(v)]
    others = sum(n for v, n in requests.items() if v not in VERBS)
    return ", ".join(shown + ([f"other {others}"] if others else [])) or "n/a"


def headwater_command() -> list[str]:
    script = Path(sys.executable).parent / "headwater"
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "from headwater.cli.main import main; main()"]


class ControllerProcess:
    """`headwater controller NAME` as a child process, optionally under `py-spy record`."""

    def __init__(self, name: str, kubeconfig: Path, workdir: Path, *, concurrent: int | None = None,
                 label_selector: str = "", extra: Sequence[str] = (), profile_dir: Path | None = None,
                 ports: PortAllocator | None = None) -> None:
        self.name = name
        ports = ports or PortAllocator()
        self.metrics_port, self.health_port = ports.allocate(), ports.allocate()
        self.log_path = workdir / f"{name}-controller.log"
        self.profile_path = profile_dir / f"{name}-controller.pyspy.txt" if profile_dir else None
        args = [*headwater_command(), "controller", name, "--kubeconfig", str(kubeconfig),
                "--metrics-addr", f"127.0.0.1:{self.metrics_port}", "--health-addr", f"127.0.0.1:{self.health_port}",
                "--log-level", "error", "--watch-label-selector", label_selector, *extra]
        if concurrent is not None:
            args += ["--concurrent", str(concurrent)]
        self.args = args
        self._popen: subprocess.Popen[bytes] | None = None
        self._profiler: subprocess.Popen[bytes] | None = None
        self.process: psutil.Process | None = None

    async def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self._popen = await asyncio.to_thread(subprocess.Popen, self.args, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        self.process = psutil.Process(self._popen.pid)
        async with aiohttp.ClientSession() as session:
            while True:
                if self._popen.poll() is not None:
                    raise RuntimeError(f"{self.name} controller exited: {self.log_path.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"http://127.0.0.1:{self.health_port}/readyz") as response:
                        if response.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} controller not ready after {timeout} s")
                await asyncio.sleep(0.1)

    async def metrics(self) -> dict[str, float]:
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as response:
            return parse_metrics(await response.text())

    async def stop(self, timeout: float = 30.0) -> None:
        if self._popen is None or self._popen.poll() is not None:
            return
        await self.stop_profile()
        self._popen.terminate()
        try:
            await asyncio.to_thread(self._popen.wait, timeout)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            await asyncio.to_thread(self._popen.wait)


    async def start_profile(self) -> None:
        """Attach `py-spy record` (raw collapsed stacks, 50 Hz, without pausing the process) until stopped."""
        if self.profile_path is None or self._popen is None:
            return
        args = [pyspy(), "record", "--pid", str(self._popen.pid), "--format", "raw", "--rate", "50",
                "--nonblocking", "--output", str(self.profile_path)]
        log = self.profile_path.with_suffix(".log").open("ab")
        self._profiler = await asyncio.to_thread(subprocess.Popen, args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        await asyncio.sleep(0.5)  # attached

    async def stop_profile(self) -> None:
        """Stop py-spy; it writes the profile on SIGINT."""
        if self._profiler is None:
            return
        profiler, self._profiler = self._profiler, None
        profiler.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(profiler.wait, 60)
        except subprocess.TimeoutExpired:
            profiler.kill()


def pyspy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install -e '.[dev]'")
    return found


def hot_functions(profile: Path, top: int = 10) -> list[tuple[str, int, int, float]]:
    """From py-spy's raw collapsed stacks: (function, self samples, total samples, self share)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in profile.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    return [(f, n, total[f], n / samples if samples else 0.0) for f, n in own.most_common(top)]


def profile_report(controllers: Iterable[ControllerProcess], top: int = 10) -> str:
    parts = []
    for c in controllers:
        if c.profile_path is None or not c.profile_path.exists():
            continue
        rows = hot_functions(c.profile_path, top)
        lines = [f"{c.name} controller: top {top} functions by own samples ({c.profile_path})",
                 "| function | own | own share | incl. |", "|---|---:|---:|---:|"]
        lines += [f"| `{f}` | {n} | {share:.1%} | {incl} |" for f, n, incl, share in rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


@dataclass
class Usage:
    """CPU seconds and counters of every process between two points."""

    cpu: dict[str, float] = field(default_factory=dict)
    children_cpu: dict[str, float] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)


class Controllers:
    """The source and kustomize controllers as processes, with the apiserver, measured together."""

    def __init__(self, kubeconfig: Path, workdir: Path, apiserver: psutil.Process | None, *,
                 label_selector: str, concurrent: int | None = None, profile_dir: Path | None = None,
                 extra: Sequence[str] = (), source_extra: Sequence[str] = ()) -> None:
        ports = PortAllocator()  # one allocator: distinct ports for the storage and both controllers
        port = ports.allocate()
        storage = ["--storage-path", str(workdir / "storage"), "--storage-addr", f"127.0.0.1:{port}",
                   "--storage-adv-addr", f"127.0.0.1:{port}"]
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
        self.source = ControllerProcess("source", kubeconfig, workdir, concurrent=concurrent,
                                        label_selector=label_selector, extra=[*storage, *extra, *source_extra],
                                        profile_dir=profile_dir, ports=ports)
        self.kustomize = ControllerProcess("kustomize", kubeconfig, workdir, concurrent=concurrent,
                                           label_selector=label_selector, extra=extra, profile_dir=profile_dir,
                                           ports=ports)
        self.all = (self.source, self.kustomize)
        self.apiserver = apiserver

    def processes(self) -> dict[str, psutil.Process | None]:
        return {"source": self.source.process, "kustomize": self.kustomize.process, "apiserver": self.apiserver}

    async def __aenter__(self) -> Controllers:
        try:
            await asyncio.gather(*(c.start() for c in self.all))
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.all))

    async def start_profiles(self) -> None:
        """With `profile_dir`: profile both controllers from now until `stop_profiles` (or their stop)."""
        await asyncio.gather(*(c.start_profile() for c in self.all))

    async def stop_profiles(self) -> None:
        await asyncio.gather(*(c.stop_profile() for c in self.all))

    async def counters(self) -> dict[str, float]:
        source, kustomize = await asyncio.gather(self.source.metrics(), self.kustomize.metrics())
        return {"builds": kustomize.get(BUILDS, 0.0), "artifact_fetches": kustomize.get(ARTIFACT_FETCHES, 0.0),
                "applies": kustomize.get(APPLIES, 0.0), "git_fetches": source.get(GIT_FETCHES, 0.0),
                "source_reconciles": source.get(RECONCILES, 0.0),
                "kustomize_reconciles": kustomize.get(RECONCILES, 0.0)}

    async def snapshot(self, kube: KubeClient) -> Usage:
        procs = self.processes()
        return Usage({n: cpu_seconds(p) for n, p in procs.items()},
                     {n: cpu_seconds(p, children=True) for n, p in procs.items()},
                     await self.counters(), dict(await requests_by_verb(kube)))

    async def since(self, kube: KubeClient, before: Usage) -> Usage:
        now = await self.snapshot(kube)
        return Usage({k: v - before.cpu.get(k, 0.0) for k, v in now.cpu.items()},
                     {k: v - before.children_cpu.get(k, 0.0) for k, v in now.children_cpu.items()},
                     {k: v - before.counters.get(k, 0.0) for k, v in now.counters.items()},
                     dict(Counter(now.requests) - Counter(before.requests)))


@contextlib.asynccontextmanager
async def watching(kube: KubeClient, api_version: str, kind: str, namespace: str | None = None,
                   label_selector: str | None = None) -> AsyncIterator[Informer]:
    """An informer of the bench's own (the controllers' caches are in other processes)."""
    informer = Informer(kube, api_version, kind, namespace=namespace, label_selector=label_selector)
    task = await run_until_synced(informer)
    try:
        yield informer
    finally:
        await stop_informer(task)


async def wait_all(informer: Informer, namespace: str, count: int, check: Callable[[dict[str, Any]], bool],
                   timeout: float) -> int:
    """Poll the informer's cache until `count` objects pass `check`; the number that pass."""
    deadline = time.monotonic() + timeout
    while True:
        passing = sum(1 for o in informer.list(namespace) if check(o))
        if passing >= count or time.monotonic() > deadline:
            return passing
        await asyncio.sleep(0.05)


async def delete_namespaces(kube: KubeClient, names: Iterable[str]) -> None:
    await bounded([lambda n=n: kube.delete("v1", "Namespace", n) for n in names], 16)  # type: ignore[misc]


# --------------------------------------------------------------------------- the cluster and the record


@contextlib.asynccontextmanager
async def control_plane(name: str, reuse: str | None = None) -> AsyncIterator[tuple[ClusterInfo, KubeClient]]:
    """A fresh local control plane (torn down afterwards), or the running one named `reuse`."""
    cluster = Cluster(reuse or name)
    info = cluster.info() if reuse else await asyncio.to_thread(cluster.up, print)
    if info is None:
        raise SystemExit(f"cluster {reuse} is not running")
    try:
        async with connect(info.kubeconfig, user_agent="headwater-bench") as kube:
            yield info, kube
    finally:
        if not reuse:
            await asyncio.to_thread(cluster.down, print)


def versions(server_version: str = "?") -> str:
    from headwater.kustomize.build import kubectl_binary

    try:
        out = subprocess.run([kubectl_binary(), "version", "--client", "-o", "yaml"], capture_output=True,
                             text=True, timeout=10).stdout
        kustomize = re.search(r"kustomizeVersion: (\S+)", out)
        kubectl = re.search(r"gitVersion: (\S+)", out)
        tools = f"kubectl {kubectl[1] if kubectl else '?'} (kustomize {kustomize[1] if kustomize else '?'})"
    except Exception:
        tools = "kubectl ?"
    return f"Python {platform.python_version()}, {tools}, Kubernetes {server_version} (local control plane)"


def machine() -> str:
    return f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB"


def command_line() -> str:
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(ROOT)
    return " ".join(["python", str(script), *sys.argv[1:]])


def record(title: str, table: str, *, server_version: str, notes: str = "", load: str = "") -> None:
    """Append a dated section to docs/benchmarks.md: machine, versions, exact command, the table."""
    load_note = f" Machine load: {load}." if load else ""
    text = (f"\n## {title} ({datetime.now(UTC):%Y-%m-%d})\n\n"
            f"Machine: {machine()}. Versions: {versions(server_version)}. Command: `{command_line()}`."
            f"{load_note}\n{notes}\n\n{table}\n")
    with (ROOT / "docs" / "benchmarks.md").open("a") as handle:
        handle.write(text)


def load_average() -> float:
    return os.getloadavg()[0]


def markdown_table(rows: Sequence[tuple[str, str]], header: tuple[str, str] = ("measure", "value")) -> str:
    return f"| {header[0]} | {header[1]} |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def stamp() -> str:
    return f"{int(time.time() * 1000) % 10**8:08d}"


class Fleet:
    """N pairs of GitRepository + Kustomization, each pair with its own repository and target namespace.

    Every object carries `headwater.dev/bench=<run>` (the controllers watch only that) and
    `headwater.dev/isolated` (which the test suite's shared controllers leave alone)."""

    def __init__(self, count: int, prefix: str, run: str) -> None:
        self.count = count
        self.namespace = f"{prefix}-{run}"
        self.names = [f"app-{i:04d}" for i in range(count)]
        self.targets = [f"{self.namespace}-{i:04d}" for i in range(count)]
        self.labels = {"headwater.dev/bench": run, "headwater.dev/isolated": "true"}
        self.selector = f"headwater.dev/bench={run}"

    def repositories(self, repos: Any) -> None:
        for name in self.names:
            repos.create(f"{name}.git", app_files(name))

    def server_fetches(self, server: Any) -> int:
        """Upload-pack requests asking for objects, counted by the Git server."""
        return sum(server.stats[f"{n}.git"]["upload-pack"] for n in self.names)

    async def create_namespace(self, kube: KubeClient) -> None:
        await kube.create({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": self.namespace, "labels": self.labels}})

    async def create_pairs(self, kube: KubeClient, server: Any, interval: str, concurrency: int = 16) -> None:
        """Each pair's target namespace, GitRepository and Kustomization, `concurrency` pairs at a time."""

        async def pair(name: str, target: str) -> None:
            await kube.create({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": target, "labels": self.labels}})
            await kube.create(git_repository(name, self.namespace, server.url(f"{name}.git"), interval, self.labels))
            await kube.create(kustomization(name, self.namespace, target, interval, self.labels))

        await bounded([lambda n=n, t=t: pair(n, t)  # type: ignore[misc]
                       for n, t in zip(self.names, self.targets, strict=True)], concurrency)

    async def delete(self, kube: KubeClient, wait: float = 120.0) -> None:
        """Delete the namespaces; wait until the Kustomizations are gone (their finalizers need the
        controllers, which must still run), not for the namespaces' termination."""
        await delete_namespaces(kube, [self.namespace, *self.targets])
        deadline = time.monotonic() + wait
        while (await kube.list(KS_API, "Kustomization", self.namespace))["items"]:
            if time.monotonic() > deadline:
                print(f"Kustomizations in {self.namespace} still there after {wait:.0f} s", file=sys.stderr)
                return
            await asyncio.sleep(0.2)
