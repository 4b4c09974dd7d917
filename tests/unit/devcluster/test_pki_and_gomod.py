"""Certificates the apiserver accepts, kubeconfigs clients read, wrapper go.mod generation, ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from headwater.devcluster import gomod, pki
from headwater.devcluster.cluster import fake_node
from headwater.devcluster.ports import PortAllocator, is_free
from headwater.devcluster.versions import staging_version
from headwater.runtime.kube.config import config_from_dict

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def creds(tmp_path_factory: pytest.TempPathFactory) -> pki.PKI:
    return pki.generate(tmp_path_factory.mktemp("pki"))


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_certificate_is_signed_by_the_ca_and_names_the_apiserver(creds: pki.PKI) -> None:
    ca, serving = load(creds.ca_cert), load(creds.serving_cert)
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "10.96.0.1"}
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_admin_certificate_is_a_system_masters_client(creds: pki.PKI) -> None:
    admin = load(creds.admin_cert)
    admin.verify_directly_issued_by(load(creds.ca_cert))
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    usage = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_private_keys_are_readable_only_by_the_owner(creds: pki.PKI) -> None:
    for key in (creds.ca_key, creds.serving_key, creds.admin_key, creds.sa_key):
        assert key.stat().st_mode & 0o077 == 0, key


def test_kubeconfig_round_trips_through_our_loader(creds: pki.PKI) -> None:
    text = pki.kubeconfig(creds, "https://127.0.0.1:6443", "dev")
    config = config_from_dict(yaml.safe_load(text))
    assert config.server == "https://127.0.0.1:6443"
    assert config.ca_data == creds.ca_cert.read_bytes()
    assert config.client_cert_data == creds.admin_cert.read_bytes()
    assert config.context_name == "headwater-dev"
    assert config.ssl_context()  # the embedded cert and key load into an SSL context


UPSTREAM_GOMOD = """module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
\tgithub.com/foo/bar v1.0.0
\tk8s.io/api v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/streaming => ./staging/src/k8s.io/streaming
)
"""


@pytest.mark.parametrize(
    ("version", "staging"),
    [("v1.36.4", "v0.36.4"), ("v1.36.0", "v0.36.0"), ("v1.40.12", "v0.40.12"), ("1.36.4", "v0.36.4")],
)
def test_staging_modules_share_the_v0_minor_patch_tag(version: str, staging: str) -> None:
    assert staging_version(version) == staging


def test_wrapper_gomod_replaces_every_staging_module_with_its_tag() -> None:
    text = gomod.kubernetes_wrapper_gomod(UPSTREAM_GOMOD, "v1.36.4")
    assert "go 1.26.0" in text
    assert "godebug default=go1.26" in text
    assert "require k8s.io/kubernetes v1.36.4" in text
    replaces = [line.strip() for line in text.splitlines() if "=>" in line]
    assert replaces == [
        "k8s.io/api => k8s.io/api v0.36.4",
        "k8s.io/client-go => k8s.io/client-go v0.36.4",
        "k8s.io/streaming => k8s.io/streaming v0.36.4",
    ]
    assert "github.com/foo/bar" not in text


def test_wrapper_gomod_refuses_an_unexpected_format() -> None:
    with pytest.raises(ValueError, match="staging replaces"):
        gomod.kubernetes_wrapper_gomod("module k8s.io/kubernetes\n\ngo 1.26.0\n", "v1.36.4")


def test_committed_wrapper_matches_the_pinned_versions() -> None:
    assert gomod.packaged_version(gomod.PACKAGED / "kubernetes", "k8s.io/kubernetes") == "v1.36.4"
    assert gomod.packaged_version(gomod.PACKAGED / "etcd", "go.etcd.io/etcd/server/v3") == "v3.6.16"
    committed = (gomod.PACKAGED / "kubernetes" / "go.mod").read_text()
    assert committed.count(" => k8s.io/") == 33  # every staging module of v1.36.4
    assert (gomod.PACKAGED / "kubernetes" / "go.sum").stat().st_size > 0


def test_port_allocator_uses_a_free_preferred_port_and_skips_a_taken_one() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        assert not is_free(taken)
        allocator = PortAllocator()
        other = allocator.allocate(preferred=taken)
        assert other != taken
    free = PortAllocator().allocate()
    allocator = PortAllocator()
    assert allocator.allocate(preferred=free) == free
    assert allocator.allocate(preferred=free) != free  # never handed out twice
    ports = {allocator.allocate() for _ in range(20)}
    assert len(ports) == 20


def test_fake_nodes_have_no_taints_and_are_managed_by_kwok() -> None:
    node = fake_node("kwok-node-0")
    assert "taints" not in node["spec"]
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert node["status"]["allocatable"]["pods"] == "110"
