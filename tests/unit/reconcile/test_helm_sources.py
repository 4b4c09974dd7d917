"""HelmRepository and HelmChart reconciles over the fake apiserver: the outcomes that need no network.

An OCI HelmRepository is static (Flux v1): a fresh one gets no finalizer and no status, one left with both
by an earlier version is cleaned once, and nothing is reconciled. A HelmChart whose source is missing, has
no artifact, or is a Bucket (not implemented, #14) fails with Flux's reasons and is retried.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headwater.testing.fakekube import FakeKube
from tests.unit.reconcile.harness import NAMESPACE, SOURCE_API, rig_for

pytestmark = pytest.mark.unit


def oci_repository(**meta: Any) -> dict[str, Any]:
    return {"apiVersion": SOURCE_API, "kind": "HelmRepository", "metadata": {"name": "oci", "namespace": NAMESPACE,
                                                                             **meta},
            "spec": {"type": "oci", "url": "oci://registry.example/charts", "interval": "10m"}}


async def test_an_oci_helm_repository_is_static(fake: FakeKube, tmp_path: Path) -> None:
    fake.server.put(oci_repository())
    async with rig_for("source", fake, storage=tmp_path / "storage", kind="HelmRepository") as rig:
        outcome = await rig.reconcile("oci")
    assert outcome.obj is not None
    assert not outcome.reconciled
    assert outcome.status == {}
    assert outcome.obj["metadata"].get("finalizers") in (None, [])


async def test_a_stale_status_and_finalizer_are_removed_once(fake: FakeKube, tmp_path: Path) -> None:
    stale = oci_repository(finalizers=["finalizers.fluxcd.io"])
    stale["status"] = {"observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "old",
         "lastTransitionTime": "2024-01-01T00:00:00Z", "observedGeneration": 1}]}
    fake.server.put(stale)
    async with rig_for("source", fake, storage=tmp_path / "storage", kind="HelmRepository") as rig:
        outcome = await rig.reconcile("oci")
        again = await rig.reconcile("oci")
    assert outcome.obj is not None
    assert outcome.obj["metadata"].get("finalizers") in (None, [])
    assert "conditions" not in (outcome.obj.get("status") or {})
    assert again.status_writes == 0


def chart(kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": SOURCE_API, "kind": "HelmChart", "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {"interval": "10m", "chart": "podinfo", "sourceRef": {"kind": kind, "name": name}}}


@pytest.mark.parametrize(("source", "extra", "reason", "message"), [
    (("HelmRepository", "absent"), None, "SourceUnavailable",
     'failed to get source: helmrepositories.source.toolkit.fluxcd.io "absent" not found'),
    (("HelmRepository", "empty"), {"apiVersion": SOURCE_API, "kind": "HelmRepository",
                                   "metadata": {"name": "empty", "namespace": NAMESPACE},
                                   "spec": {"url": "https://charts.example", "interval": "10m"}},
     "NoSourceArtifact", "no artifact available for HelmRepository source 'empty'"),
    (("Bucket", "b"), None, "SourceUnavailable",
     f"failed to get source: Bucket '{NAMESPACE}/b' cannot be read: the Bucket kind is not implemented yet"),
])
async def test_a_chart_without_a_usable_source_fails_and_is_retried(
        fake: FakeKube, tmp_path: Path, source: tuple[str, str], extra: dict[str, Any] | None, reason: str,
        message: str) -> None:
    if extra is not None:
        fake.server.put(extra)
    fake.server.put(chart(*source))
    async with rig_for("source", fake, storage=tmp_path / "storage", kind="HelmChart") as rig:
        outcome = await rig.reconcile("web")
    assert outcome.condition("Ready") == ("False", reason)
    assert outcome.condition("FetchFailed") == ("True", reason)
    assert outcome.condition("Reconciling") == ("True", "ProgressingWithRetry")
    assert outcome.message() == message
    assert outcome.requeue.kind == "backoff"
