"""Built objects, the way kustomize-controller decrypts them: whole encrypted objects and Secret data entries."""

from __future__ import annotations

import base64

import pytest
import yaml

from headwater.kustomize.sops import (
    MacMismatch,
    UnsupportedError,
    decrypt_resource,
    decrypt_source,
    decryption_required_message,
    detect_format,
    format_for_path,
    generator_sources,
    is_encrypted_secret,
    is_sops_encrypted,
)
from tests.unit.kustomize.sops.conftest import Sops

pytestmark = pytest.mark.unit

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: prod
  annotations:
    issued: 2024-05-01T10:00:00Z
type: Opaque
stringData:
  password: hunter2
  replicas: 3
data:
  token: dG9rZW4=
"""


def test_whole_object_is_decrypted_with_json_semantics(sops: Sops) -> None:
    encrypted = yaml.safe_load(sops.encrypt(SECRET, "yaml", "--encrypted-regex", "^(data|stringData)$"))
    assert is_sops_encrypted(encrypted)
    assert is_encrypted_secret(encrypted)
    decrypted = decrypt_resource(encrypted, sops.keys(), verify_mac=True)
    assert "sops" not in decrypted
    assert decrypted["stringData"] == {"password": "hunter2", "replicas": 3}
    assert decrypted["data"] == {"token": "dG9rZW4="}
    assert decrypted["metadata"]["name"] == "app"
    assert encrypted["stringData"]["password"].startswith("ENC[")  # the input is left alone


def test_built_object_changed_by_kustomize_needs_verify_mac_off(sops: Sops) -> None:
    encrypted = yaml.safe_load(sops.encrypt(SECRET, "yaml", "--encrypted-regex", "^(data|stringData)$"))
    encrypted["metadata"]["labels"] = {"kustomize.toolkit.fluxcd.io/name": "apps"}  # what the build adds
    with pytest.raises(MacMismatch) as caught:
        decrypt_resource(encrypted, sops.keys(), verify_mac=True)
    assert str(caught.value).startswith("Secret/prod/app: MAC mismatch")
    assert decrypt_resource(encrypted, sops.keys(), verify_mac=False)["stringData"]["password"] == "hunter2"


def test_generated_secret_entries_are_decrypted_by_key_name(sops: Sops) -> None:
    dotenv = sops.encrypt("USER=admin\nPASSWORD=s3cret\n", "dotenv")
    binary = sops.encrypt(b"\x00\x01binary key\xff", "binary")
    nested = sops.encrypt("password: from-yaml\n", "yaml")
    secret = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "generated-h5k2", "namespace": "prod"},
        "data": {name: base64.b64encode(value).decode() for name, value in
                 {"app.env": dotenv, "tls.key": binary, "config.yaml": nested, "plain": b"not encrypted"}.items()},
    }
    decrypted = decrypt_resource(secret, sops.keys(), verify_mac=True)
    data = {name: base64.b64decode(value) for name, value in decrypted["data"].items()}
    assert data["app.env"] == b"USER=admin\nPASSWORD=s3cret\n"
    assert data["tls.key"] == b"\x00\x01binary key\xff"
    assert yaml.safe_load(data["config.yaml"]) == {"password": "from-yaml"}
    assert data["plain"] == b"not encrypted"


def test_decrypt_disabled_annotation_and_plain_objects_are_left_alone(sops: Sops) -> None:
    encrypted = yaml.safe_load(sops.encrypt(SECRET, "yaml"))
    encrypted["metadata"] = {"name": "x", "annotations": {"kustomize.toolkit.fluxcd.io/decrypt": "Disabled"}}
    assert decrypt_resource(encrypted, sops.keys(), verify_mac=True) is encrypted
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    assert decrypt_resource(config_map, sops.keys(), verify_mac=True) is config_map


def test_ini_entries_are_reported_unsupported(sops: Sops) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"app.ini": base64.b64encode(b"[sops]\nmac = ENC[...]\n").decode()}}
    with pytest.raises(UnsupportedError, match=r"Secret/s data key 'app\.ini': the INI format"):
        decrypt_resource(secret, sops.keys(), verify_mac=True)


def test_detection_helpers() -> None:
    assert detect_format(b'{\n\t"sops": {"mac": "ENC[AES256_GCM,...]"}}') == "json"
    assert detect_format(b"a: b\nsops:\n    mac: ENC[AES256_GCM,") == "yaml"
    assert detect_format("A=b\nsops_mac=ENC[AES256_GCM,") == "dotenv"
    assert detect_format(b"[sops]\nmac = x") == "ini"
    assert detect_format(b"apiVersion: v1\nkind: Secret\n") is None
    assert is_sops_encrypted(b"sops_mac=ENC[x]")
    assert not is_sops_encrypted(b"plain")
    assert not is_sops_encrypted({"kind": "Secret", "sops": {"mac": ""}})
    assert not is_encrypted_secret({"apiVersion": "v1", "kind": "ConfigMap", "sops": {}})
    assert [format_for_path(p) for p in ("a.yaml", "a.yml", "b.json", ".dockerconfigjson", "c.env", "d.ini",
                                         "tls.crt")] == ["yaml", "yaml", "json", "json", "dotenv", "ini", "binary"]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "apps"}, "sops": {}}
    assert decryption_required_message(secret) == (
        "Secret/apps/db is SOPS encrypted, configuring decryption is required for this secret to be reconciled")


def test_generator_sources_and_their_formats() -> None:
    kustomization = {
        "secretGenerator": [
            {"name": "app", "files": ["tls.crt", "config=settings.json", "values.yaml"], "envs": ["app.env", "x"]},
            {"name": "other", "envs": ["extra.json"]},
        ],
        "patches": [{"path": "patch.yaml"}, {"path": "https://example.com/p.yaml"}, {"patch": "inline"}],
    }
    assert generator_sources(kustomization) == [
        ("tls.crt", "binary"), ("settings.json", "binary"), ("values.yaml", "yaml"), ("app.env", "dotenv"),
        ("x", "dotenv"), ("extra.json", "json"), ("patch.yaml", "yaml"),
    ]


def test_decrypt_source_only_touches_encrypted_files(sops: Sops) -> None:
    dotenv = sops.encrypt("A=1\n", "dotenv")
    assert decrypt_source(dotenv, "dotenv", sops.keys(), source="app.env") == b"A=1\n"
    assert decrypt_source(b"A=1\n", "dotenv", sops.keys(), source="app.env") is None
    certificate = sops.encrypt(b"-----BEGIN CERTIFICATE-----\n", "binary")
    assert decrypt_source(certificate, "binary", sops.keys(), source="tls.crt") == b"-----BEGIN CERTIFICATE-----\n"
    with pytest.raises(UnsupportedError, match="limit"):
        decrypt_source(b"x" * (5 * 1024 * 1024 + 1), "binary", sops.keys(), source="big.bin")
