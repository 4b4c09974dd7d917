"""Controller processes: probes and metrics over HTTP, leader election across processes, shutdown."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.runtime.kube import KubeClient
from tests.cluster.example_reconciler import API_VERSION, KIND, example
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
LEASE_FLAGS = ["--enable-leader-election", "--leader-election-lease-duration=4s",
               "--leader-election-renew-deadline=3s", "--leader-election-retry-period=500ms"]


class Worker:
    """One example controller process and its journal."""

    def __init__(self, cluster: ClusterInfo, namespace: str, journal: Path, identity: str, *flags: str) -> None:
        self.journal = journal
        self.identity = identity
        argv = [sys.executable, "-m", "tests.cluster.example_process", "--kubeconfig", str(cluster.kubeconfig),
                "--namespace", namespace, "--journal", str(journal), "--identity", identity,
                "--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--log-level=debug", *flags]
        self.log = journal.with_suffix(".log").open("w")
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        rows = [json.loads(line) for line in self.journal.read_text().splitlines() if line]
        return [r for r in rows if kind is None or r["event"] == kind]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()




def http_get(address: list[Any], path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}{path}", timeout=5) as response:
        return int(response.status), response.read().decode()


async def started(worker: Worker) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        if worker.proc.poll() is not None:
            raise AssertionError(f"{worker.identity} exited: {worker.journal.with_suffix('.log').read_text()[-2000:]}")
        rows = worker.events("ready")
        return rows[0] if rows else None

    return await wait_for(ready, f"{worker.identity} to report ready", timeout=20)


@pytest.mark.usefixtures("example_crd")
async def test_probes_and_metrics_answer_with_flux_names(
    kube: KubeClient, namespace: str, cluster_info: ClusterInfo, tmp_path: Path, workers: list[Worker]
) -> None:
    worker = Worker(cluster_info, namespace, tmp_path / "a.jsonl", "a")
    workers.append(worker)
    addresses = (await started(worker))["addresses"]
    await kube.create(example("measured", namespace, interval="10m"))
    await kube.create(example("flaky", namespace, interval="10m", failures=1))
    await wait_for(lambda: _ended(worker, "measured"), "the Example to be reconciled", timeout=10)
    await wait_for(lambda: _ends(worker, "flaky", 2), "a failure and its retry", timeout=10)

    assert await asyncio.to_thread(http_get, addresses["health"], "/healthz") == (200, "ok")
    status, _ = await asyncio.to_thread(http_get, addresses["health"], "/readyz")
    assert status == 200
    status, body = await asyncio.to_thread(http_get, addresses["metrics"], "/metrics")
    assert status == 200
    for name in ("gotk_reconcile_duration_seconds_bucket", "gotk_reconcile_condition",
                 "controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
                 "workqueue_depth", "workqueue_adds_total"):
        assert name in body, f"{name} missing from /metrics"
    assert f'gotk_reconcile_condition{{kind="Example",name="measured",namespace="{namespace}",' in body
    assert 'controller_runtime_reconcile_total{controller="example-controller",result="success"} 2.0' in body
    assert 'controller_runtime_reconcile_errors_total{controller="example-controller"} 1.0' in body

    logs = [json.loads(line) for line in worker.journal.with_suffix(".log").read_text().splitlines()
            if line.startswith("{")]
    started_line = next(entry for entry in logs if "started 1 controller(s)" in entry["msg"])
    assert started_line["level"] == "info"
    assert "ts" in started_line
    failed = next(entry for entry in logs if entry["msg"].startswith("reconcile failed"))
    assert (failed["name"], failed["namespace"], failed["controllerKind"]) == ("flaky", namespace, "Example")
    assert failed["msg"] == "reconcile failed: ExampleFailed: deliberate failure 1"


async def _ended(worker: Worker, name: str) -> bool:
    return any(e["name"] == name for e in worker.events("end"))


async def _ends(worker: Worker, name: str, count: int) -> bool:
    return sum(e["name"] == name for e in worker.events("end")) >= count


@pytest.mark.usefixtures("example_crd")
async def test_only_the_leader_reconciles_and_a_killed_leader_is_replaced(
    kube: KubeClient, namespace: str, cluster_info: ClusterInfo, tmp_path: Path, workers: list[Worker]
) -> None:
    first = Worker(cluster_info, namespace, tmp_path / "one.jsonl", "one", *LEASE_FLAGS)
    second = Worker(cluster_info, namespace, tmp_path / "two.jsonl", "two", *LEASE_FLAGS)
    workers.extend([first, second])
    await started(first)
    await started(second)

    async def a_leader() -> Worker | None:
        leaders = [w for w in (first, second) if w.events("leading")]
        return leaders[0] if len(leaders) == 1 else None

    leader = await wait_for(a_leader, "exactly one leader", timeout=10)
    follower = second if leader is first else first
    lease = await kube.get("coordination.k8s.io/v1", "Lease", "example-controller-leader-election", namespace)
    assert lease["spec"]["holderIdentity"] == leader.identity

    for index in range(5):
        await kube.create(example(f"obj-{index}", namespace, interval="10m"))
    await wait_for(lambda: _all_ended(leader, 5), "the leader to reconcile all 5 objects", timeout=10)
    assert follower.events("start") == [], "a follower must not reconcile"

    leader.proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    await wait_for(lambda: _has(follower, "leading"), "the follower to take over", timeout=15)
    took_over = follower.events("leading")[0]["t"] - killed_at
    assert took_over <= 4 + 2 * 0.5 + 1.0, f"takeover took {took_over:.1f}s, lease duration is 4s"

    await kube.patch(API_VERSION, KIND, "obj-0", {"spec": {"message": "after failover"}}, namespace=namespace)
    await wait_for(lambda: _generation_ended(follower, "obj-0", 2), "the new leader to reconcile a change", timeout=10)
    leader_end = max(e["t"] for e in leader.events())
    assert all(e["t"] > leader_end for e in follower.events("start")), "both reconciled at once"


async def _all_ended(worker: Worker, count: int) -> bool:
    return len({e["name"] for e in worker.events("end")}) >= count


async def _has(worker: Worker, event: str) -> bool:
    return bool(worker.events(event))


async def _generation_ended(worker: Worker, name: str, generation: int) -> bool:
    return any(e["name"] == name and e["generation"] == generation for e in worker.events("end"))


@pytest.mark.usefixtures("example_crd")
async def test_sigterm_finishes_in_flight_reconciles_and_releases_the_lease(
    kube: KubeClient, namespace: str, cluster_info: ClusterInfo, tmp_path: Path, workers: list[Worker]
) -> None:
    worker = Worker(cluster_info, namespace, tmp_path / "slow.jsonl", "slow", "--delay=1.5", *LEASE_FLAGS)
    workers.append(worker)
    await started(worker)
    await wait_for(lambda: _has(worker, "leading"), "leadership", timeout=10)
    await kube.create(example("slow", namespace, interval="10m"))
    await wait_for(lambda: _has(worker, "start"), "the slow reconcile to start", timeout=10)

    worker.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(worker.proc.wait, 20)
    assert code == 0
    assert [e["name"] for e in worker.events("end")] == ["slow"], "the in-flight reconcile must finish"
    assert worker.events("exit")[0]["code"] == 0
    lease = await kube.get("coordination.k8s.io/v1", "Lease", "example-controller-leader-election", namespace)
    assert not lease["spec"].get("holderIdentity"), "the Lease must be released on shutdown"
    obj = await kube.get(API_VERSION, KIND, "slow", namespace)
    assert obj["status"]["observedGeneration"] == 1, "the finished reconcile's status must be written"
