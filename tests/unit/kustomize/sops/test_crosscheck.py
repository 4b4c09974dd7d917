"""Our decryptor against the real `sops -d`, on fixtures the real `sops -e` encrypted a moment ago.

JSON, dotenv and binary output must be byte-for-byte what sops prints; YAML output is compared as parsed
data (sops keeps comments and its own quoting; the values and types must be the same).
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from headwater.kustomize.sops import KeySet, decrypt_document
from tests.unit.kustomize.sops.conftest import Sops

pytestmark = pytest.mark.unit

SECRET_YAML = """\
# a Flux-style Secret
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: apps
  labels:
    app.kubernetes.io/name: db   # trailing comment
    tier: "3"
  annotations:
    rotated: 2024-05-01T10:00:00Z
type: Opaque
stringData:
  username: admin
  password: "p@ss: w0rd#!"
  port: 5432
  ratio: 0.75
  enabled: true
  disabled: false
  legacy: yes
  octal: 0o17
  big: 1e30
  nothing: null
  empty: ""
  unicode: "caf\\u00e9 \\u2013 日本"
  multiline: |
    -----BEGIN CERTIFICATE-----
    MIIBszCCAVmgAwIBAgIUU
    -----END CERTIFICATE-----
  folded: >
    one
    two
  nested:
    deeper:
      list:
        - 1
        - two
        - 3.5
        - {k: v, n: 7}
        - [a, b]
data:
  token: c2VjcmV0LXRva2Vu
