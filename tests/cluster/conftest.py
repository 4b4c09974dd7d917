"""Fixtures shared by the integration tests against the cluster.

Besides the cluster fixtures of `tests/conftest.py`, tests here can use the real Git servers of
`tests/integration/conftest.py` (`repo_builder`, `git_http`, `git_ssh`, `git_http_factory`, `repo_name`)
and a source controller running in the test process (`source_controller`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.api.crdgen import crd_paths
from headwater.artifact.storage import Storage
from headwater.devcluster.helmtools import HelmTools
from headwater.devcluster.ports import PortAllocator
from headwater.runtime.controller import Controller
from headwater.runtime.kube import KubeClient
from headwater.runtime.kube.crds import install_crds, load_manifests
from headwater.runtime.manager import Manager
from headwater.runtime.options import ControllerOptions
from headwater.source.gitrepository import GitRepositoryReconciler
from headwater.source.spec import SPEC as SOURCE_SPEC
from headwater.source.spec import SourceFlags
from tests.cluster.example_reconciler import EXAMPLE_CRD
from tests.integration.conftest import (  # noqa: F401  (fixtures, used by name)
    git_http,
    git_http_factory,
    git_ssh,
    repo_builder,
    repo_name,
)
from tests.waiting import wait_for


@pytest.fixture(scope="session")
async def example_crd(kube: KubeClient) -> None:
    """The test-only `Example` CRD the example reconciler works on."""
    await install_crds(kube, [EXAMPLE_CRD])


@pytest.fixture(scope="session")
async def flux_crds(kube: KubeClient) -> list[str]:
    """Our generated Flux CRDs, installed and Established."""
    return await install_crds(kube, load_manifests(crd_paths()))


@dataclass
class RunningSource:
    manager: Manager
    storage_url: str

    @property
    def controller(self) -> Controller:
        return self.manager.controllers[0]

    @property
    def reconciler(self) -> GitRepositoryReconciler:
        reconciler = self.controller.reconciler
        assert isinstance(reconciler, GitRepositoryReconciler)
        return reconciler

    @property
    def store(self) -> Storage:
        return self.reconciler.store


@pytest.fixture(scope="session")
async def source_controller(
    kube: KubeClient, flux_crds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSource]:
    """The source controller (GitRepository) running in this process, watching all namespaces.

    Objects labelled `headwater.dev/isolated-source` are left to source controllers a test starts itself.
    """
    port = PortAllocator().allocate()
    storage: Path = tmp_path_factory.mktemp("storage")
    flags = SourceFlags(storage_path=str(storage), storage_addr=f"127.0.0.1:{port}",
                        storage_adv_addr=f"127.0.0.1:{port}", artifact_retention_ttl=60.0,
                        artifact_retention_records=2)
    options = ControllerOptions(concurrent=4, metrics_addr="0", health_addr="0", min_retry_delay=0.5,
                                max_retry_delay=5.0, watch_label_selector="!headwater.dev/isolated-source")
    manager = Manager("source-controller", kube, options)
    await SOURCE_SPEC.install(manager, options, flags)
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run(stop))
    await asyncio.wait_for(manager.leading.wait(), 30)
    yield RunningSource(manager, f"http://127.0.0.1:{port}")
    stop.set()
    await task


@pytest.fixture(scope="session")
async def kustomize_controller(kube: KubeClient, source_controller: RunningSource) -> AsyncIterator[Manager]:
    """The kustomize controller running in this process (with the source controller), all namespaces.

    Objects labelled `headwater.dev/isolated` are left to controllers a test starts itself (other flags).
    """
    from headwater.kustomize.spec import SPEC as KUSTOMIZE_SPEC

    options = ControllerOptions(concurrent=8, metrics_addr="0", health_addr="0", min_retry_delay=0.5,
                                max_retry_delay=5.0, requeue_dependency=30.0,
                                watch_label_selector="!headwater.dev/isolated")
    manager = Manager("kustomize-controller", kube, options)
    await KUSTOMIZE_SPEC.install(manager, options)
    async with running(manager):
        yield manager


@pytest.fixture(scope="session")
async def helm_controller(kube: KubeClient, flux_crds: list[str], helm_tools: HelmTools) -> AsyncIterator[Manager]:
    """The helm controller running in this process (its engine a child process), all namespaces.

    Objects labelled `headwater.dev/isolated` are left to controllers a test starts itself.
    """
    from headwater.helm.spec import SPEC as HELM_SPEC

    options = ControllerOptions(concurrent=4, metrics_addr="0", health_addr="0", min_retry_delay=0.5,
                                max_retry_delay=5.0, requeue_dependency=5.0,
                                watch_label_selector="!headwater.dev/isolated")
    manager = Manager("helm-controller", kube, options)
    await HELM_SPEC.install(manager, options)
    async with running(manager):
        yield manager


@contextlib.asynccontextmanager
async def running(manager: Manager) -> AsyncIterator[None]:
    """Run `manager` until the block ends, once it leads."""
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run(stop))
    await asyncio.wait_for(manager.leading.wait(), 30)
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture
async def database_crd(kube: KubeClient) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Makes a fresh Database kind (no status subresource: a chart's manifest sets its status) when called,
    Established, and answers its group; the CRDs made are deleted afterwards."""
    made: list[str] = []

    async def make() -> str:
        group = f"t{secrets.token_hex(3)}.headwater.dev"
        name = f"databases.{group}"
        await kube.create({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": name},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "databases", "singular": "database", "kind": "Database",
                               "listKind": "DatabaseList"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})
        made.append(name)

        async def established() -> bool:
            got = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
            return any(c["type"] == "Established" and c["status"] == "True"
                       for c in (got.get("status") or {}).get("conditions") or [])
        await wait_for(established, f"the CRD {name} to be established")
        return group

    yield make
    for name in made:
        await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
