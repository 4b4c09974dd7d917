"""A controller's own flags, declared once as a typed dataclass.

Each controller package declares its flags (Flux's names and defaults) as fields of a frozen dataclass
made with :func:`flag`; the command line, the help text and the typed value handed to the controller's
setup all come from that one declaration, so no controller writes click wiring or reads a
``dict(params)`` by string keys. A field ``storage_path`` is the flag ``--storage-path``; its Python
type picks the value syntax: ``str``, ``int``, ``bool`` (Go's: ``--flag``, ``--flag=false``) and
``float`` with ``duration=True`` (Go durations such as ``60s`` or ``1h30m``, held in seconds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import MutableMapping
from typing import Any, TypeVar, get_type_hints

import click

from headwater.runtime.options import GO_BOOL, GO_DURATION, go_option

T = TypeVar("T")

_HELP = "headwater.flag.help"
_DURATION = "headwater.flag.duration"


def flag(default: Any, help: str, *, duration: bool = False) -> Any:
    """A dataclass field that is also a command-line flag."""
    return dataclasses.field(default=default, metadata={_HELP: help, _DURATION: duration})


def click_options(flags: type[Any]) -> list[click.Option]:
    """The click options of a flag dataclass, in declaration order."""
    hints = get_type_hints(flags)
    options: list[click.Option] = []
    for field in dataclasses.fields(flags):
        kind = hints[field.name]
        type_: click.ParamType[Any, Any] | type = GO_BOOL if kind is bool else (
            GO_DURATION if field.metadata.get(_DURATION) else kind)
        options.append(go_option(field.name, type_, field.default, str(field.metadata.get(_HELP, ""))))
    return options


def from_params(flags: type[T], params: MutableMapping[str, Any]) -> T:
    """The typed flag values out of a click callback's keyword arguments (removing them)."""
    values = {f.name: params.pop(f.name) for f in dataclasses.fields(flags) if f.name in params}  # type: ignore[arg-type]
    return flags(**values)


@dataclasses.dataclass(frozen=True)
class NoFlags:
    """For a controller without flags of its own."""


__all__ = ["NoFlags", "click_options", "flag", "from_params"]
