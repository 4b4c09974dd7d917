"""Decrypting one SOPS value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.

Each value is AES-256-GCM under the document's data key, with a 32-byte IV and the value's key path
(`data:password:`) as additional authenticated data, so a ciphertext moved to another key fails to
authenticate. The `type` says how to turn the plaintext back into a value (Go's `strconv` rules).
Errors name the path, never the plaintext or the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from headwater.kustomize.sops.errors import MacMismatch, MalformedValueError, UnsupportedError
from headwater.kustomize.sops.goscalars import go_atoi, go_parse_bool, go_parse_float, parse_rfc3339
from headwater.kustomize.sops.tree import Comment, Value, bytes_to_str

_ENCRYPTED = re.compile(r"ENC\[AES256_GCM,data:([^,\]]+),iv:([^,\]]+),tag:([^,\]]+),type:([^,\]]+)\]")
_MAX_IV_SIZE = 128
_TAG_SIZE = 16


@dataclass(frozen=True, slots=True)
class EncryptedValue:
    """The parts of an `ENC[...]` string."""

    data: bytes
    iv: bytes
    tag: bytes
    datatype: str


def looks_encrypted(text: str) -> bool:
    """Whether a string is in SOPS' encrypted-value form (cheap check, no decoding)."""
    return _ENCRYPTED.match(text) is not None


def _b64(part: str, what: str, path: str) -> bytes:
    try:
        return base64.b64decode(part, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedValueError(f"the {what} of the encrypted value at {path!r} is not valid base64",
                                  path=path) from None


def parse_encrypted(text: str, path: str) -> EncryptedValue:
    """Split an `ENC[...]` string into its parts."""
    match = _ENCRYPTED.match(text)
    if match is None:
        raise MalformedValueError(f"the value at {path!r} is not in SOPS' encrypted form ENC[AES256_GCM,...]",
                                  path=path)
    data, iv, tag, datatype = match.groups()
    return EncryptedValue(_b64(data, "data", path), _b64(iv, "iv", path), _b64(tag, "tag", path), datatype)


def decrypt_bytes(encrypted: EncryptedValue, key: bytes, additional_data: str, path: str) -> bytes:
    """AES-256-GCM open; a failed tag means the value (or its path, or the key) is not what was encrypted."""
    if len(encrypted.iv) < 8:
        raise MalformedValueError(f"the IV of the encrypted value at {path!r} is too short", path=path)
    if len(encrypted.iv) > _MAX_IV_SIZE:  # SOPS writes 32 bytes; the AES-GCM implementation takes ≤ 128
        raise MalformedValueError(f"the IV of the encrypted value at {path!r} is longer than {_MAX_IV_SIZE} bytes",
                                  path=path)
    sealed = encrypted.data + encrypted.tag
    if len(sealed) < _TAG_SIZE:
        raise MalformedValueError(f"the encrypted value at {path!r} is truncated", path=path)
    try:
        return AESGCM(key).decrypt(encrypted.iv, sealed, additional_data.encode("utf-8", "surrogateescape"))
    except InvalidTag:
        raise MacMismatch(
            f"MAC mismatch: the authentication tag of the value at {path!r} does not verify "
            "(the value was modified, moved to another key, or encrypted with another data key)",
            path=path,
        ) from None


def _typed(plaintext: bytes, datatype: str, path: str) -> Value:
    if datatype == "str":
        return bytes_to_str(plaintext)
    if datatype == "bytes":
        return plaintext
    if datatype == "comment":
        return Comment(bytes_to_str(plaintext))
    text = plaintext.decode("utf-8", "replace")
    result: Value
    if datatype in ("int", "int64"):
        result = go_atoi(text)
    elif datatype == "float":
        result = go_parse_float(text)
    elif datatype == "bool":
        result = go_parse_bool(text)
    elif datatype == "time":
        result = parse_rfc3339(text)
    else:
        raise UnsupportedError(f"the encrypted value at {path!r} has an unknown type {datatype!r}")
    if result is None:
        raise MalformedValueError(f"the decrypted value at {path!r} is not a valid {datatype}", path=path)
    return result


def decrypt_value(text: str, key: bytes, additional_data: str, path: str) -> Value:
    """Decrypt an `ENC[...]` string to a typed value; the empty string stays empty (SOPS never encrypts it)."""
    if text == "":
        return ""
    encrypted = parse_encrypted(text, path)
    return _typed(decrypt_bytes(encrypted, key, additional_data, path), encrypted.datatype, path)
