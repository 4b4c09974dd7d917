"""The Kustomization benchmark's harness on 5 pairs: its own numbers are sane (not its speed).

It starts its own source and kustomize controllers, restricted with `watch_label_selector` to a label
only its objects carry, so controllers of other tests in this process (the session `source_controller`
and `kustomize_controller` fixtures, if started) do not see its objects through the selector; it does
not use those fixtures.
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
from pathlib import Path
from types import ModuleType

import psutil
import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.runtime.kube import KubeClient

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
BENCH = Path(__file__).resolve().parents[2] / "bench" / "kustomizations.py"


def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_kustomizations", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_kustomization_bench_harness(kube: KubeClient, cluster_info: ClusterInfo, tmp_path: Path) -> None:
    bench = bench_module()
    record = next((p for p in cluster_info.processes if p.component == "kube-apiserver"), None)
    apiserver = psutil.Process(record.pid) if record else None
    run = secrets.token_hex(3)
    figures = await bench.measure(kube, 5, tmp_path, apiserver=apiserver, label=f"headwater.dev/bench={run}",
                                  prefix=f"bench-smoke-{run}", timeout=120.0)
    assert figures.ready_count == 5
    assert figures.handled_count == 5
    assert figures.builds == 5
    assert figures.fetches == 5
    assert figures.refresh_builds == 0
    assert figures.refresh_fetches == 0
    assert figures.refresh_applies in (None, 0)
    assert figures.rss_peak_mib > 0
    assert figures.cpu_seconds > 0
    assert 0 < figures.ready_seconds < 120
    if apiserver is not None:
        assert figures.apiserver_rss_peak_mib > 0
    assert "| 5 |" in bench.table(figures)
