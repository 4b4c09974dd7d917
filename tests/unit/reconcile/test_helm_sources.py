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


def verified_chart(repository: str, verify: dict[str, Any]) -> dict[str, Any]:
    obj = chart("HelmRepository", repository)
    obj["spec"]["verify"] = verify
    return obj


HTTP_INDEX = f"helmrepository/{NAMESPACE}/http/index.yaml"


def http_repository() -> dict[str, Any]:
    return {"apiVersion": SOURCE_API, "kind": "HelmRepository", "metadata": {"name": "http", "namespace": NAMESPACE},
            "spec": {"url": "https://charts.example", "interval": "10m"},
            "status": {"artifact": {"path": HTTP_INDEX, "revision": "sha256:" + "0" * 64,
                                    "digest": "sha256:" + "0" * 64, "lastUpdateTime": "2026-01-01T00:00:00Z",
                                    "url": "http://x/index.yaml"}}}


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE},
            "stringData": data}


# (case, repository, spec.verify, Secret, the message after "failed to verify the signature using provider ")
VERIFY_REFUSALS: list[tuple[str, str, dict[str, Any], dict[str, Any] | None, str]] = [
    ("notation", "oci", {"provider": "notation", "secretRef": {"name": "keys"}}, None,
     "'notation': the 'notation' provider is not supported by headwater; only 'cosign' with public keys in "
     "spec.verify.secretRef is"),
    ("cosign keyless", "oci", {"provider": "cosign", "matchOIDCIdentity": [{"issuer": ".*", "subject": ".*"}]},
     None, "'cosign keyless': keyless verification (no secretRef, matchOIDCIdentity) is not supported by "
           "headwater; give public keys in spec.verify.secretRef"),
    ("missing Secret", "oci", {"provider": "cosign", "secretRef": {"name": "keys"}}, None,
     "'cosign': secrets \"keys\" not found"),
    ("Secret without .pub keys", "oci", {"provider": "cosign", "secretRef": {"name": "keys"}},
     secret("keys", {"cosign.key": "private"}), f"'cosign': no public keys found in secret '{NAMESPACE}/keys'"),
    ("Secret with a broken key", "oci", {"provider": "cosign", "secretRef": {"name": "keys"}},
     secret("keys", {"a.pub": "not a key"}), f"'cosign': secret '{NAMESPACE}/keys' entry 'a.pub' is not a PEM "
                                              "public key"),
    ("HTTP repository", "http", {"provider": "cosign", "secretRef": {"name": "keys"}}, None,
     "'cosign': signature verification is only supported for charts from an OCI HelmRepository (type: oci)"),
]


@pytest.mark.parametrize(("repository", "verify", "keys", "message"), [c[1:] for c in VERIFY_REFUSALS],
                         ids=[c[0] for c in VERIFY_REFUSALS])
async def test_a_verification_that_cannot_be_set_up_is_refused_before_any_pull(
        fake: FakeKube, tmp_path: Path, repository: str, verify: dict[str, Any], keys: dict[str, Any] | None,
        message: str) -> None:
    """Nothing is fetched (the registry `registry.example` does not exist): the refusal comes first."""
    fake.server.put(oci_repository() if repository == "oci" else http_repository())
    index = tmp_path / "storage" / HTTP_INDEX
    index.parent.mkdir(parents=True)
    index.write_text("apiVersion: v1\nentries: {}\n")
    if keys is not None:
        fake.server.put(keys)
    fake.server.put(verified_chart(repository, verify))
    async with rig_for("source", fake, storage=tmp_path / "storage", kind="HelmChart") as rig:
        outcome = await rig.reconcile("web")
    expected = f"failed to verify the signature using provider {message}"
    assert outcome.condition("Ready") == ("False", "VerificationError")
    assert outcome.condition("SourceVerified") == ("False", "VerificationError")
    assert outcome.message("SourceVerified") == outcome.message() == expected
    assert outcome.condition("FetchFailed") is None
    assert ("Warning", "VerificationError", expected) in outcome.events
    assert "artifact" not in outcome.status
    assert outcome.requeue.kind == "backoff"
