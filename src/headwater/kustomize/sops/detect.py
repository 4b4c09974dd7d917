"""Recognising SOPS-encrypted data without decrypting it, the way kustomize-controller does.

Objects are encrypted when they carry a `sops` block with a MAC; files and Secret data entries are
recognised by their format's MAC marker (`mac: ENC[` in YAML, `"mac": "ENC[` in JSON and binary,
`sops_mac=ENC[` in dotenv, `[sops]` in INI); the output format of a decrypted entry comes from its name.
An encrypted Secret met while decryption is not configured must stop the apply, with Flux's message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

DetectedFormat = Literal["yaml", "json", "dotenv", "binary", "ini"]

# Checked in this order: JSON and binary share a marker (both are JSON); JSON is reported.
MARKERS: tuple[tuple[DetectedFormat, bytes], ...] = (
    ("dotenv", b"sops_mac=ENC["),
    ("json", b'"mac": "ENC['),
    ("yaml", b"mac: ENC["),
    ("ini", b"[sops]"),
)


def detect_format(data: bytes | str) -> DetectedFormat | None:
    """The SOPS format whose MAC marker `data` contains, or None when it does not look SOPS-encrypted."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    for name, marker in MARKERS:
        if marker in raw:
            return name
    return None


def format_for_path(path: str) -> DetectedFormat:
    """The format kustomize-controller uses for a file or Secret key (`.dockerconfigjson` is JSON)."""
    if path.endswith(".dockerconfigjson"):
        return "json"
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    if path.endswith(".json"):
        return "json"
    if path.endswith(".env"):
        return "dotenv"
    if path.endswith(".ini"):
        return "ini"
    return "binary"


def is_sops_encrypted(obj_or_bytes: Mapping[str, Any] | bytes | str) -> bool:
    """Whether an object has a `sops` block with a MAC, or bytes contain a SOPS MAC marker."""
    if isinstance(obj_or_bytes, bytes | str):
        return detect_format(obj_or_bytes) is not None
    block = obj_or_bytes.get("sops")
    return isinstance(block, Mapping) and bool(block) and bool(block.get("mac"))


def is_encrypted_secret(obj: Mapping[str, Any]) -> bool:
    """kustomize-controller's `IsEncryptedSecret`: a v1 Secret that has a `sops` field."""
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1" and "sops" in obj


def decryption_required_message(obj: Mapping[str, Any]) -> str:
    """The apply error for an encrypted Secret when `spec.decryption` is not set."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace, name = metadata.get("namespace") or "", metadata.get("name") or ""
    ident = f"{obj.get('kind', '')}/{namespace}/{name}" if namespace else f"{obj.get('kind', '')}/{name}"
    return f"{ident} is SOPS encrypted, configuring decryption is required for this secret to be reconciled"
