"""The GitRepository reconciler reads its object through the API's typed views: an object they cannot
read is refused with a precise reason (ValidationFailed) before any Git traffic."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from headwater.artifact.storage import Storage
from headwater.runtime.controller import ReconcileContext
from headwater.runtime.informer import Informer
from headwater.runtime.kube import KubeClient
from headwater.runtime.result import TerminalError
from headwater.source.gitrepository import GitRepositoryReconciler

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        ({"interval": "1m"}, "spec.url: Required value"),
        ({"interval": "1m", "url": "https://example.com/r", "timeout": "soon"}, "spec.timeout: Invalid value"),
    ],
)
async def test_an_object_the_views_cannot_read_stalls_with_validation_failed(spec: dict[str, Any],
                                                                             detail: str) -> None:
    obj = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
           "metadata": {"name": "repo", "namespace": "flux-system"}, "spec": spec}
    reconciler = GitRepositoryReconciler(cast(KubeClient, object()), cast(Storage, object()), cast(Informer, {}))
    with pytest.raises(TerminalError) as refused:
        await reconciler.reconcile(cast(ReconcileContext, SimpleNamespace(obj=obj)))
    assert refused.value.reason == "ValidationFailed"
    assert detail in refused.value.message
