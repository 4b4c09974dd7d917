"""`headwater get …`: flux's status tables (NAME, REVISION, SUSPENDED, READY, MESSAGE).

`--watch` prints the table, then one row each time a listed object changes (as flux does, the
header only once); a change that leaves an object's row as it was is not printed again. It runs
until interrupted (Ctrl-C exits 0); `--timeout` bounds each API request, not the watch. Every kind of
the registry has its leaf, in flux's plural forms (`get sources git`, `get kustomizations`, `get ks`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from headwater.api.kinds import ALL_KINDS
from headwater.cli.columns import SHOWS_SOURCE, ready_cells, revision_cell, source_cell
from headwater.cli.common import (
    CliError,
    Options,
    cluster_options,
    conditions,
    fail,
    get_object,
    is_suspended,
    log,
    make_options,
    run,
)
from headwater.cli.names import complete_names
from headwater.cli.nouns import KindGroup, add_kind_leaf
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.runtime.kube import KubeClient

F = TypeVar("F", bound=Callable[..., Any])
HEADER = ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]


@dataclass(frozen=True)
class GetArgs:
    no_header: bool
    status_selector: tuple[str, str] | None
    label_selector: str | None
    name: str | None = None
    watch: bool = False
    show_source: bool = False


def parse_status_selector(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise click.BadParameter(f"{text!r}: expected <condition>=<status>, e.g. ready=false",
                                 param_hint="--status-selector")
    return key.strip().lower(), value.strip().lower()


def get_options(func: F) -> F:
    wrapped: Any = cluster_options(all_namespaces=True)(func)
    for decorator in reversed([
        bool_flag("--no-header", help="Skip the header when printing the results."),
        click.option("--status-selector", default=None, metavar="COND=STATUS",
                     help="Filter by a status condition, e.g. ready=false."),
        click.option("-l", "--label-selector", default=None, help="Filter by labels, e.g. app=web."),
        bool_flag("-w", "--watch", help="After listing, watch for changes and print a row for each (Ctrl-C stops)."),
    ]):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]


def _matches(obj: dict[str, Any], selector: tuple[str, str] | None) -> bool:
    if selector is None:
        return True
    key, value = selector
    return any(str(c.get("type", "")).lower() == key and str(c.get("status", "")).lower() == value
               for c in conditions(obj))


def row_of(kind: KindDef, obj: dict[str, Any], all_namespaces: bool, prefix: str = "",
           show_source: bool = False) -> list[str]:
    """One table row, its cells as flux fills them for `kind` (see `headwater.cli.columns`)."""
    ready, message = ready_cells(kind, obj)
    row = [prefix + str(obj["metadata"]["name"]), revision_cell(kind, obj), str(is_suspended(obj)), ready, message]
    if show_source:
        row.insert(1, source_cell(kind, obj))
    if all_namespaces:
        row.insert(0, str(obj["metadata"].get("namespace", "")))
    return row


def header_of(all_namespaces: bool, show_source: bool = False) -> list[str]:
    return ((["NAMESPACE"] if all_namespaces else []) + HEADER[:1] + (["SOURCE"] if show_source else [])
            + HEADER[1:])


def render(header: Sequence[str], rows: Sequence[Sequence[str]], no_header: bool) -> None:
    if sys.stdout.isatty():
        from rich import box
        from rich.console import Console
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, show_header=not no_header, header_style="bold", pad_edge=False)
        for column in header:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    lines = [list(row) for row in rows]
    if not no_header:
        lines.insert(0, list(header))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))] if lines else []
    for line in lines:
        click.echo("\t".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())


def _selected(items: Iterable[dict[str, Any]], args: GetArgs) -> list[dict[str, Any]]:
    return [item for item in items if _matches(item, args.status_selector)
            and (args.name is None or item["metadata"]["name"] == args.name)]


async def fetch(client: KubeClient, kind: KindDef, opts: Options, args: GetArgs) -> list[dict[str, Any]]:
    items, _ = await fetch_listing(client, kind, opts, args)
    return _selected(items, args)


async def fetch_listing(client: KubeClient, kind: KindDef, opts: Options,
                        args: GetArgs) -> tuple[list[dict[str, Any]], str]:
    """Every object of the listing (before the status selector) and its resourceVersion."""
    if args.name is not None and not opts.all_namespaces:
        obj = await get_object(client, kind, args.name, opts.namespace)
        return [obj], str(obj["metadata"].get("resourceVersion", ""))
    namespace = None if opts.all_namespaces else opts.namespace
    return await client.list_all(kind.api_version, kind.kind, namespace, label_selector=args.label_selector)


async def watch_kind(client: KubeClient, kind: KindDef, opts: Options, args: GetArgs) -> None:
    """List, print, then print one row per change until interrupted (re-listing when the watch expires)."""
    from headwater.runtime.kube import Gone

    header = header_of(opts.all_namespaces, args.show_source)
    printed: dict[tuple[str, str], list[str]] = {}
    show_header = not args.no_header

    def show(objs: Iterable[dict[str, Any]]) -> None:
        nonlocal show_header
        fresh = []
        for obj in _selected(objs, args):
            key = (str(obj["metadata"].get("namespace", "")), str(obj["metadata"]["name"]))
            row = row_of(kind, obj, opts.all_namespaces, show_source=args.show_source)
            if printed.get(key) != row:
                printed[key] = row
                fresh.append(row)
        if fresh:
            render(header, fresh, not show_header)
            show_header = False

    items, version = await fetch_listing(client, kind, opts, args)
    show(items)
    namespace = None if opts.all_namespaces else opts.namespace
    while True:
        try:
            async for event in client.watch(kind.api_version, kind.kind, namespace, resource_version=version,
                                            label_selector=args.label_selector):
                obj = event.get("object") or {}
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                    show([obj])
        except Gone:
            items, version = await fetch_listing(client, kind, opts, args)
            show(items)


def get_kind(kind: KindDef, opts: Options, args: GetArgs) -> None:
    from headwater.runtime.kube import UnknownKind

    async def body(client: KubeClient) -> list[dict[str, Any]]:
        try:
            if args.watch:
                await watch_kind(client, kind, opts, args)
            return await fetch(client, kind, opts, args)
        except UnknownKind as err:
            raise CliError(f"the cluster does not serve {kind.kind} ({kind.api_version}): "
                           "are the Flux CRDs installed?") from err

    try:
        items = run(opts, body)
    except KeyboardInterrupt:  # the way out of --watch
        sys.exit(0)
    if not items:
        where = "any namespace" if opts.all_namespaces else f"{opts.namespace} namespace"
        log("✗", f"no {kind.kind} objects found in {where}")
        return
    render(header_of(opts.all_namespaces, args.show_source),
           [row_of(kind, item, opts.all_namespaces, show_source=args.show_source) for item in items], args.no_header)


def get_leaf(kind: KindDef) -> click.Command:
    """`get <noun> [NAME]`: the status table of one kind (appliers also `--show-source`)."""

    def leaf(name: str | None, kubeconfig: str | None, context: str | None, namespace: str | None,
             timeout: str | None, all_namespaces: bool, no_header: bool, status_selector: str | None,
             label_selector: str | None, watch: bool, show_source: bool = False) -> None:
        opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
        get_kind(kind, opts, GetArgs(no_header, parse_status_selector(status_selector), label_selector, name, watch,
                                     show_source))

    command: Any = get_options(leaf)
    if kind.kind in SHOWS_SOURCE:
        command = bool_flag("--show-source", help=f"Show the source each {kind.kind} reads.")(command)
    command = click.argument("name", required=False, shell_complete=complete_names(kind))(command)
    return click.command(help=f"Get the status of {kind.kind} objects (all, or the one NAME).")(command)


@click.group(cls=KindGroup)
def get() -> None:
    """Get the status of Flux resources."""


get.subgroup_help = "Get the status of {}."
for _kind in ALL_KINDS:
    add_kind_leaf(get, _kind, get_leaf(_kind), plural=True)


@get.command("all")
@get_options
def get_all(kubeconfig: str | None, context: str | None, namespace: str | None, timeout: str | None,
            all_namespaces: bool, no_header: bool, status_selector: str | None,
            label_selector: str | None, watch: bool) -> None:
    """Get the status of all Flux resources (kinds the cluster does not serve are skipped)."""
    from headwater.runtime.kube import UnknownKind

    if watch:
        fail("expected a single resource type, but found all (--watch watches one kind)")

    opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
    args = GetArgs(no_header, parse_status_selector(status_selector), label_selector)

    async def body(client: KubeClient) -> list[tuple[KindDef, list[dict[str, Any]]]]:
        found: list[tuple[KindDef, list[dict[str, Any]]]] = []
        served = 0
        for kind in ALL_KINDS:
            try:
                items = await fetch(client, kind, opts, args)
            except UnknownKind:
                continue
            served += 1
            if items:
                found.append((kind, items))
        if not served:
            raise CliError("the cluster serves no Flux kinds: are the Flux CRDs installed?")
        return found

    tables = run(opts, body)
    header = header_of(opts.all_namespaces)
    for index, (kind, items) in enumerate(tables):
        if index:
            click.echo()
        prefix = kind.kind.lower() + "/"
        render(header, [row_of(kind, item, opts.all_namespaces, prefix) for item in items], no_header)
