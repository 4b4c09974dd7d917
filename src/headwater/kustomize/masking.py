"""What `build` and `diff` may print of a Secret: Flux's two masking rules, kept in one place.

`flux build` runs without decryption keys, so it never shows SOPS ciphertext (or its metadata): an
encrypted Secret's values become `**SOPS**` (base64-encoded in `data`), a docker-config Secret's become
`{"mask":"**SOPS**"}` so the type's JSON validation still passes, and any other object loses its
top-level `sops` block. Plain values are left alone: they are in the user's own files.

headwater's `build` goes one step further than flux's: secrets never reach CLI output, so every other
Secret value is printed as `***` too (keys kept, so the output still says what the Secret holds).

`flux diff` shows live cluster values, which the user may not be allowed to read: every drifted
Secret's `data` value becomes `***`, or `*** (before)` / `*** (after)` when that value changed, so a
diff tells *which* key changed and never *what* it holds.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Mapping
from typing import Any

SOPS_MASK = "**SOPS**"
SOPS_MASK_B64 = base64.b64encode(SOPS_MASK.encode()).decode()
DOCKERCONFIG_TYPE = "kubernetes.io/dockerconfigjson"
DOCKERCONFIG_MASK = json.dumps({"mask": SOPS_MASK}, separators=(",", ":"))

DIFF_MASK = "***"
DIFF_MASK_BEFORE = "*** (before)"
DIFF_MASK_AFTER = "*** (after)"


class MaskingError(ValueError):
    """A Secret whose data cannot be read (not base64): the message names it."""


def is_secret(obj: Mapping[str, Any] | None) -> bool:
    return obj is not None and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _is_whole_document_encrypted(obj: Mapping[str, Any]) -> bool:
    """A `sops` block with an encrypted MAC: the whole Secret went through `sops --encrypt`."""
    sops = obj.get("sops")
    return isinstance(sops, Mapping) and str(sops.get("mac", "")).startswith("ENC[")


def _looks_encrypted(value: str) -> bool:
    return "sops" in value and "ENC[" in value


def mask_sops(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `obj` with SOPS-encrypted values masked and SOPS metadata removed (flux build's rule)."""
    result = copy.deepcopy(dict(obj))
    if obj.get("kind") != "Secret":
        result.pop("sops", None)
        return result
    data: dict[str, Any] = dict(result.get("data") or {})
    string_data: dict[str, Any] = dict(result.get("stringData") or {})
    name = (result.get("metadata") or {}).get("name", "")
    if _is_whole_document_encrypted(result):
        result.pop("sops", None)
        if (result.get("type") or "Opaque") == DOCKERCONFIG_TYPE:
            data = dict.fromkeys(data, base64.b64encode(DOCKERCONFIG_MASK.encode()).decode())
            string_data = dict.fromkeys(string_data, DOCKERCONFIG_MASK)
        else:
            data = dict.fromkeys(data, SOPS_MASK_B64)
            string_data = dict.fromkeys(string_data, SOPS_MASK)
    else:
        for key, value in data.items():
            try:
                decoded = base64.b64decode(str(value), validate=True).decode(errors="replace")
            except (binascii.Error, ValueError) as err:
                raise MaskingError(f"failed to mask Secret {name} sops data: data.{key} is not base64") from err
            if _looks_encrypted(decoded):
                data[key] = SOPS_MASK_B64
        for key, value in string_data.items():
            if _looks_encrypted(str(value)):
                string_data[key] = SOPS_MASK_B64  # Flux writes the base64 form here too
    if "data" in result or data:
        result["data"] = data
    if string_data:
        result["stringData"] = string_data
    return result


def mask_secret_values(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with every value that is not already a SOPS mask replaced by `***` (keys kept)."""
    result = dict(obj)
    if not is_secret(obj):
        return result
    for field in ("data", "stringData"):
        values = obj.get(field)
        if isinstance(values, Mapping):
            result[field] = {key: value if _is_sops_mask(value) else DIFF_MASK for key, value in values.items()}
    return result


def _is_sops_mask(value: Any) -> bool:
    return str(value) in (SOPS_MASK, SOPS_MASK_B64, DOCKERCONFIG_MASK,
                          base64.b64encode(DOCKERCONFIG_MASK.encode()).decode())


def has_sops_mask(obj: Mapping[str, Any]) -> bool:
    """Whether a built Secret carries `**SOPS**` values (its live values cannot be compared)."""
    for value in (obj.get("data") or {}).values():
        try:
            if SOPS_MASK in base64.b64decode(str(value)).decode(errors="replace"):
                return True
        except (binascii.Error, ValueError):
            continue
    return any(SOPS_MASK in str(v) for v in (obj.get("stringData") or {}).values())


def mask_secret_diff(live: dict[str, Any] | None, merged: dict[str, Any] | None) -> None:
    """Mask the `data` of both sides of a Secret diff in place (ssa `SanitizeUnstructuredData`)."""
    old: dict[str, Any] | None = dict(live["data"]) if live and isinstance(live.get("data"), Mapping) else None
    new: dict[str, Any] | None = dict(merged["data"]) if merged and isinstance(merged.get("data"), Mapping) else None
    old_keys, new_keys = set(old or {}), set(new or {})
    for key in old_keys:
        assert old is not None
        if new is not None and key in new_keys and old[key] != new[key]:
            old[key], new[key] = DIFF_MASK_BEFORE, DIFF_MASK_AFTER
            continue
        old[key] = DIFF_MASK
        if new is not None and key in new_keys:
            new[key] = DIFF_MASK
    for key in new_keys - old_keys:
        assert new is not None
        new[key] = DIFF_MASK
    if live is not None and old is not None:
        live["data"] = old
    if merged is not None and new is not None:
        merged["data"] = new
