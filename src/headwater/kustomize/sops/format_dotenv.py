"""The dotenv format (`KEY=value` lines), as SOPS reads and writes it for kustomize `envs` sources.

SOPS keeps it simple and so does this: lines split on `\\n`, blank lines dropped, `#` lines are comments
(encrypted like values), everything before the first `=` is the key and everything after it the value,
verbatim except that `\\n` escapes stand for newlines. The metadata lives in `sops_*` lines, flattened with
`__map_`/`__list_N` separators; it is unflattened back into the usual `sops` structure here.
"""

from __future__ import annotations

import re

from headwater.kustomize.sops.errors import FormatError
from headwater.kustomize.sops.goscalars import GoTime, go_format_float
from headwater.kustomize.sops.tree import Branch, Comment, TreeItem, Value, bytes_to_str, str_to_bytes

SOPS_PREFIX = "sops_"
_SEPARATOR = re.compile(r"(__map_|__list_)")


def _unflatten(flat: dict[str, str]) -> dict[str, object]:
    """Rebuild nested metadata from `age__list_0__map_enc`-style keys."""
    root: dict[str, object] = {}
    for flat_key, value in flat.items():
        parts = _SEPARATOR.split(flat_key)
        tokens: list[str | int] = [parts[0]]
        for separator, name in zip(parts[1::2], parts[2::2], strict=True):
            if separator == "__list_":
                if not name.isdigit():
                    raise FormatError(f"malformed sops metadata key {SOPS_PREFIX}{flat_key!r}")
                tokens.append(int(name))
            else:
                tokens.append(name)
        container: object = root
        for token, following in zip(tokens, [*tokens[1:], None], strict=True):
            fresh: object = value if following is None else ([] if isinstance(following, int) else {})
            if isinstance(container, dict) and isinstance(token, str):
                if following is None or token not in container:
                    container[token] = fresh
                container = container[token]
            elif isinstance(container, list) and isinstance(token, int):
                while len(container) <= token:
                    container.append(None)
                if following is None or container[token] is None:
                    container[token] = fresh
                container = container[token]
            else:
                raise FormatError(f"malformed sops metadata key {SOPS_PREFIX}{flat_key!r}")
    return root


def load_dotenv(data: bytes) -> tuple[list[Branch], object]:
    """The document branch and the raw `sops` metadata (None if there are no `sops_` lines)."""
    branch = Branch()
    flat: dict[str, str] = {}
    for line in bytes_to_str(data).split("\n"):
        if not line:
            continue
        if line.startswith("#"):
            branch.append(TreeItem(Comment(line[1:]), None))
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise FormatError(f"invalid dotenv line {len(branch) + len(flat) + 1}: no '=' in it")
        value = value.replace("\\n", "\n")
        if key.startswith(SOPS_PREFIX):
            flat[key[len(SOPS_PREFIX):]] = value
        else:
            branch.append(TreeItem(key, value))
    return [branch], (_unflatten(flat) if flat else None)


def value_to_string(value: Value) -> str:
    """SOPS' `stores.ValueToString` (what a non-string value looks like in a dotenv/INI file)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = go_format_float(value, "G")
        if not any(mark in text for mark in (".", "E", "Inf", "NaN")):
            text += ".0"
        return text
    if isinstance(value, GoTime):
        return value.rfc3339()
    if isinstance(value, bytes):
        return bytes_to_str(value)
    if value is None:
        return "<nil>"
    raise FormatError(f"cannot write a {type(value).__name__} value in a dotenv file")


def emit_dotenv(branches: list[Branch]) -> bytes:
    """`KEY=value` lines (newlines in values written as `\\n`), comments as `#` lines."""
    if not branches:
        return b""
    lines: list[str] = []
    for item in branches[0]:
        if isinstance(item.value, Branch | list):
            raise FormatError(f"cannot use a nested value (at {item.key!r}) in a dotenv file")
        if isinstance(item.key, Comment):
            lines.append(f"#{item.key.text}\n")
        else:
            lines.append(f"{item.key}={value_to_string(item.value).replace(chr(10), chr(92) + 'n')}\n")
    return b"".join(str_to_bytes(line) for line in lines)
