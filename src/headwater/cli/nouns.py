"""How a verb's command tree names the Flux kinds, built from the kind registry.

Every verb (`get`, `reconcile`, `suspend`, `export`, …) has one leaf per kind it applies to, named as
flux names it (`KindDef.cli_noun`: `source git`, `kustomization`, `image policy`): so adding a kind to
`headwater.api.kinds` adds its leaves, and no command keeps a table of kinds. `get` uses flux's plural
forms (`get sources git`, `get kustomizations`) with the singular as an alias.

A :class:`KindGroup` also resolves what users type as kubectl resolves resource names: case-insensitive,
singular, plural, short names and `name.group` forms, so `reconcile KS apps`, `get gitrepositories`,
`suspend Kustomization apps` and `export ks.kustomize.toolkit.fluxcd.io apps` find their leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef

HELP_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


class KindGroup(click.Group):
    """A verb's (sub)tree whose commands also answer to the kinds' other names, hidden from help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", HELP_SETTINGS)
        super().__init__(*args, **kwargs)
        self.aliases: dict[str, str] = {}
        self.by_kind: dict[str, click.Command] = {}  # kind → its leaf, however deep
        self.subgroup_help = f"{str(self.name).capitalize()} {{}}."  # e.g. "Suspend sources."

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from headwater.api.kinds import resolve

        found = super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))
        if found is not None:
            return found
        lowered = cmd_name.lower()
        for name in [*self.commands, *self.aliases]:
            if name.lower() == lowered:
                return super().get_command(ctx, self.aliases.get(name, name))
        kind = resolve(cmd_name)
        return self.by_kind.get(kind.kind) if kind is not None else None

    def subgroup(self, name: str, help: str, alias: str | None = None) -> KindGroup:
        """The subtree `name` (e.g. `sources`), created on first use."""
        existing = self.commands.get(name)
        if isinstance(existing, KindGroup):
            return existing
        group = KindGroup(name, help=help)
        self.add_command(group)
        if alias and alias != name:
            self.aliases[alias] = name
        return group


def add_kind_leaf(top: KindGroup, kind: KindDef, leaf: click.Command, *, plural: bool = False) -> None:
    """Place `leaf` under `top` at the kind's CLI noun (`source git` → `top source git`).

    `plural`: the first word in flux's plural (`get sources git`, `get kustomizations`), the singular
    as an alias. A one-word noun also answers to the kind's short names (`ks`, `hr`).
    """
    *parents, last = kind.cli_noun.split()
    group = top
    for word in parents:
        group = group.subgroup(plural_of(word) if plural else word, help=top.subgroup_help.format(plural_of(word)),
                               alias=word)
    leaf.name = plural_of(last) if plural and not parents else last
    group.add_command(leaf)
    if not parents:
        for alias in (last, *kind.short_names):
            if alias != leaf.name:
                group.aliases[alias] = leaf.name
    top.by_kind[kind.kind] = leaf


def plural_of(word: str) -> str:
    return word if word.endswith("s") else word + "s"


def kind_tree(name: str, help: str, kinds: Iterable[KindDef], make_leaf: Callable[[KindDef], click.Command], *,
              plural: bool = False) -> KindGroup:
    """A verb with one leaf per kind, each made by `make_leaf(kind)`."""
    top = KindGroup(name, help=help)
    for kind in kinds:
        add_kind_leaf(top, kind, make_leaf(kind), plural=plural)
    return top


def flux_kind(text: str) -> KindDef:
    """The Flux kind `text` names (kubectl-style, see `headwater.api.kinds.resolve`); CliError otherwise."""
    from headwater.api.kinds import ALL_KINDS, resolve
    from headwater.cli.common import CliError

    kind = resolve(text)
    if kind is None:
        known = ", ".join(sorted(each.kind for each in ALL_KINDS))
        raise CliError(f"'{text}' is not a recognized Flux kind (one of {known})")
    return kind
