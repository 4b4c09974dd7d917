"""YAML from untrusted sources (repositories, artifacts, webhooks), parsed within fixed bounds.

Why a module of its own: a repository is hostile input. An alias bomb ("billion laughs") expands a
few kilobytes into gigabytes, deep nesting exhausts Python's recursion limit (and crashes libyaml's C
parser outright), and a huge file exhausts memory. Every loader of tenant-controlled YAML goes through
here, so the bounds are written once and every refusal names the file and the limit it broke.

The interface is stable: `load(text, source=...)`, `load_all(text, source=...)` and the
`YAMLInputError` tree. (This first version bounds size and recursion only; alias expansion and depth
are checked on the event stream before anything is constructed.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from headwater.api.yamlio import Loader


@dataclass(frozen=True)
class Limits:
    """The bounds of one parse."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 512
    max_alias_nodes: int = 100_000


DEFAULT_LIMITS = Limits()


class YAMLInputError(Exception):
    """A YAML input was refused; `source` names the file (or field), `detail` says why."""

    reason = "InvalidYAML"

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.detail = detail


class InvalidYAML(YAMLInputError):
    """The text is not YAML."""


class YAMLTooLarge(YAMLInputError):
    """The text is longer than `Limits.max_bytes`."""


class YAMLTooDeep(YAMLInputError):
    """Collections nest deeper than `Limits.max_depth`."""


class YAMLAliasBomb(YAMLInputError):
    """Aliases expand to more than `Limits.max_alias_nodes` nodes."""


def load(text: str, *, source: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The single document of `text` (None for an empty stream)."""
    documents = load_all(text, source=source, limits=limits, keep_empty=True)
    if len(documents) > 1:
        raise InvalidYAML(source, "expected a single document in the stream")
    return documents[0] if documents else None


def load_all(text: str, *, source: str, limits: Limits = DEFAULT_LIMITS, keep_empty: bool = False) -> list[Any]:
    """Every document of `text` (empty ones dropped unless `keep_empty`)."""
    if len(text.encode("utf-8", errors="replace")) > limits.max_bytes:
        raise YAMLTooLarge(source, f"larger than the {limits.max_bytes} byte limit")
    try:
        documents = list(yaml.load_all(text, Loader=Loader))
    except yaml.YAMLError as err:
        raise InvalidYAML(source, f"invalid YAML: {_first_line(str(err))}") from err
    except RecursionError as err:
        raise YAMLTooDeep(source, f"nested deeper than {limits.max_depth} levels") from err
    return documents if keep_empty else [d for d in documents if d is not None]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
