"""The binary format: any file, encrypted as the single string value `data` of a SOPS JSON document.

This is how SOPS stores files that are neither YAML, JSON nor dotenv (certificates, `.ini` files given to a
kustomize secretGenerator as plain files, …). Decrypted, the file is the `data` value's bytes, exactly.
"""

from __future__ import annotations

from headwater.kustomize.sops.errors import FormatError
from headwater.kustomize.sops.format_json import load_json
from headwater.kustomize.sops.tree import Branch, str_to_bytes

load_binary = load_json


def emit_binary(branches: list[Branch]) -> bytes:
    """The bytes of the `data` value."""
    if len(branches) != 1:
        raise FormatError("error emitting binary store: there must be exactly one document")
    for item in branches[0]:
        if item.key == "data":
            if not isinstance(item.value, str):
                raise FormatError("error emitting binary store: 'data' is not a string")
            return str_to_bytes(item.value)
    raise FormatError("error emitting binary store: no binary data found in the document (no 'data' key)")
