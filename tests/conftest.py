"""Test harness: one real local control plane per test run, a fresh namespace per test.

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
from headwater.runtime.kube import KubeClient, connect

TEST_LABEL = "headwater.dev/test"


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
    await kube.delete("v1", "Namespace", name)
