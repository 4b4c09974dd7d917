"""Decrypting a whole SOPS document: parse, recover the data key, decrypt every value, check the MAC, emit.

This is SOPS' `decrypt` path (and kustomize-controller's `SopsDecryptWithFormat`) end to end, in memory
only. Errors are re-raised with the document's name in front and without any chained exception, so no
cleartext can travel along in an exception's context or traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from headwater.kustomize.sops.errors import SopsError, UnsupportedError, with_source
from headwater.kustomize.sops.format_binary import emit_binary, load_binary
from headwater.kustomize.sops.format_dotenv import emit_dotenv, load_dotenv
from headwater.kustomize.sops.format_json import emit_json, load_json
from headwater.kustomize.sops.format_yaml import emit_yaml, load_yaml
from headwater.kustomize.sops.keys import KeySet
from headwater.kustomize.sops.mac import verify_mac as check_mac
from headwater.kustomize.sops.metadata import Metadata, parse_metadata
from headwater.kustomize.sops.tree import Branch
from headwater.kustomize.sops.walk import TreeDecryptor

Format = Literal["yaml", "json", "dotenv", "binary"]
FORMATS: tuple[str, ...] = get_args(Format)

_LOADERS: dict[str, Callable[[bytes], tuple[list[Branch], object]]] = {
    "yaml": load_yaml, "json": load_json, "dotenv": load_dotenv, "binary": load_binary,
}
_EMITTERS: dict[str, Callable[[list[Branch]], bytes]] = {
    "yaml": emit_yaml, "json": emit_json, "dotenv": emit_dotenv, "binary": emit_binary,
}


def _check_format(name: str, role: str) -> None:
    if name not in _LOADERS:
        raise UnsupportedError(f"unsupported {role} format {name!r} (supported: {', '.join(FORMATS)})")


def decrypt_branches(branches: list[Branch], metadata: Metadata, keys: KeySet, *, verify_mac: bool,
                     source: str, decide_by_form: bool = False) -> None:
    """Decrypt parsed documents in place (shared by documents and already-parsed Kubernetes objects)."""
    data_key = keys.decrypt_data_key(metadata, source)
    computed = TreeDecryptor(metadata, data_key, decide_by_form=decide_by_form).decrypt(branches)
    if verify_mac:
        check_mac(computed, metadata.mac, data_key, metadata.lastmodified)


def _decrypt(data: bytes, fmt: str, keys: KeySet, output_format: str, verify_mac: bool, source: str) -> bytes:
    _check_format(fmt, "input")
    _check_format(output_format, "output")
    branches, raw_metadata = _LOADERS[fmt](data)
    metadata = parse_metadata(raw_metadata, source)
    decrypt_branches(branches, metadata, keys, verify_mac=verify_mac, source=source,
                     decide_by_form=fmt == "yaml" and metadata.uses_comment_rules)
    return _EMITTERS[output_format](branches)


def decrypt_document(
    data: bytes,
    format: Format,
    keys: KeySet,
    *,
    output_format: Format | None = None,
    verify_mac: bool = True,
    source: str = "document",
) -> bytes:
    """Decrypt a SOPS-encrypted document and return its cleartext in `output_format` (default: `format`).

    `verify_mac=False` skips only the document MAC (every value's own AES-GCM tag is still checked), which
    kustomize-controller does for objects that kustomize may have changed. `source` names the document in
    errors (a file path, or `Secret/ns/name`).
    """
    failure: SopsError | None = None
    try:
        return _decrypt(data, format, keys, output_format or format, verify_mac, source)
    except SopsError as error:
        failure = with_source(error, source)
    except Exception as error:  # never let a library exception (possibly holding cleartext) escape
        failure = SopsError(f"{source}: unexpected {type(error).__name__} while decrypting")
    assert failure is not None
    raise failure  # outside the except blocks: no chained context
