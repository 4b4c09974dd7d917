"""N Kustomizations, each with its own GitRepository, to Ready; then what an unchanged re-reconcile costs.

The shape of the public flux-benchmark: every pair is a GitRepository (a repository of its own on one
`git http-backend` server) and a Kustomization applying a Deployment (replicas 0), a ServiceAccount, a
Service and a ConfigMap into a namespace of its own via `targetNamespace`. The target namespaces are
created beforehand (not part of the timed run); the Kustomizations and GitRepositories live in one
namespace, as Flux's objects live in flux-system. The source and kustomize controllers run in this
process, each with its upstream default `--concurrent` (2 and 4) unless `--concurrent` is given.

Measured from creating the objects to all Kustomizations Ready: wall time, CPU seconds of this process
(its own threads; child processes - `kubectl kustomize` builds and the Git server's `git http-backend` -
separately), peak RSS of this process and of kube-apiserver (sampled every 100 ms), apiserver CPU
seconds, kustomize builds run, Git fetches (counted by the server), apiserver requests by verb (the
apiserver's `apiserver_request_total`, all clients of the cluster). Then `requestedAt` on every
Kustomization with nothing changed: time until all are handled, builds run (must be 0), applies sent.
Readiness is read from the kustomize controller's informer cache, so waiting costs the apiserver nothing.

    .venv/bin/python bench/kustomizations.py --count 100 [--concurrent 4] [--cluster NAME] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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
from headwater.kustomize.controller import setup as setup_kustomize  # noqa: E402
from headwater.kustomize.reconciler import KustomizationReconciler  # noqa: E402
from headwater.runtime.informer import Informer  # noqa: E402
from headwater.runtime.kube import KubeClient, connect  # noqa: E402
from headwater.runtime.kube.crds import install_crds, load_manifests  # noqa: E402
from headwater.runtime.manager import Manager  # noqa: E402
from headwater.runtime.options import ControllerOptions  # noqa: E402
from headwater.source.controller import setup as setup_source  # noqa: E402

SRC_API = "source.toolkit.fluxcd.io/v1"
KS_API = "kustomize.toolkit.fluxcd.io/v1"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
VERBS = ("GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "APPLY", "DELETE")


def app_files(name: str) -> dict[str, str]:
    return {
        "deploy/deployment.yaml": f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{serviceAccountName: {name}, containers: [{{name: app, image: "example.invalid/{name}:1"}}]}}
""",
        "deploy/serviceaccount.yaml": f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {name}}}\n",
        "deploy/service.yaml": f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n"
                               f"spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}\n",
        "deploy/configmap.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{a: '1'}}\n",
    }


@dataclass
class Figures:
    count: int
    concurrent_source: int
    concurrent_kustomize: int
    ready_seconds: float = 0.0
    cpu_seconds: float = 0.0
    child_cpu_seconds: float = 0.0
    rss_peak_mib: float = 0.0
    apiserver_cpu_seconds: float = 0.0
    apiserver_rss_peak_mib: float = 0.0
    builds: int = 0
    fetches: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    ready_count: int = 0
    sources_ready_seconds: float = 0.0
    refresh_seconds: float = 0.0
    refresh_cpu_seconds: float = 0.0
    refresh_apiserver_cpu_seconds: float = 0.0
    refresh_builds: int = 0
    refresh_fetches: int = 0
    refresh_applies: int | None = None
    refresh_requests: dict[str, int] = field(default_factory=dict)
    handled_count: int = 0


class Sampler:
    """Peak RSS of this process and of the apiserver, every 100 ms."""

    def __init__(self, apiserver: psutil.Process | None) -> None:
        self.me = psutil.Process()
        self.apiserver = apiserver
        self.peak = self.me.memory_info().rss
        self.apiserver_peak = apiserver.memory_info().rss if apiserver else 0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        self.peak = max(self.peak, self.me.memory_info().rss)
        if self.apiserver is not None:
            try:
                self.apiserver_peak = max(self.apiserver_peak, self.apiserver.memory_info().rss)
            except psutil.Error:
                self.apiserver = None

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.1)

    def __enter__(self) -> Sampler:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.sample()


