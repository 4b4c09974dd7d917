"""HelmChart `spec.verify` on the real control plane: charts in Debian's docker-registry signed by the real cosign.

Four versions of one chart are pushed with the real `helm push`: 0.1.0 signed with key A, 0.2.0 signed with
key B, 0.3.0 not signed, 0.4.0 carrying a copy of 0.1.0's signature image (a valid signature by A, of
another digest). The signatures are made by the `cosign` CLI built from the pinned
`github.com/sigstore/cosign/v2` module (`cosign sign --key … --tlog-upload=false`, the key pair from
`cosign generate-key-pair` under COSIGN_PASSWORD), so the verifier is checked against cosign's own format.
Trusting A, 0.1.0 is stored and `SourceVerified`; 0.2.0, 0.3.0 and 0.4.0 are refused with Flux's reasons and
messages, a warning event, and no artifact. Trusting A and B, 0.2.0 verifies too.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.devcluster.cosigntool import ensure_cosign
from headwater.devcluster.helmtools import HelmTools
from headwater.runtime.kube import KubeClient
from tests.cluster.helm_objects import (
    HR,
    SRC,
    condition,
    download,
    helm_chart,
    helm_repository,
    not_ready,
    ready,
    until,
)
from tests.cluster.helm_repos import OCIRegistry, package
from tests.helm_charts import write_chart

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PASSWORD = "test-only-cosign-password"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def cosign(binary: Path, work: Path, *args: str) -> str:
    done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, cwd=work,
                          env={"HOME": str(work), "PATH": "/usr/bin:/bin", "COSIGN_PASSWORD": PASSWORD,
                               "TUF_ROOT": str(work / "tuf")})
    assert done.returncode == 0, done.stderr
    return done.stdout


def manifest(registry: OCIRegistry, repository: str, tag: str) -> bytes:
    request = urllib.request.Request(f"http://{registry.host}/v2/{repository}/manifests/{tag}",
                                     headers={"Accept": OCI_MANIFEST})
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
        return body


def manifest_digest(registry: OCIRegistry, repository: str, tag: str) -> str:
    return "sha256:" + hashlib.sha256(manifest(registry, repository, tag)).hexdigest()


def replay_signature(registry: OCIRegistry, repository: str, signed: str, target: str) -> None:
    """Store the signature image of tag `signed` as the signature of tag `target` (an attacker with push
    rights copying a valid signature onto another chart)."""
    body = manifest(registry, repository, manifest_digest(registry, repository, signed).replace(":", "-") + ".sig")
    tag = manifest_digest(registry, repository, target).replace(":", "-") + ".sig"
    request = urllib.request.Request(f"http://{registry.host}/v2/{repository}/manifests/{tag}", data=body,
                                     method="PUT", headers={"Content-Type": OCI_MANIFEST})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


@dataclass(frozen=True)
class SignedCharts:
    registry: OCIRegistry
    keys: dict[str, bytes]  # key name -> the PEM public key cosign wrote


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, helm_tools: HelmTools) -> Iterator[SignedCharts]:
    """greeter 0.1.0 signed by key A, 0.2.0 by key B, 0.3.0 unsigned, 0.4.0 with 0.1.0's signature copied onto
    it; the keys' public halves beside it."""
    binary = ensure_cosign(lambda message: None)
    work = tmp_path_factory.mktemp("signing")
    registry = OCIRegistry(tmp_path_factory.mktemp("registry")).start()
    try:
        for key in ("a", "b"):
            cosign(binary, work, "generate-key-pair", "--output-key-prefix", key)
        for version, key in (("0.1.0", "a"), ("0.2.0", "b"), ("0.3.0", None), ("0.4.0", None)):
            archive = package(helm_tools, work / "home", write_chart(work / f"src-{version}", version), work / "out")
            registry.push(helm_tools, work / "home", archive)
            if key is not None:
                digest = manifest_digest(registry, "charts/greeter", version)
                cosign(binary, work, "sign", "--key", f"{key}.key", "--tlog-upload=false", "--yes",
                       "--allow-insecure-registry", "--allow-http-registry",
                       f"{registry.host}/charts/greeter@{digest}")
        replay_signature(registry, "charts/greeter", "0.1.0", "0.4.0")
        yield SignedCharts(registry, {key: (work / f"{key}.pub").read_bytes() for key in ("a", "b")})
    finally:
        registry.stop()


async def keys_secret(kube: KubeClient, namespace: str, name: str, keys: dict[str, bytes]) -> None:
    data = {f"{key}.pub": base64.b64encode(pem).decode() for key, pem in keys.items()}
    data["cosign.password"] = base64.b64encode(b"not a key: ignored").decode()
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                       "data": data})


