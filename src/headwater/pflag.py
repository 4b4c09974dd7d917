"""Flux's flag grammar (Go's pflag), declared once for every command.

flux is a cobra program, so Flux's documentation and users' scripts are written in pflag's grammar.
click's grammar differs where it hurts:

* **Booleans.** pflag accepts `--prune`, `--prune=true` and `--prune=false`, with Go's spellings
  (`strconv.ParseBool`: 1 t T TRUE true True, 0 f F FALSE false False), and `-A=false` for a
  shorthand. It never takes the next word as the value: `--prune false` is `--prune` followed by
  the argument `false`. A click flag rejects `=value`; a click optional value takes the next word.
* **String slices.** pflag's StringSlice reads every occurrence as one CSV record and appends them:
  `--label=env=prod,team=a`, `--health-check A --health-check B`, `--ignore-paths '"a,b",c'` (quotes
  keep a comma). StringArray appends occurrences without splitting.

So commands declare such flags with :func:`bool_flag`, :func:`string_slice` or :func:`string_array`
(never `is_flag=True` or `multiple=True` with their own splitting); a unit test walks the whole
command tree to hold that. The module sits below `headwater.cli` because Flux's controllers are pflag
programs too: a controller's own flags (`--enable-leader-election=false`) follow the same grammar, and
no package may import the CLI. Only click is imported here: this module is on every `--help` path.

How the boolean grammar is done: click's parser sees a Go bool as an option taking one value, and a
small wrapper around that parser's option dispatch supplies the value when the command line gives
none (`--prune` → `true`, `-sA` → `true` for each) without ever reading the next word. click is pinned
(pyproject.toml), and `tests/unit/cli/test_flags.py` pins every case of the grammar.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click

if TYPE_CHECKING:
    from click.parser import _OptionParser, _ParsingState

FC = TypeVar("FC", bound=Callable[..., Any] | click.Command)

GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool:
    """Go's `strconv.ParseBool`; ValueError for anything else (`yes`, `on`, `tRuE`)."""
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r}")


class GoBool(click.types.BoolParamType):
    """A click type reading Go's boolean spellings only."""

    name = "bool"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bool:
        if isinstance(value, bool):
            return value
        try:
            return parse_go_bool(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a boolean: use true or false (or 1, 0, t, f, TRUE, FALSE, …)", param, ctx)


GO_BOOL: Final = GoBool()


def read_slice(values: Iterable[str]) -> tuple[str, ...]:
    """The items of StringSlice occurrences: each one CSV (quotes keep commas), items trimmed, empty ones dropped."""
    items: list[str] = []
    for value in values:
        try:
            records = list(csv.reader(str(value).splitlines() or [""], strict=True))
        except csv.Error as err:
            raise click.BadParameter(f"{value!r} is not a comma-separated list: {err}") from err
        items += [item.strip() for record in records for item in record if item.strip()]
    return tuple(items)


class BoolFlag(click.Option):
    """A pflag boolean: `--x`, `--x=true|false` (Go spellings), `-x`, `-x=false`; never reads the next word."""

    def __init__(self, param_decls: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("default", False)
        if kwargs["default"] and kwargs.get("help"):
            kwargs["help"] += " (default true)"  # as pflag prints a non-zero default
        super().__init__(param_decls, is_flag=True, type=GO_BOOL, **kwargs)

    def add_to_parser(self, parser: _OptionParser, ctx: click.Context) -> None:
        # One value, always: the wrapper installed below supplies "true" when the command line gives none.
        parser.add_option(obj=self, opts=self.opts, dest=self.name, action="store", nargs=1)
        _go_bools(parser).update(self.opts)


class StringSlice(click.Option):
    """A pflag StringSlice: repeatable, every occurrence read as a comma-separated (CSV) list."""

    def __init__(self, param_decls: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("default", ())
        super().__init__(param_decls, multiple=True, **kwargs)

    def type_cast_value(self, ctx: click.Context, value: Any) -> tuple[str, ...]:
        return read_slice(super().type_cast_value(ctx, value))


class StringArray(click.Option):
    """A pflag StringArray: repeatable, each occurrence one item (commas kept)."""

    def __init__(self, param_decls: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("default", ())
        super().__init__(param_decls, multiple=True, **kwargs)


def bool_flag(*decls: str, default: bool = False, help: str, hidden: bool = False) -> Callable[[FC], FC]:
    """`@bool_flag("--prune", help=…)`: a pflag boolean (see :class:`BoolFlag`)."""
    return click.option(*decls, cls=BoolFlag, default=default, help=help, hidden=hidden)


def string_slice(*decls: str, help: str, default: Sequence[str] = (), metavar: str | None = None,
                 show_default: bool = False) -> Callable[[FC], FC]:
    """`@string_slice("--label", "labels", help=…)`: a pflag StringSlice (see :class:`StringSlice`)."""
    return click.option(*decls, cls=StringSlice, default=tuple(default), help=help, metavar=metavar,
                        show_default=show_default)


def string_array(*decls: str, help: str, metavar: str | None = None) -> Callable[[FC], FC]:
    """`@string_array("--set", help=…)`: a pflag StringArray (see :class:`StringArray`)."""
    return click.option(*decls, cls=StringArray, help=help, metavar=metavar)


# -- the boolean grammar in click's parser -----------------------------------------------------------


def _go_bools(parser: _OptionParser) -> set[str]:
    """The Go-bool spellings of this parser (`--prune`, `-A`), installing the dispatch wrapper once."""
    known: set[str] | None = parser.__dict__.get("_go_bools")
    if known is None:
        known = set()
        parser.__dict__["_go_bools"] = known
        setattr(parser, "_process_opts", _dispatch(parser, known))  # noqa: B010 - an instance attribute
    return known


def _dispatch(parser: _OptionParser, bools: set[str]) -> Callable[[str, _ParsingState], None]:
    """click's option dispatch with pflag's bool rule: a Go bool takes `=value` or `true`, not the next word."""
    original = parser._process_opts

    def process(arg: str, state: _ParsingState) -> None:
        name, eq, value = arg.partition("=")
        if name in bools:  # `--prune`, `--prune=false`, `-A`, `-A=false`
            state.rargs.insert(0, value if eq else "true")
            original(name, state)
            return
        if arg[:2] != "--" and len(arg) > 2:  # shorthands: `-sA`, `-sn ns`, `-n=ns`, `-sn=ns`
            for index in range(1, len(arg)):
                short, rest = "-" + arg[index], arg[index + 1:]
                if rest[:1] == "=":  # pflag: `-x=value` is the value, for any shorthand
                    state.rargs.insert(0, rest[1:])
                    original(short, state)
                    return
                if short not in bools:
                    original(short + rest, state)  # click takes the rest as this shorthand's value, or more flags
                    return
                state.rargs.insert(0, "true")
                original(short, state)
            return
        original(arg, state)

    return process


__all__ = [
    "GO_BOOL",
    "BoolFlag",
    "GoBool",
    "StringArray",
    "StringSlice",
    "bool_flag",
    "parse_go_bool",
    "read_slice",
    "string_array",
    "string_slice",
]
