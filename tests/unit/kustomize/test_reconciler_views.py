"""The Kustomization reconciler reads its object through the API's typed views: Flux's limits from one
place, and an object the views cannot read refused with a precise reason instead of a crash.

(The reconcile outcomes themselves are table-tested against the in-memory fake in tests/unit/reconcile.)
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from headwater.kustomize.reconciler import KustomizationReconciler
from headwater.runtime.controller import ReconcileContext
from headwater.runtime.informer import Informer
from headwater.runtime.kube import KubeClient
from headwater.runtime.result import TerminalError

pytestmark = pytest.mark.unit


def kustomization(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system", "generation": 1},
            "spec": {"interval": "10m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "repo"},
                     **spec}}


def reconciler() -> KustomizationReconciler:
    return KustomizationReconciler(cast(KubeClient, object()), cast(Informer, {}), {})


def context(obj: dict[str, Any]) -> ReconcileContext:
    return cast(ReconcileContext, SimpleNamespace(obj=obj))


@pytest.mark.parametrize(
    ("spec", "timeout", "retry"),
    [
        ({}, 570.0, 600.0),
        ({"timeout": "4s", "retryInterval": "2s"}, 30.0, 2.0),  # the 30 s floor holds for a set timeout
        ({"timeout": "2m"}, 120.0, 600.0),
        ({"interval": "40s"}, 30.0, 40.0),
    ],
)
def test_timeout_and_retry_interval_are_the_apis(spec: dict[str, Any], timeout: float, retry: float) -> None:
    obj = kustomization(**spec)
    assert reconciler().timeout(obj) == timeout
    assert reconciler().retry_interval(obj) == retry


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"interval": None, "timeout": None}, "spec.interval: Required value"),
        ({"sourceRef": {"kind": "GitRepository"}}, "spec.sourceRef.name: Required value"),
        ({"retryInterval": "later"}, "spec.retryInterval: Invalid value"),
    ],
)
async def test_an_object_the_views_cannot_read_stalls_with_validation_failed(change: dict[str, Any],
                                                                             detail: str) -> None:
    obj = kustomization(**change)
    obj["spec"] = {key: value for key, value in obj["spec"].items() if value is not None}
    with pytest.raises(TerminalError) as refused:
        await reconciler().reconcile(context(obj))
    assert refused.value.reason == "ValidationFailed"
    assert refused.value.message.startswith("invalid object: ")
    assert detail in refused.value.message


async def test_deleting_an_unreadable_object_deletes_nothing_and_never_blocks() -> None:
    obj = kustomization()  # deletionPolicy MirrorPrune (the API's default) needs spec.prune, which is gone
    del obj["spec"]["prune"]
    obj["status"] = {"inventory": {"entries": [{"id": "apps_web_apps_Deployment", "v": "v1"}]}}
    await reconciler().finalize(context(obj))  # no client is touched: the object() above has no methods
