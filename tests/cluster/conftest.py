"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest

from headwater.runtime.kube import KubeClient
from headwater.runtime.kube.crds import install_crds
from tests.cluster.example_reconciler import EXAMPLE_CRD


@pytest.fixture(scope="session")
async def example_crd(kube: KubeClient) -> None:
    """The test-only `Example` CRD the example reconciler works on."""
    await install_crds(kube, [EXAMPLE_CRD])
