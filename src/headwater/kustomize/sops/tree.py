"""The document tree SOPS works on: ordered key/value items, sequences, scalars and comments.

SOPS authenticates keys *in order* and encrypts comments, so a plain dict is not enough: a branch is a list
of items (order and even duplicate keys survive), and comments are items of their own. Strings are Python
`str`, but a Go string is arbitrary bytes (the binary format stores a whole file in one), so bytes that are
not UTF-8 ride along as surrogate escapes and are turned back into the same bytes on output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

from headwater.kustomize.sops.goscalars import GoTime, go_format_float


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment line (YAML `#...`, dotenv `#...`); SOPS encrypts these too, but leaves them out of the MAC."""

    text: str


class Branch:
    """An ordered mapping: the items of one YAML/JSON object or of a whole dotenv file."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[TreeItem] = ()) -> None:
        self.items: list[TreeItem] = list(items)

    def __iter__(self) -> Iterator[TreeItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def append(self, item: TreeItem) -> None:
        self.items.append(item)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Branch) and self.items == other.items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Branch({self.items!r})"


Value: TypeAlias = "str | int | float | bool | bytes | GoTime | Comment | Branch | list[Value] | None"


@dataclass(slots=True)
class TreeItem:
    """One entry of a branch. A comment entry has a `Comment` key and no value."""

    key: str | Comment
    value: Value


_LONE_SURROGATE = re.compile(r"[\ud800-\udc7f\udd00-\udfff]")


def str_to_bytes(text: str) -> bytes:
    """The bytes of a tree string: UTF-8, with surrogate escapes turned back into the raw bytes they stand for."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A lone surrogate from a JSON `\\ud800` escape: Go's decoder would have made it U+FFFD.
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8", "surrogateescape")


def bytes_to_str(data: bytes) -> str:
    """A tree string for arbitrary bytes (what Go's `string(b)` keeps)."""
    return data.decode("utf-8", "surrogateescape")


def value_to_mac_bytes(value: Value) -> bytes:
    """The bytes SOPS hashes for a leaf value (Go's `sops.ToBytes`)."""
    if isinstance(value, str):
        return str_to_bytes(value)
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return go_format_float(value, "f").encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, GoTime):
        return value.rfc3339nano().encode()
    if isinstance(value, Comment):
        return str_to_bytes(value.text)
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def branch_get(branch: Branch, key: str) -> Value:
    """The value of the first item named `key` (None if absent)."""
    for item in branch:
        if item.key == key:
            return item.value
    return None


def branch_has(branch: Branch, key: str) -> bool:
    return any(item.key == key for item in branch)
