"""The JSON format, read and written byte for byte the way SOPS (Go's encoding/json) does it.

Reading keeps key order and duplicate keys and, like Go, turns every number into a float64. Writing
reproduces `sops -d` output exactly: tab indentation, `"key": value`, `{}`/`[]` for empty containers,
Go's float text (`1`, `1.5`, `1e+21`, `1e-7`), Go's string escaping (`\\u003c` for `<`, `\\b`, invalid
UTF-8 as `\\ufffd`) and a final newline. The binary format is this same JSON with one `data` value.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

from headwater.kustomize.sops.errors import FormatError
from headwater.kustomize.sops.goscalars import GoTime, go_json_float
from headwater.kustomize.sops.tree import Branch, Comment, TreeItem, Value

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                  "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json_string(text: str) -> str:
    """encoding/json's quoting of a string (HTML-safe, invalid UTF-8 replaced by U+FFFD)."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:  # a raw byte that was not UTF-8, or a lone surrogate
            out.append("\\ufffd")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _scalar(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        try:
            return go_json_float(value)
        except ValueError:
            raise FormatError("JSON cannot represent a NaN or infinite value") from None
    if isinstance(value, str):
        return go_json_string(value)
    if isinstance(value, bytes):
        return go_json_string(base64.b64encode(value).decode())
    if isinstance(value, GoTime):
        return go_json_string(value.rfc3339nano())
    raise FormatError(f"cannot write a {type(value).__name__} value as JSON")


def _emit(value: Value, depth: int) -> Iterator[str]:
    inner, outer = "\t" * (depth + 1), "\t" * depth
    if isinstance(value, Branch):
        items = [item for item in value if not isinstance(item.key, Comment)]
        if not items:
            yield "{}"
            return
        yield "{"
        for index, item in enumerate(items):
            assert isinstance(item.key, str)
            yield "\n" + inner + go_json_string(item.key) + ": "
            yield from _emit(item.value, depth + 1)
            if index < len(items) - 1:
                yield ","
        yield "\n" + outer + "}"
    elif isinstance(value, list):
        elements = [element for element in value if not isinstance(element, Comment)]
        if not elements:
            yield "[]"
            return
        yield "["
        for index, element in enumerate(elements):
            yield "\n" + inner
            yield from _emit(element, depth + 1)
            if index < len(elements) - 1:
                yield ","
        yield "\n" + outer + "]"
    else:
        yield _scalar(value)


def emit_json(branches: list[Branch]) -> bytes:
    """The first document as SOPS writes decrypted JSON."""
    if len(branches) != 1:
        raise FormatError("a JSON document holds exactly one object")
    text = "".join(_emit(branches[0], 0)) + "\n"
    return text.encode("utf-8", "surrogateescape")


def _pairs(pairs: list[tuple[str, object]]) -> Branch:
    return Branch(TreeItem(key, value) for key, value in pairs)  # type: ignore[arg-type]


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def load_json(data: bytes) -> tuple[list[Branch], object]:
    """The document branch (without its `sops` entry) and the raw `sops` metadata (None if absent)."""
    try:
        document = json.loads(data.decode("utf-8", "replace"), object_pairs_hook=_pairs, parse_int=float,
                              parse_constant=_reject_constant)
    except ValueError as error:
        raise FormatError(f"invalid JSON: {_describe(error)}") from None
    except RecursionError:  # the decoder recurses once per level of nesting
        raise FormatError("invalid JSON: the document is nested too deeply") from None
    if not isinstance(document, Branch):
        raise FormatError("SOPS JSON documents must be objects at the top level")
    metadata: object = None
    for item in document:
        if item.key == "sops":
            metadata = to_plain(item.value)
    return [Branch(item for item in document if item.key != "sops")], metadata


def _describe(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    return str(error)


def to_plain(value: Value) -> object:
    """Plain dicts/lists for metadata parsing (duplicate keys: the last wins, as in Go's unmarshalling)."""
    if isinstance(value, Branch):
        return {item.key: to_plain(item.value) for item in value if isinstance(item.key, str)}
    if isinstance(value, list):
        return [to_plain(element) for element in value]
    return value
