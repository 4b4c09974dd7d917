"""The Helm engine alone: N releases of one small chart installed, upgraded and read back, with the
engine's memory after each phase. The numbers behind docs/design/helm-engine.md.

    .venv/bin/python bench/helm_engine.py --cluster lead --releases 100 --concurrency 8

Uses a running `headwater dev cluster` (kwok makes the Deployments Available), one namespace per
release, waiting as the helm controller waits (kstatus watcher). Not a timed test: a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cluster.test_helm_engine import write_chart

from headwater.devcluster.cluster import Cluster
from headwater.devcluster.helmtools import ensure_helm_tools
from headwater.helm.engine import HelmEngine, KubeTarget
from headwater.runtime.kube import connect


async def run(cluster: str, releases: int, concurrency: int) -> dict[str, Any]:
    info = Cluster(cluster).info()
    if info is None:
        raise SystemExit(f"no cluster {cluster!r} runs: headwater dev cluster up --name {cluster}")
    tools = ensure_helm_tools(lambda message: None)
    kube = connect(info.kubeconfig, user_agent="bench-helm-engine")
    engine = HelmEngine(tools.engine)
    target = KubeTarget(kubeconfig=info.kubeconfig.read_text()).as_params()
    stamp = str(int(time.time()))
    names = [f"bench-helm-{stamp}-{i}" for i in range(releases)]
    for name in names:
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    limit = asyncio.Semaphore(concurrency)
    results: dict[str, Any] = {"releases": releases, "concurrency": concurrency}
    with tempfile.TemporaryDirectory() as tmp:
        chart = str(write_chart(Path(tmp)))

        async def one(op: str, name: str, values: dict[str, Any]) -> float:
            async with limit:
                started = time.perf_counter()
                await engine.call(op, {"kube": target, "namespace": name, "storage_namespace": name,
                                       "release_name": "app", "chart": chart, "values": values,
                                       "timeout_seconds": 300, "force_conflicts": True})
                return time.perf_counter() - started

        await engine.call("version")
        process = engine._process
        assert process is not None
        rss = psutil.Process(process.pid)
        results["rss_idle_mib"] = rss.memory_info().rss / 2**20
        for phase, op, values in (("install", "install", {"greeting": "a"}), ("upgrade", "upgrade", {"greeting": "b"}),
                                  ("unchanged upgrade", "upgrade", {"greeting": "b"})):
            started = time.perf_counter()
            durations = await asyncio.gather(*(one(op, name, values) for name in names))
            results[phase] = {"wall_s": time.perf_counter() - started, "median_s": statistics.median(durations),
                              "p95_s": sorted(durations)[int(len(durations) * 0.95) - 1 if len(durations) > 1 else 0],
                              "rss_mib": rss.memory_info().rss / 2**20}
        results["binary_mib"] = tools.engine.stat().st_size / 2**20
    await engine.close()
    for name in names:
        await kube.delete("v1", "Namespace", name)
    await kube.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default="dev")
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    results = asyncio.run(run(args.cluster, args.releases, args.concurrency))
    print(f"engine binary {results['binary_mib']:.0f} MiB, idle RSS {results['rss_idle_mib']:.0f} MiB; "
          f"{results['releases']} releases, {results['concurrency']} at a time")
    for phase in ("install", "upgrade", "unchanged upgrade"):
        row = results[phase]
        print(f"{phase:>18}: {row['wall_s']:6.1f} s wall, median {row['median_s']:.2f} s, p95 {row['p95_s']:.2f} s, "
              f"engine RSS {row['rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