def cpu(process: psutil.Process | None, children: bool = False) -> float:
    if process is None:
        return 0.0
    try:
        t = process.cpu_times()
    except psutil.Error:
        return 0.0
    return t.children_user + t.children_system if children else t.user + t.system


def find_apiserver(cluster_name: str) -> psutil.Process | None:
    info = Cluster(cluster_name).info()
    record = next((p for p in (info.processes if info else []) if p.component == "kube-apiserver"), None)
    if record is None:
        return None
    try:
        return psutil.Process(record.pid)
    except psutil.Error:
        return None


METRIC = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


async def requests_by_verb(kube: KubeClient) -> Counter[str]:
    try:
        text = await kube.request_text("/metrics")
    except Exception:  # the request counts are optional
        return Counter()
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        match = METRIC.match(line)
        if match:
            verb = re.search(r'verb="([^"]*)"', match["labels"])
            counts[verb.group(1) if verb else "?"] += int(float(match["value"]))
    return counts


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def wait_all(informer: Informer, namespace: str, count: int, check: Callable[[dict[str, Any]], bool],
                   timeout: float) -> int:
    """Poll the controller's cache until all `count` objects pass; the number that pass."""
    deadline = time.monotonic() + timeout
    while True:
        passing = sum(1 for o in informer.list(namespace) if check(o))
        if passing >= count or time.monotonic() > deadline:
            return passing
        await asyncio.sleep(0.1)


async def start(manager: Manager) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run(stop))
    await asyncio.wait_for(manager.leading.wait(), 60)
    return stop, task


