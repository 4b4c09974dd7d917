"""Tampering is caught (MacMismatch), broken metadata is refused by name, and no cleartext leaks into errors."""

from __future__ import annotations

import base64
import re

import pytest
import yaml

from headwater.kustomize.sops import (
    MacMismatch,
    MalformedValueError,
    MetadataError,
    SopsError,
    decrypt_document,
)
from tests.unit.kustomize.sops.conftest import Sops

pytestmark = pytest.mark.unit

SECRETS = ("hunter2-very-secret", "second-secret-value", "third-secret")
SOURCE = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: tamper-me
stringData:
  password: {SECRETS[0]}
  token: {SECRETS[1]}
  list: [{SECRETS[2]}, other-item]
"""


@pytest.fixture(scope="module")
def regex_encrypted(sops: Sops) -> bytes:
    return sops.encrypt(SOURCE, "yaml", "--encrypted-regex", "^(data|stringData)$")


@pytest.fixture(scope="module")
def fully_encrypted(sops: Sops) -> bytes:
    return sops.encrypt(SOURCE, "yaml")


def assert_no_cleartext(error: BaseException) -> None:
    text = str(error) + repr(error.args)
    for secret in SECRETS:
        assert secret not in text
    assert error.__cause__ is None
    assert error.__context__ is None


def expect(error_type: type[SopsError], data: bytes, sops: Sops, **kwargs: object) -> SopsError:
    with pytest.raises(error_type) as caught:
        decrypt_document(data, "yaml", sops.keys(), source="apps/secret.enc.yaml", **kwargs)  # type: ignore[arg-type]
    assert_no_cleartext(caught.value)
    assert "apps/secret.enc.yaml" in str(caught.value)
    return caught.value


def test_untouched_file_decrypts(sops: Sops, regex_encrypted: bytes) -> None:
    document = yaml.safe_load(decrypt_document(regex_encrypted, "yaml", sops.keys()))
    assert document["stringData"]["password"] == SECRETS[0]


def test_changed_cleartext_value_is_a_mac_mismatch(sops: Sops, regex_encrypted: bytes) -> None:
    tampered = regex_encrypted.replace(b"name: tamper-me", b"name: tampered")
    error = expect(MacMismatch, tampered, sops)
    assert "MAC mismatch" in str(error)
    # kustomize-controller skips the document MAC for built objects; values still authenticate.
    relaxed = yaml.safe_load(decrypt_document(tampered, "yaml", sops.keys(), verify_mac=False))
    assert relaxed["metadata"]["name"] == "tampered"


def test_swapped_values_are_a_mac_mismatch(sops: Sops, fully_encrypted: bytes) -> None:
    items = re.search(rb"list:\n\s+- (ENC\[[^\]]+\])\n\s+- (ENC\[[^\]]+\])", fully_encrypted)
    assert items is not None
    first, second = items.group(1), items.group(2)
    swapped = fully_encrypted.replace(first, b"@@").replace(second, first).replace(b"@@", second)
    expect(MacMismatch, swapped, sops)


def test_removed_value_is_a_mac_mismatch(sops: Sops, fully_encrypted: bytes) -> None:
    removed = re.sub(rb"\n\s+token: ENC\[[^\]]+\]", b"", fully_encrypted)
    assert removed != fully_encrypted
    expect(MacMismatch, removed, sops)


def test_tampered_ciphertext_is_a_mac_mismatch(sops: Sops, fully_encrypted: bytes) -> None:
    match = re.search(rb"password: ENC\[AES256_GCM,data:([^,]+),", fully_encrypted)
    assert match is not None
    data = bytearray(base64.b64decode(match.group(1)))
    data[0] ^= 0x01
    tampered = fully_encrypted.replace(match.group(1), base64.b64encode(bytes(data)))
    error = expect(MacMismatch, tampered, sops, verify_mac=False)
    assert "stringData.password" in str(error)


def test_ciphertext_moved_to_another_key_is_a_mac_mismatch(sops: Sops, fully_encrypted: bytes) -> None:
    password = re.search(rb"password: (ENC\[[^\]]+\])", fully_encrypted)
    token = re.search(rb"token: (ENC\[[^\]]+\])", fully_encrypted)
    assert password is not None
    assert token is not None
    moved = fully_encrypted.replace(token.group(1), password.group(1))
    error = expect(MacMismatch, moved, sops, verify_mac=False)
    assert "stringData.token" in str(error)


def test_tampered_mac_is_a_mac_mismatch(sops: Sops, fully_encrypted: bytes) -> None:
    match = re.search(rb"mac: ENC\[AES256_GCM,data:([^,]+),", fully_encrypted)
    assert match is not None
    mac = bytearray(base64.b64decode(match.group(1)))
    mac[-1] ^= 0x80
    expect(MacMismatch, fully_encrypted.replace(match.group(1), base64.b64encode(bytes(mac))), sops)


def test_tampered_lastmodified_is_a_mac_mismatch(sops: Sops, fully_encrypted: bytes) -> None:
    tampered = re.sub(rb'lastmodified: "[^"]+"', b'lastmodified: "2001-01-01T00:00:00Z"', fully_encrypted)
    assert tampered != fully_encrypted
    expect(MacMismatch, tampered, sops)


def test_cleartext_where_encryption_is_required_is_refused(sops: Sops, fully_encrypted: bytes) -> None:
    replaced = re.sub(rb"token: ENC\[[^\]]+\]", b"token: injected", fully_encrypted)
    error = expect(MalformedValueError, replaced, sops, verify_mac=False)
    assert "stringData.token" in str(error)


@pytest.mark.parametrize(("iv_bytes", "message"), [(4, "too short"), (400, "longer than 128 bytes")])
def test_an_iv_of_an_impossible_length_is_refused_naming_the_value(
        sops: Sops, fully_encrypted: bytes, iv_bytes: int, message: str) -> None:
    # The long IV was found by the 10-minute SOPS fuzz run (the AES-GCM library's ValueError surfaced as
    # "unexpected ValueError while decrypting").
    match = re.search(rb"token: ENC\[AES256_GCM,data:[^,]+,iv:([^,]+),", fully_encrypted)
    assert match is not None
    odd = fully_encrypted.replace(match.group(1), base64.b64encode(b"\x01" * iv_bytes))
    error = expect(MalformedValueError, odd, sops, verify_mac=False)
    assert f"the IV of the encrypted value at 'stringData.token' is {message}" in str(error)


def test_missing_metadata_is_refused_naming_the_file(sops: Sops) -> None:
    error = expect(MetadataError, SOURCE.encode(), sops)
    assert "sops metadata not found" in str(error)


@pytest.mark.parametrize(("pattern", "replacement", "message"), [
    (rb'lastmodified: "[^"]+"', b'lastmodified: "yesterday"', "lastmodified"),
    (rb"    mac: ENC\[[^\]]+\]\n", b"", "'mac' is missing"),
    (rb"    encrypted_regex: [^\n]+\n", b"    encrypted_regex: x\n    unencrypted_suffix: _u\n", "more than one"),
    (rb"    age:\n(?:        .*\n|          .*\n)+", b"", "no keys found"),
    (rb"sops:\n", b"sops: [1, 2]\nunused:\n", "must be a mapping"),
], ids=["bad-lastmodified", "no-mac", "two-rules", "no-keys", "not-a-mapping"])
def test_malformed_metadata_is_refused_naming_the_file(
    sops: Sops, regex_encrypted: bytes, pattern: bytes, replacement: bytes, message: str
) -> None:
    broken = re.sub(pattern, replacement, regex_encrypted)
    assert broken != regex_encrypted
    error = expect(MetadataError, broken, sops)
    assert message in str(error)
