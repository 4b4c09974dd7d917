"""Decrypting built Kubernetes objects, as kustomize-controller's `DecryptResource` does after the build.

Two cases. An object with a `sops` block (a Secret committed encrypted, usually with
`encrypted_regex: ^(data|stringData)$`) is decrypted as a whole, with JSON semantics, like Flux marshals it
to JSON and back. Otherwise, in a Secret, every `data` entry whose decoded bytes carry a SOPS marker (a
secretGenerator fed an encrypted file kustomize could not decrypt) is decrypted and written in the format
its key name implies. `kustomize.toolkit.fluxcd.io/decrypt: disabled` leaves an object alone.

Flux does not check the document MAC here by default: kustomize adds labels, names and namespaces to built
objects, which breaks it. Callers choose explicitly with `verify_mac`; every value's own AES-GCM tag (bound
to its key path) is always checked.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
from collections.abc import Mapping
from typing import Any, cast

from headwater.kustomize.sops.detect import detect_format, format_for_path, is_sops_encrypted
from headwater.kustomize.sops.document import FORMATS, Format, decrypt_branches, decrypt_document
from headwater.kustomize.sops.errors import FormatError, SopsError, UnsupportedError, with_source
from headwater.kustomize.sops.goscalars import GoTime
from headwater.kustomize.sops.keys import KeySet
from headwater.kustomize.sops.metadata import parse_metadata
from headwater.kustomize.sops.tree import Branch, Comment, TreeItem, Value

DECRYPT_ANNOTATION = "kustomize.toolkit.fluxcd.io/decrypt"


def _to_tree(value: Any, where: str) -> Value:
    if isinstance(value, Mapping):
        branch = Branch()
        for key, child in value.items():
            if not isinstance(key, str):
                raise FormatError(f"non-string key under {where!r}")
            branch.append(TreeItem(key, _to_tree(child, f"{where}.{key}")))
        return branch
    if isinstance(value, list | tuple):
        return [_to_tree(child, where) for child in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime.datetime):  # a YAML timestamp a YAML 1.1 loader turned into a datetime
        offset = value.utcoffset()
        return GoTime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                      value.microsecond * 1000, int(offset.total_seconds()) if offset else 0)
    if isinstance(value, datetime.date):
        return GoTime(value.year, value.month, value.day)
    raise FormatError(f"cannot decrypt an object holding a {type(value).__name__} at {where!r}")


def _from_tree(value: Value) -> Any:
    if isinstance(value, Branch):
        return {item.key: _from_tree(item.value) for item in value if isinstance(item.key, str)}
    if isinstance(value, list):
        return [_from_tree(child) for child in value if not isinstance(child, Comment)]
    if isinstance(value, GoTime):
        return value.rfc3339nano()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def describe(obj: Mapping[str, Any]) -> str:
    """`Kind/namespace/name` (or `Kind/name`), as Flux names objects in messages."""
    metadata = _mapping(obj.get("metadata"))
    namespace, name = metadata.get("namespace") or "", metadata.get("name") or ""
    return f"{obj.get('kind', '')}/{namespace}/{name}" if namespace else f"{obj.get('kind', '')}/{name}"


def is_decryption_disabled(obj: Mapping[str, Any]) -> bool:
    annotations = _mapping(_mapping(obj.get("metadata")).get("annotations"))
    return str(annotations.get(DECRYPT_ANNOTATION, "")).lower() == "disabled"


def _decrypt_whole(obj: Mapping[str, Any], keys: KeySet, verify_mac: bool, source: str) -> dict[str, Any]:
    failure: SopsError | None = None
    try:
        metadata = parse_metadata(obj.get("sops"), source)
        tree = _to_tree({key: value for key, value in obj.items() if key != "sops"}, "")
        assert isinstance(tree, Branch)
        decrypt_branches([tree], metadata, keys, verify_mac=verify_mac, source=source)
        return cast(dict[str, Any], _from_tree(tree))
    except SopsError as error:
        failure = with_source(error, source)
    except Exception as error:
        failure = SopsError(f"{source}: unexpected {type(error).__name__} while decrypting")
    assert failure is not None
    raise failure


def decrypt_resource(obj: Mapping[str, Any], keys: KeySet, *, verify_mac: bool) -> Mapping[str, Any]:
    """The object with its SOPS-encrypted content decrypted (a new dict), or `obj` itself if none applies.

    Errors name the object (`Secret/ns/name`, and the data key for entries).
    """
    if is_decryption_disabled(obj):
        return obj
    source = describe(obj)
    if is_sops_encrypted(obj):
        return _decrypt_whole(obj, keys, verify_mac, source)
    if obj.get("kind") != "Secret" or not isinstance(obj.get("data"), Mapping):
        return obj
    result: dict[str, Any] | None = None
    for name, encoded in obj["data"].items():
        if not isinstance(encoded, str):
            continue
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue  # left for the apply to report, as Flux does
        detected = detect_format(raw)
        if detected is None:
            continue
        output = format_for_path(name)
        entry = f"{source} data key {name!r}"
        if detected not in FORMATS or output not in FORMATS:
            raise UnsupportedError(f"{entry}: the INI format is not supported by this decryptor")
        cleartext = decrypt_document(raw, cast(Format, detected), keys, output_format=cast(Format, output),
                                     verify_mac=verify_mac, source=entry)
        if result is None:
            result = copy.deepcopy(dict(obj))
        result["data"][name] = base64.b64encode(cleartext).decode()
    return obj if result is None else result
