"""The benchmark harness at a small N: its own numbers are sane (never its speed).

Each scenario starts its own controller processes, watching only a label its objects carry; the objects
also carry `headwater.dev/isolated`, which the suite's shared kustomize controller leaves alone. (The
shared source controller, if running, also fetches these GitRepositories: server-side fetch counts may
double, so the checks use the controllers' own counters.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.runtime.kube import KubeClient

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import harness  # noqa: E402
import idle  # noqa: E402
import kustomizations  # noqa: E402
import latency  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
N = 20


async def test_scale_and_limit(kube: KubeClient, cluster_info: ClusterInfo, tmp_path: Path) -> None:
    apiserver = harness.apiserver_process(cluster_info)
    figures = await kustomizations.measure(kube, cluster_info, N, tmp_path, apiserver=apiserver,
                                           prefix="bench-smoke", limit_concurrencies=(4, 16), timeout=120.0)
    assert figures.ready_count == N
    assert figures.handled_count == N
    assert 0 < figures.sources_ready_seconds <= figures.ready_seconds < 120
    usage, refresh = figures.usage, figures.refresh
    assert usage.counters["builds"] == N
    assert usage.counters["artifact_fetches"] == N
    assert usage.counters["git_fetches"] == N
    assert figures.server_fetches >= N
    assert usage.counters["applies"] == 4 * N
    assert refresh.counters["builds"] == refresh.counters["artifact_fetches"] == refresh.counters["applies"] == 0
    assert refresh.counters["git_fetches"] == 0
    for process in ("source", "kustomize"):
        assert figures.rss_mib[process] > 0
        assert usage.cpu[process] > 0
    assert usage.children_cpu["kustomize"] > 0  # the `kubectl kustomize` builds
    if apiserver is not None:
        assert figures.rss_mib["apiserver"] > 0
        assert usage.requests.get("APPLY", 0) >= 4 * N
    assert figures.limit is not None
    assert set(figures.limit.seconds) == {4, 16}
    assert all(s > 0 for s in figures.limit.seconds.values())
    text = kustomizations.table(figures)
    assert f"({N}/{N} Ready)" in text
    assert "headwater ÷ limit" in text


async def test_latency(kube: KubeClient, cluster_info: ClusterInfo, tmp_path: Path) -> None:
    results = [await latency.measure(kube, cluster_info, tmp_path / trigger, pushes=3, trigger=trigger,
                                     interval="2s", prefix="bench-smoke-lat")
               for trigger in ("annotation", "interval")]
    for figures in results:
        assert figures.missed == 0
        assert all(s > 0 for s in figures.samples)
        p50, p95, top = figures.quantiles()
        assert 0 < p50 <= p95 <= top
    assert "(3/3 pushes arrived)" in harness.markdown_table(latency.rows(results))


async def test_idle(kube: KubeClient, cluster_info: ClusterInfo, tmp_path: Path) -> None:
    figures = await idle.measure(kube, cluster_info, 5, tmp_path, minutes=0.15, interval="3s",
                                 apiserver=harness.apiserver_process(cluster_info), prefix="bench-smoke-idle",
                                 settle=1.0, timeout=120.0)
    usage = figures.usage
    assert figures.ready_count == 5
    assert 8 < figures.window_seconds < 30
    assert usage.counters["kustomize_reconciles"] >= 5  # the no-op path ran ...
    assert usage.counters["source_reconciles"] >= 5
    for work in ("builds", "artifact_fetches", "git_fetches", "applies"):  # ... and did no work
        assert usage.counters[work] == 0, work
    assert figures.server_fetches == 0
    assert figures.rss_mib["source"] > 0
    assert figures.rss_mib["kustomize"] > 0
    assert "CPU per minute" in idle.table(figures)