async def measure(kube: KubeClient, count: int, workdir: Path, *, concurrent: int | None = None,
                  apiserver: psutil.Process | None = None, label: str = "", prefix: str = "bench-ks",
                  cleanup: bool = True, timeout: float = 1800.0) -> Figures:
    """Run the scenario once. `label` ("key=value") labels every object and restricts both controllers'
    watches to it, so other controllers in the same cluster stay out of the way (and we out of theirs)."""
    await install_crds(kube, load_manifests(crd_paths()))
    stamp = f"{int(time.time()) % 100000}"
    namespace = f"{prefix}-{stamp}"
    labels = dict([label.split("=", 1)]) if label else {}
    meta_labels = {"labels": labels} if labels else {}
    targets = [f"{namespace}-{i:04d}" for i in range(count)]
    figures = Figures(count, concurrent or 2, concurrent or 4)
    for ns in [namespace, *targets]:
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    with RepoBuilder(workdir / "repos") as repos, GitHttpServer(repos.root) as server:
        names = [f"app-{i:04d}" for i in range(count)]
        for name in names:
            repos.create(f"{name}.git", app_files(name))
        port = PortAllocator().allocate()
        settings = {"storage_path": str(workdir / "storage"), "storage_addr": f"127.0.0.1:{port}",
                    "storage_adv_addr": f"127.0.0.1:{port}"}
        common = {"metrics_addr": "0", "health_addr": "0", "watch_label_selector": label}
        source_options = ControllerOptions(concurrent=figures.concurrent_source, **common)
        ks_options = ControllerOptions(concurrent=figures.concurrent_kustomize, **common)
        source = Manager("source-controller", kube, source_options)
        await setup_source(source, kube, source_options, settings)
        kustomize = Manager("kustomize-controller", kube, ks_options)
        await setup_kustomize(kustomize, kube, ks_options, {})
        controller = kustomize.controllers[0]
        reconciler = controller.reconciler
        assert isinstance(reconciler, KustomizationReconciler)
        source_stop, source_task = await start(source)
        ks_stop, ks_task = await start(kustomize)
        me = psutil.Process()

        def fetches() -> int:
            return sum(server.stats[f"{n}.git"]["upload-pack"] for n in names)

        sources_ready_at = 0.0

        async def wait_sources() -> None:
            nonlocal sources_ready_at
            await wait_all(source.controllers[0].informer, namespace, count, is_ready, timeout)
            sources_ready_at = time.monotonic()

        try:
            with Sampler(apiserver) as sampler:
                cpu0, child0, api0 = cpu(me), cpu(me, children=True), cpu(apiserver)
                builds0, requests0 = reconciler.builds_run, await requests_by_verb(kube)
                started = time.monotonic()
                for name in names:
                    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                                       "metadata": {"name": name, "namespace": namespace, **meta_labels},
                                       "spec": {"url": server.url(f"{name}.git"), "interval": "1h",
                                                "ref": {"branch": "main"}}})
                    await kube.create({"apiVersion": KS_API, "kind": "Kustomization",
                                       "metadata": {"name": name, "namespace": namespace, **meta_labels},
                                       "spec": {"interval": "1h", "path": "./deploy", "prune": True,
                                                "targetNamespace": f"{namespace}-{name.removeprefix('app-')}",
                                                "sourceRef": {"kind": "GitRepository", "name": name}}})
                sources_ready = asyncio.create_task(wait_sources())
                figures.ready_count = await wait_all(controller.informer, namespace, count, is_ready, timeout)
                figures.ready_seconds = time.monotonic() - started
                await sources_ready
                figures.sources_ready_seconds = sources_ready_at - started
                figures.cpu_seconds = cpu(me) - cpu0
                figures.child_cpu_seconds = cpu(me, children=True) - child0
                figures.apiserver_cpu_seconds = cpu(apiserver) - api0
                figures.builds = reconciler.builds_run - builds0
                figures.fetches = fetches()
                requests1 = await requests_by_verb(kube)
                figures.requests = dict(requests1 - requests0)
                figures.rss_peak_mib = sampler.peak / 2**20
                figures.apiserver_rss_peak_mib = sampler.apiserver_peak / 2**20

                # unchanged re-reconcile of all
                await asyncio.sleep(1)
                token = datetime.now(UTC).isoformat()
                cpu0, api0 = cpu(me), cpu(apiserver)
                builds0, fetches0 = reconciler.builds_run, fetches()
                applies0 = getattr(reconciler, "applies_sent", None)
                requests1 = await requests_by_verb(kube)
                started = time.monotonic()
                for name in names:
                    await kube.patch(KS_API, "Kustomization", name,
                                     {"metadata": {"annotations": {REQUESTED_AT: token}}}, namespace=namespace)
                figures.handled_count = await wait_all(
                    controller.informer, namespace, count,
                    lambda o: (o.get("status") or {}).get("lastHandledReconcileAt") == token, timeout)
                figures.refresh_seconds = time.monotonic() - started
                figures.refresh_cpu_seconds = cpu(me) - cpu0
                figures.refresh_apiserver_cpu_seconds = cpu(apiserver) - api0
                figures.refresh_builds = reconciler.builds_run - builds0
                figures.refresh_fetches = fetches() - fetches0
                if applies0 is not None:
                    figures.refresh_applies = reconciler.applies_sent - applies0
                figures.refresh_requests = dict(await requests_by_verb(kube) - requests1)
                figures.rss_peak_mib = sampler.peak / 2**20
                figures.apiserver_rss_peak_mib = sampler.apiserver_peak / 2**20
            if cleanup:  # with the controllers still running, so the finalizers are removed
                for ns in [namespace, *targets]:
                    await kube.delete("v1", "Namespace", ns)

                for _ in range(240):
                    if await kube.get_or_none("v1", "Namespace", namespace) is None:
                        break
                    await asyncio.sleep(0.5)
                else:
                    print(f"namespace {namespace} still terminating after 120 s", file=sys.stderr)
        finally:
            ks_stop.set()
            source_stop.set()
            await asyncio.gather(ks_task, source_task)
    return figures


def fmt_requests(requests: dict[str, int]) -> str:
    shown = [f"{v} {requests[v]}" for v in VERBS if requests.get(v)]
    others = sum(n for v, n in requests.items() if v not in VERBS)
    return ", ".join(shown + ([f"other {others}"] if others else [])) or "n/a"