"""


def parsed(data: bytes) -> object:
    return list(yaml.safe_load_all(data))


def check_yaml(sops: Sops, encrypted: bytes, keys: KeySet | None = None) -> bytes:
    ours = decrypt_document(encrypted, "yaml", keys or sops.keys(), source="secret.enc.yaml")
    assert parsed(ours) == parsed(sops.decrypt(encrypted, "yaml"))
    return ours


def test_yaml_default_rules_match_sops(sops: Sops) -> None:
    encrypted = sops.encrypt(SECRET_YAML, "yaml")
    assert b"password: ENC[AES256_GCM" in encrypted
    assert b"#ENC[AES256_GCM" in encrypted
    ours = check_yaml(sops, encrypted)
    document = yaml.safe_load(ours)
    assert document["stringData"]["password"] == "p@ss: w0rd#!"
    assert document["stringData"]["port"] == 5432
    assert document["stringData"]["enabled"] is True
    assert document["stringData"]["legacy"] == "yes"  # go-yaml typing: a string, not a YAML 1.1 boolean
    assert document["stringData"]["octal"] == 15
    assert document["stringData"]["multiline"].startswith("-----BEGIN CERTIFICATE-----\nMII")
    assert document["stringData"]["nested"]["deeper"]["list"][3] == {"k": "v", "n": 7}
    assert list(document) == ["apiVersion", "kind", "metadata", "type", "stringData", "data"]  # order kept


def test_yaml_flux_encrypted_regex_matches_sops(sops: Sops) -> None:
    encrypted = sops.encrypt(SECRET_YAML, "yaml", "--encrypted-regex", "^(data|stringData)$")
    assert b"name: db-credentials" in encrypted
    assert b"username: ENC[" in encrypted
    check_yaml(sops, encrypted)


@pytest.mark.parametrize("options", [
    ("--unencrypted-suffix", "_plain"),
    ("--encrypted-suffix", "word"),
    ("--unencrypted-regex", "^(metadata|kind|apiVersion)$"),
    ("--encrypted-regex", "^password$", "--mac-only-encrypted"),
    ("--encrypted-comment-regex", "sops:enc"),
    ("--unencrypted-comment-regex", "sops:plain"),
], ids=["unencrypted-suffix", "encrypted-suffix", "unencrypted-regex", "mac-only-encrypted",
        "encrypted-comment-regex", "unencrypted-comment-regex"])
def test_yaml_crypt_rules_match_sops(sops: Sops, options: tuple[str, ...]) -> None:
    source = SECRET_YAML.replace("  username: admin", "  # sops:enc\n  username: admin\n  note_plain: visible") \
        .replace("  port: 5432", "  # sops:plain\n  port: 5432")
    check_yaml(sops, sops.encrypt(source, "yaml", *options))


def test_yaml_multiple_documents_match_sops(sops: Sops) -> None:
    source = "a: 1\nb: [x, y]\n---\nc: {d: secret}\n---\ne: last\n"
    ours = check_yaml(sops, sops.encrypt(source, "yaml"))
    assert parsed(ours) == [{"a": 1, "b": ["x", "y"]}, {"c": {"d": "secret"}}, {"e": "last"}]


def test_yaml_to_json_output_matches_sops_bytes(sops: Sops) -> None:
    encrypted = sops.encrypt(SECRET_YAML, "yaml")
    ours = decrypt_document(encrypted, "yaml", sops.keys(), output_format="json")
    assert ours == sops.decrypt(encrypted, "yaml", "json")


def test_yaml_to_dotenv_output_matches_sops_bytes(sops: Sops) -> None:
    encrypted = sops.encrypt("i: 7\nf: 3.0\ng: 1234567.0\nb: true\nt: 2001-12-14T21:59:43.10-05:00\nn: null\n"
                             "s: \"two\\nlines\"\n", "yaml")
    ours = decrypt_document(encrypted, "yaml", sops.keys(), output_format="dotenv")
    assert ours == sops.decrypt(encrypted, "yaml", "dotenv")


JSON_DOCUMENT = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "json-secret", "labels": {"a": "b"}},
    "stringData": {"html": "<a href=\"x\">&amp;</a>", "controls": "tab\there\nnew\bback\fform\u0001\u2028",
                   "unicode": "çé 日本 🙂", "escaped_slash": "a/b\\c"},
    "numbers": [0, -1, 42, 3.25, -0.5, 1e21, 1.5e-7, 12345678901234567890, 1e-6, 0.1],
    "flags": [True, False, None],
    "empty_object": {},
    "empty_list": [],
    "deep": {"x": [{"y": [[1, 2], {"z": "end"}]}]},
}


def test_json_matches_sops_bytes(sops: Sops) -> None:
    encrypted = sops.encrypt(json.dumps(JSON_DOCUMENT, ensure_ascii=False), "json")
    ours = decrypt_document(encrypted, "json", sops.keys(), source="secret.enc.json")
    assert ours == sops.decrypt(encrypted, "json")


def test_json_with_encrypted_regex_and_duplicate_free_order(sops: Sops) -> None:
    text = json.dumps({"z": 1, "a": {"password": "pw", "user": "u"}, "m": "cleartext"})
    encrypted = sops.encrypt(text, "json", "--encrypted-regex", "password")
    ours = decrypt_document(encrypted, "json", sops.keys())
    assert ours == sops.decrypt(encrypted, "json")
    assert list(json.loads(ours)) == ["z", "a", "m"]


DOTENV = (
    "# database settings\n"
    "DB_HOST=db.internal\n"
    "DB_PASSWORD=s3cr3t=with=equals\n"
    "EMPTY=\n"
    "MULTI=first\\nsecond\n"
    "  SPACED = value with spaces  \n"
    "QUOTED=\"kept as is\"\n"
    "UNICODE=日本\n"
    "#trailing comment\n"
)


def test_dotenv_matches_sops_bytes(sops: Sops) -> None:
    encrypted = sops.encrypt(DOTENV, "dotenv")
    assert b"sops_mac=ENC[" in encrypted
    ours = decrypt_document(encrypted, "dotenv", sops.keys(), source="app.enc.env")
    assert ours == sops.decrypt(encrypted, "dotenv")


@pytest.mark.parametrize("payload", [
    os.urandom(1),
    bytes(range(256)) * 4 + os.urandom(512),
    b"[database]\nuser = admin\npassword = hunter2\n",
    "ünïcödé text without newline".encode(),
], ids=["one-byte", "random-binary", "ini-file", "unicode"])
def test_binary_matches_sops_bytes(sops: Sops, payload: bytes) -> None:
    encrypted = sops.encrypt(payload, "binary")
    ours = decrypt_document(encrypted, "binary", sops.keys(), source="tls.key")
    assert ours == sops.decrypt(encrypted, "binary") == payload


def test_openpgp_key_decrypts_like_sops(sops: Sops) -> None:
    encrypted = sops.encrypt(SECRET_YAML, "yaml", "--pgp", sops.pgp_fingerprint)
    assert b"age:" not in encrypted
    keys = KeySet.from_secret_data({"sops.asc": sops.pgp_armored})
    check_yaml(sops, encrypted, keys)
    encrypted_json = sops.encrypt(json.dumps(JSON_DOCUMENT), "json", "--pgp", sops.pgp_fingerprint)
    assert decrypt_document(encrypted_json, "json", keys) == sops.decrypt(encrypted_json, "json")


def test_file_for_age_and_pgp_opens_with_either(sops: Sops) -> None:
    encrypted = sops.encrypt(DOTENV, "dotenv", "--age", sops.age_recipient, "--pgp", sops.pgp_fingerprint)
    expected = sops.decrypt(encrypted, "dotenv")
    assert decrypt_document(encrypted, "dotenv", KeySet.from_secret_data({"k.asc": sops.pgp_armored})) == expected
    assert decrypt_document(encrypted, "dotenv", sops.keys()) == expected


def test_shamir_key_groups(sops: Sops) -> None:
    import pyrage

    third = pyrage.x25519.Identity.generate()
    config = sops.root / "shamir.yaml"
    config.write_text(
        "creation_rules:\n"
        "  - shamir_threshold: 2\n"
        "    key_groups:\n"
        f"      - age: [{sops.age_recipient}]\n"
        f"      - age: [{sops.other_age_recipient}]\n"
        f"      - age: [{third.to_public()}]\n"
    )
    encrypted = sops.encrypt(SECRET_YAML, "yaml", config=config)
    assert b"key_groups:" in encrypted
    assert b"shamir_threshold: 2" in encrypted
    two_of_three = KeySet.from_secret_data({"a.agekey": sops.age_identity.encode(),
                                            "b.agekey": f"{third}\n".encode()})
    check_yaml(sops, encrypted, two_of_three)
