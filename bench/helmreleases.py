"""N HelmReleases of one chart, each in its own namespace, to Ready: time and memory of the helm controller.

    .venv/bin/python bench/helmreleases.py --count 100 [--reuse lead] [--concurrent 10] [--record]

The controllers run as processes (`headwater controller source` serves the chart artifact, `headwater
controller helm` releases; its Helm engine is its child), sampled with psutil. The chart (a ConfigMap and
a Deployment that kwok makes Available) comes as one ExternalArtifact that every HelmRelease names through
`chartRef`, so the figure measures the release path, not chart packaging. Flux's public figure to compare
with: 1,000 releases in 8m1s with 400 MiB on a 16-core runner. Each release runs one Pod, so the bench adds
kwok nodes (110 Pods each) for them and removes them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helm_charts import write_chart

import harness
from headwater.artifact.storage import ObjectRef, Storage
from headwater.devcluster.cluster import fake_node
from headwater.devcluster.helmtools import ensure_helm_tools
from headwater.devcluster.ports import PortAllocator

HR_API = "helm.toolkit.fluxcd.io/v2"
SRC_API = "source.toolkit.fluxcd.io/v1"
LABEL = "bench.headwater.dev/helm"


async def run(count: int, concurrent: int, reuse: str | None, record: bool) -> None:
    ensure_helm_tools(print)
    stamp = harness.stamp()
    async with harness.control_plane(f"bench-helm-{stamp}", reuse) as (info, kube):
        await harness.prepare(kube)
        with tempfile.TemporaryDirectory(prefix="bench-helm-") as tmp:
            work = Path(tmp)
            ports = PortAllocator()
            port = ports.allocate()
            storage_dir = work / "storage"
            source = harness.ControllerProcess(
                "source", info.kubeconfig, work, label_selector=LABEL, ports=ports,
                extra=["--storage-path", str(storage_dir), "--storage-addr", f"127.0.0.1:{port}",
                       "--storage-adv-addr", f"127.0.0.1:{port}"])
            helm = harness.ControllerProcess("helm", info.kubeconfig, work, concurrent=concurrent,
                                             label_selector=LABEL, ports=ports)
            await source.start()
            await helm.start()
            try:
                home = f"bench-helm-{stamp}"
                await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": home}})
                chart = write_chart(work / "chart")
                store = Storage(storage_dir, f"127.0.0.1:{port}")
                artifact = store.archive(store.new_artifact(ObjectRef("ExternalArtifact", home, "chart"),
                                                            "0.1.0@sha256:" + "0" * 64, "chart.tar.gz"), chart)
                created = await kube.create({
                    "apiVersion": SRC_API, "kind": "ExternalArtifact", "spec": {},
                    "metadata": {"name": "chart", "namespace": home, "labels": {LABEL: "true"}}})
                await kube.patch_status(created, {"artifact": artifact.to_dict(), "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "bench",
                     "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
                # Every release runs a Pod: enough kwok nodes (110 Pods each) for all of them.
                nodes = [f"{home}-node-{i}" for i in range(count // 100 + 1)]
                await harness.bounded([lambda n=n: kube.create(fake_node(n)) for n in nodes], 8)  # type: ignore[misc]
                names = [f"{home}-{i}" for i in range(count)]
                await harness.bounded([lambda n=n: kube.create({"apiVersion": "v1", "kind": "Namespace",  # type: ignore[misc]
                                                                "metadata": {"name": n}}) for n in names], 16)
                with harness.Sampler({"helm": helm.process, "apiserver": harness.apiserver_process(info)}) as sampler:
                    async with harness.watching(kube, HR_API, "HelmRelease", label_selector=LABEL) as informer:
                        started = time.monotonic()
                        await harness.bounded([lambda n=n: kube.create({  # type: ignore[misc]
                            "apiVersion": HR_API, "kind": "HelmRelease",
                            "metadata": {"name": "app", "namespace": n, "labels": {LABEL: "true"}},
                            "spec": {"interval": "1h", "values": {"greeting": n},
                                     "chartRef": {"kind": "ExternalArtifact", "name": "chart", "namespace": home}}})
                            for n in names], 16)
                        ready = 0
                        deadline = started + 3600
                        while ready < count and time.monotonic() < deadline:
                            ready = sum(1 for obj in informer.list() if harness.is_ready(obj))
                            await asyncio.sleep(0.2)
                        elapsed = time.monotonic() - started
                engine_cpu = sum(harness.cpu_seconds(child) for child in helm.process.children()) \
                    if helm.process is not None else 0.0
                cpu = harness.cpu_seconds(helm.process)
            finally:
                await helm.stop()
                await source.stop()
            await harness.delete_namespaces(kube, [*names, home])
            await harness.bounded([lambda n=n: kube.delete("v1", "Node", n) for n in nodes], 8)  # type: ignore[misc]
        rows = [("HelmReleases Ready", f"{ready} of {count}"), ("time to all Ready", f"{elapsed:.1f} s"),
                ("per release", f"{elapsed / max(count, 1) * 1000:.0f} ms"),
                ("helm controller peak RSS (Python)", f"{sampler.peak_mib('helm'):.0f} MiB"),
                ("helm engine peak RSS (child)", f"{sampler.children_peak.get('helm', 0) / harness.MIB:.0f} MiB"),
                ("helm controller CPU (Python)", f"{cpu:.0f} s"), ("helm engine CPU", f"{engine_cpu:.0f} s"),
                ("kube-apiserver peak RSS", f"{sampler.peak_mib('apiserver'):.0f} MiB"),
                ("--concurrent", str(concurrent))]
        table = harness.markdown_table(rows)
        print(table)
        if record:
            version = (await kube.request("GET", "/version")).get("gitVersion", "?")
            harness.record(f"HelmReleases: {count} releases of one chart to Ready", table, server_version=version,
                           load=f"{harness.load_average():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--reuse", default=None, help="a running `headwater dev cluster` to use")
    parser.add_argument("--record", action="store_true", help="append the table to docs/benchmarks.md")
    args = parser.parse_args()
    asyncio.run(run(args.count, args.concurrent, args.reuse, args.record))


if __name__ == "__main__":
    main()