def table(f: Figures) -> str:
    applies = "n/a (no counter)" if f.refresh_applies is None else str(f.refresh_applies)
    rows = [
        ("Kustomizations (each with its own GitRepository)", f"{f.count}"),
        ("--concurrent (source / kustomize)", f"{f.concurrent_source} / {f.concurrent_kustomize}"),
        ("**all Ready** (from the first create)", f"**{f.ready_seconds:.1f} s** ({f.ready_count}/{f.count} Ready)"),
        ("all GitRepositories Ready (from the first create)", f"{f.sources_ready_seconds:.1f} s"),
        ("controller process CPU (own threads)", f"{f.cpu_seconds:.1f} s"),
        ("child processes CPU (`kubectl kustomize`, `git http-backend`)", f"{f.child_cpu_seconds:.1f} s"),
        ("controller process peak RSS", f"{f.rss_peak_mib:.0f} MiB"),
        ("kube-apiserver CPU", f"{f.apiserver_cpu_seconds:.1f} s"),
        ("kube-apiserver peak RSS", f"{f.apiserver_rss_peak_mib:.0f} MiB"),
        ("kustomize builds run", f"{f.builds}"),
        ("Git fetches (server-side)", f"{f.fetches}"),
        ("apiserver requests (all clients)", fmt_requests(f.requests)),
        ("**unchanged re-reconcile of all** (requestedAt → all handled)",
         f"**{f.refresh_seconds:.1f} s** ({f.handled_count}/{f.count} handled)"),
        ("  controller CPU / apiserver CPU in it",
         f"{f.refresh_cpu_seconds:.1f} s / {f.refresh_apiserver_cpu_seconds:.1f} s"),
        ("  builds run in it", f"{f.refresh_builds}"),
        ("  Git fetches in it", f"{f.refresh_fetches}"),
        ("  applies sent in it (`applies_sent`; dry-run applies not counted)", applies),
        ("  apiserver requests in it", fmt_requests(f.refresh_requests)),
    ]
    return "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def versions() -> str:
    import subprocess

    from headwater.kustomize.build import kubectl_binary

    try:
        kubectl = subprocess.run([kubectl_binary(), "version", "--client", "-o", "yaml"], capture_output=True,
                                 text=True, timeout=10).stdout
        kustomize = re.search(r"kustomizeVersion: (\S+)", kubectl)
        kubectl_v = re.search(r"gitVersion: (\S+)", kubectl)
        tools = f"kubectl {kubectl_v[1] if kubectl_v else '?'} (kustomize {kustomize[1] if kustomize else '?'})"
    except Exception:
        tools = "kubectl ?"
    return f"Python {platform.python_version()}, {tools}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrent", type=int, help="for both controllers (default: source 2, kustomize 4)")
    parser.add_argument("--cluster", help="use this running dev cluster instead of starting one")
    parser.add_argument("--record", action="store_true", help="append the result to docs/benchmarks.md")
    args = parser.parse_args()
    cluster = Cluster(args.cluster or "bench-ks")
    info = cluster.info() if args.cluster else await asyncio.to_thread(cluster.up, print)
    if info is None:
        raise SystemExit(f"cluster {args.cluster} is not running")
    server_version = "?"
    load_before = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="hw-bench-ks-") as tmp:
            async with connect(info.kubeconfig) as kube:
                server_version = (await kube.request("GET", "/version")).get("gitVersion", "?")
                figures = await measure(kube, args.count, Path(tmp), concurrent=args.concurrent,
                                        apiserver=find_apiserver(cluster.name), cleanup=bool(args.cluster))
    finally:
        if not args.cluster:
            await asyncio.to_thread(cluster.down, print)
    load = f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    text = table(figures)
    print(text)
    if args.record:
        machine = f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB"
        with (ROOT / "docs" / "benchmarks.md").open("a") as handle:
            handle.write(f"\n## {figures.count} Kustomizations, each with its own GitRepository "
                         f"({datetime.now(UTC):%Y-%m-%d})\n\n"
                         f"Machine: {machine}. Versions: {versions()}, Kubernetes {server_version} "
                         "(local control plane). "
                         f"Command: `python bench/kustomizations.py {' '.join(sys.argv[1:])}`.\n"
                         "Both controllers in one process; target namespaces created beforehand (untimed); "
                         "readiness read from the controller's cache. "
                         f"Machine shared with other work: {load}.\n\n"
                         f"{text}\n")


if __name__ == "__main__":
    asyncio.run(main())
