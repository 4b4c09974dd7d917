"""Test harness: one real local control plane per test run, a fresh namespace per test, and the
secrets scan over the whole run (`tests/secrets_scan.py`).

The cluster starts only when a test that needs it is collected (session-scoped fixture). Set
`HEADWATER_TEST_CLUSTER=<name>` to reuse a cluster started with `headwater dev cluster up --name <name>`
(it is then left running), which makes iterating on one test fast.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from headwater.devcluster.cluster import Cluster, ClusterInfo
from headwater.devcluster.helmtools import HelmTools, ensure_helm_tools
from headwater.helm.engine import HelmEngine
from headwater.runtime.kube import KubeClient, connect
from tests import secrets_scan

TEST_LABEL = "headwater.dev/test"


def pytest_configure(config: pytest.Config) -> None:
    secrets_scan.install_log_handler()


@pytest.fixture(scope="session", autouse=True)
def _scan_log_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, the secrets scan reads every `*.log` this run's tests wrote."""
    yield
    secrets_scan.SCAN.scan_files(tmp_path_factory.getbasetemp())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if secrets_scan.SCAN.findings and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    scan = secrets_scan.SCAN
    if scan.canaries or scan.findings:
        terminalreporter.write_line(scan.report(), red=bool(scan.findings), bold=bool(scan.findings))


@pytest.fixture
def plant_secret() -> secrets_scan.PlantSecret:
    """`plant_secret(label)` → a canary secret value the secrets scan looks for in every output."""
    return secrets_scan.plant_secret


def _report(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def cluster_info() -> Iterator[ClusterInfo]:
    reuse = os.environ.get("HEADWATER_TEST_CLUSTER")
    if reuse:
        info = Cluster(reuse).info()
        if info is None:
            pytest.fail(f"HEADWATER_TEST_CLUSTER={reuse} but no such cluster runs")
        yield info
        return
    cluster = Cluster(f"pytest-{os.getpid()}")
    info = cluster.up(_report)
    try:
        yield info
    finally:
        cluster.down(_report)


@pytest.fixture(scope="session")
async def kube(cluster_info: ClusterInfo) -> AsyncIterator[KubeClient]:
    client = connect(cluster_info.kubeconfig, user_agent="headwater-tests")
    yield client
    try:
        await secrets_scan.scan_cluster(client, None)  # namespaces the tests made and did not delete
    finally:
        await client.close()


@pytest.fixture
async def namespace(kube: KubeClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh namespace named after the test, deleted (without waiting) afterwards."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{slug}-{secrets.token_hex(3)}"
    await kube.create({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {TEST_LABEL: "true"}},
    })
    yield name
    await secrets_scan.scan_cluster(kube, name)  # its events and statuses go with it
    await kube.delete("v1", "Namespace", name)


@pytest.fixture(scope="session")
def helm_tools() -> HelmTools:
    """The cached Helm engine and helm CLI (built on first use, like the control plane)."""
    return ensure_helm_tools(lambda message: None)


@pytest.fixture(scope="module")
async def engine(helm_tools: HelmTools) -> AsyncIterator[HelmEngine]:
    """One Helm engine process per test module."""
    running = HelmEngine(helm_tools.engine)
    yield running
    await running.close()