@pytest.mark.usefixtures("source_controller")
async def test_only_charts_signed_by_a_trusted_key_are_stored(
        kube: KubeClient, namespace: str, signed: SignedCharts) -> None:
    keys, host = signed.keys, signed.registry.host
    await helm_repository(kube, namespace, "charts", f"oci://{host}/charts", type="oci", insecure=True)
    await keys_secret(kube, namespace, "trust-a", {"a": keys["a"]})
    await keys_secret(kube, namespace, "trust-ab", keys)
    verify_a = {"provider": "cosign", "secretRef": {"name": "trust-a"}}
    for name, version in (("signed", "0.1.0"), ("other-key", "0.2.0"), ("unsigned", "0.3.0"),
                          ("replayed", "0.4.0")):
        await helm_chart(kube, namespace, name, "greeter", ("HelmRepository", "charts"), version=version,
                         verify=verify_a)
    await helm_chart(kube, namespace, "either-key", "greeter", ("HelmRepository", "charts"), version="0.2.0",
                     verify={"provider": "cosign", "secretRef": {"name": "trust-ab"}})

    for name, version in (("signed", "0.1.0"), ("either-key", "0.2.0")):
        chart = await until(kube, SRC, "HelmChart", name, namespace, ready, "verified and stored", timeout=120)
        assert condition(chart, "SourceVerified") | {"lastTransitionTime": None} == {
            "type": "SourceVerified", "status": "True", "reason": "Succeeded", "observedGeneration": 1,
            "message": f"verified signature of version {version}", "lastTransitionTime": None}
        assert (condition(chart, "Ready")["reason"], condition(chart, "Ready")["message"]) == (
            "ChartPullSucceeded", f"pulled 'greeter' chart with version '{version}'")
        artifact = chart["status"]["artifact"]
        assert artifact["revision"] == version
        assert "sha256:" + hashlib.sha256(await download(artifact["url"])).hexdigest() == artifact["digest"]

    for name, version, why in (("other-key", "0.2.0", ": no signature verifies with the trusted public keys"),
                               ("unsigned", "0.3.0", ""),
                               ("replayed", "0.4.0", ": a trusted signature names another manifest digest")):
        refused = await until(kube, SRC, "HelmChart", name, namespace, not_ready("ChartVerificationError"),
                              "refused", timeout=120)
        message = (f"chart verification error: failed to verify oci://{host}/charts/greeter:{version}: "
                   f"no matching signatures{why}")
        assert condition(refused, "Ready")["message"] == message
        assert (condition(refused, "BuildFailed")["reason"], condition(refused, "BuildFailed")["message"]) == (
            "ChartVerificationError", message)
        assert (condition(refused, "SourceVerified")["status"], condition(refused, "SourceVerified")["reason"],
                condition(refused, "SourceVerified")["message"]) == ("False", "VerificationError", message)
        assert "artifact" not in refused["status"]
        events = (await kube.list("v1", "Event", namespace, field_selector=f"involvedObject.name={name}"))["items"]
        assert any(e["type"] == "Warning" and e["reason"] == "ChartVerificationError" and e["message"] == message
                   for e in events), [e["message"] for e in events]


@pytest.mark.usefixtures("source_controller")
async def test_removing_verify_drops_the_condition(
        kube: KubeClient, namespace: str, signed: SignedCharts) -> None:
    """Flux drops SourceVerified (and the failure) when spec.verify goes; the chart is then stored."""
    await helm_repository(kube, namespace, "charts", f"oci://{signed.registry.host}/charts", type="oci",
                          insecure=True)
    await keys_secret(kube, namespace, "trust-a", {"a": signed.keys["a"]})
    await helm_chart(kube, namespace, "web", "greeter", ("HelmRepository", "charts"), version="0.3.0",
                     verify={"provider": "cosign", "secretRef": {"name": "trust-a"}})
    await until(kube, SRC, "HelmChart", "web", namespace, not_ready("ChartVerificationError"), "refused")
    await kube.patch(SRC, "HelmChart", "web", {"spec": {"verify": None}}, namespace=namespace)
    chart = await until(kube, SRC, "HelmChart", "web", namespace, ready, "stored unverified")
    assert condition(chart, "SourceVerified") == {}
    assert condition(chart, "BuildFailed") == {}
    assert chart["status"]["artifact"]["revision"] == "0.3.0"


@pytest.mark.usefixtures("source_controller", "helm_controller")
async def test_a_helm_release_installs_only_a_verified_chart(
        kube: KubeClient, namespace: str, signed: SignedCharts) -> None:
    """`chart.spec.verify` of a HelmRelease reaches its HelmChart: the signed version is installed; the
    chart with a copied signature never gets an artifact, so the release waits for one."""
    await helm_repository(kube, namespace, "charts", f"oci://{signed.registry.host}/charts", type="oci",
                          insecure=True)
    await keys_secret(kube, namespace, "trust-a", {"a": signed.keys["a"]})
    for name, version in (("good", "0.1.0"), ("bad", "0.4.0")):
        await kube.create({"apiVersion": HR, "kind": "HelmRelease", "metadata": {"name": name, "namespace": namespace},
                           "spec": {"interval": "10m", "chart": {"spec": {
                               "chart": "greeter", "version": version,
                               "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                               "verify": {"provider": "cosign", "secretRef": {"name": "trust-a"}}}}}})
    release = await until(kube, HR, "HelmRelease", "good", namespace, ready, "installed", timeout=180)
    assert condition(release, "Ready")["reason"] == "InstallSucceeded"
    chart = await kube.get(SRC, "HelmChart", f"{namespace}-good", namespace)
    assert condition(chart, "SourceVerified")["message"] == "verified signature of version 0.1.0"
    refused = await until(kube, SRC, "HelmChart", f"{namespace}-bad", namespace,
                          not_ready("ChartVerificationError"), "refused", timeout=120)
    assert "artifact" not in refused["status"]
    waiting = await kube.get(HR, "HelmRelease", "bad", namespace)
    assert condition(waiting, "Ready").get("status") != "True"
    assert ((waiting.get("status") or {}).get("history") or []) == []
