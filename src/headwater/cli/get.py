"""`headwater get …`: flux's status tables (NAME, REVISION, SUSPENDED, READY, MESSAGE).

`--watch` prints the table, then one row each time a listed object changes (as flux does, the
header only once); a change that leaves an object's row as it was is not printed again. It runs
until interrupted (Ctrl-C exits 0); `--timeout` bounds each API request, not the watch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from headwater.cli.common import (
    BUCKET,
    GIT_REPOSITORY,
    HELM_CHART,
    HELM_RELEASE,
    HELM_REPOSITORY,
    KUSTOMIZATION,
    OCI_REPOSITORY,
    CliError,
    Kind,
    Options,
    cluster_options,
    conditions,
    fail,
    get_object,
    is_suspended,
    log,
    make_options,
    ready_status,
    revision_of,
    run,
    truncate_hex,
)
from headwater.cli.names import complete_names
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

F = TypeVar("F", bound=Callable[..., Any])
HEADER = ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
ALL_KINDS = [GIT_REPOSITORY, OCI_REPOSITORY, BUCKET, HELM_REPOSITORY, HELM_CHART, KUSTOMIZATION, HELM_RELEASE]


class AliasGroup(click.Group):
    """A group whose commands also answer to aliases (`ks` for `kustomizations`), hidden from help."""

    aliases: dict[str, str] = {}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))


@dataclass(frozen=True)
class GetArgs:
    no_header: bool
    status_selector: tuple[str, str] | None
    label_selector: str | None
    name: str | None = None
    watch: bool = False


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


def row_of(obj: dict[str, Any], all_namespaces: bool, prefix: str = "") -> list[str]:
    ready, message = ready_status(obj)
    row = [prefix + str(obj["metadata"]["name"]), truncate_hex(revision_of(obj)),
           str(is_suspended(obj)), ready, " ".join(message.split())]
    if all_namespaces:
        row.insert(0, str(obj["metadata"].get("namespace", "")))
    return row


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


async def fetch(client: KubeClient, kind: Kind, opts: Options, args: GetArgs) -> list[dict[str, Any]]:
    items, _ = await fetch_listing(client, kind, opts, args)
    return _selected(items, args)


async def fetch_listing(client: KubeClient, kind: Kind, opts: Options,
                        args: GetArgs) -> tuple[list[dict[str, Any]], str]:
    """Every object of the listing (before the status selector) and its resourceVersion."""
    if args.name is not None and not opts.all_namespaces:
        obj = await get_object(client, kind, args.name, opts.namespace)
        return [obj], str(obj["metadata"].get("resourceVersion", ""))
    namespace = None if opts.all_namespaces else opts.namespace
    return await client.list_all(kind.api_version, kind.kind, namespace, label_selector=args.label_selector)


async def watch_kind(client: KubeClient, kind: Kind, opts: Options, args: GetArgs) -> None:
    """List, print, then print one row per change until interrupted (re-listing when the watch expires)."""
    from headwater.runtime.kube import Gone

    header = (["NAMESPACE"] if opts.all_namespaces else []) + HEADER
    printed: dict[tuple[str, str], list[str]] = {}
    show_header = not args.no_header

    def show(objs: Iterable[dict[str, Any]]) -> None:
        nonlocal show_header
        fresh = []
        for obj in _selected(objs, args):
            key = (str(obj["metadata"].get("namespace", "")), str(obj["metadata"]["name"]))
            row = row_of(obj, opts.all_namespaces)
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


def get_kind(kind: Kind, opts: Options, args: GetArgs) -> None:
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
    header = (["NAMESPACE"] if opts.all_namespaces else []) + HEADER
    render(header, [row_of(item, opts.all_namespaces) for item in items], args.no_header)


@click.group(cls=AliasGroup)
def get() -> None:
    """Get the status of Flux resources."""


@get.group(cls=AliasGroup)
def sources() -> None:
    """Get the status of sources (git, …)."""


get.aliases = {"ks": "kustomizations", "kustomization": "kustomizations", "source": "sources"}


@sources.command("git")
@click.argument("name", required=False, shell_complete=complete_names(GIT_REPOSITORY))
@get_options
def get_sources_git(name: str | None, kubeconfig: str | None, context: str | None, namespace: str | None,
                    timeout: str | None, all_namespaces: bool, no_header: bool, status_selector: str | None,
                    label_selector: str | None, watch: bool) -> None:
    """Get the status of GitRepository sources (all, or the one NAME)."""
    opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
    get_kind(GIT_REPOSITORY, opts,
             GetArgs(no_header, parse_status_selector(status_selector), label_selector, name, watch))


@get.command("kustomizations")
@click.argument("name", required=False, shell_complete=complete_names(KUSTOMIZATION))
@get_options
def get_kustomizations(name: str | None, kubeconfig: str | None, context: str | None, namespace: str | None,
                       timeout: str | None, all_namespaces: bool, no_header: bool, status_selector: str | None,
                       label_selector: str | None, watch: bool) -> None:
    """Get the status of Kustomizations, all or the one NAME (aliases: ks, kustomization)."""
    opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
    get_kind(KUSTOMIZATION, opts,
             GetArgs(no_header, parse_status_selector(status_selector), label_selector, name, watch))


@get.command("all")
@get_options
def get_all(kubeconfig: str | None, context: str | None, namespace: str | None, timeout: str | None,
            all_namespaces: bool, no_header: bool, status_selector: str | None,
            label_selector: str | None, watch: bool) -> None:
    """Get the status of all sources and Kustomizations (kinds the cluster does not serve are skipped)."""
    from headwater.runtime.kube import UnknownKind

    if watch:
        fail("expected a single resource type, but found all (--watch watches one kind)")

    opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
    args = GetArgs(no_header, parse_status_selector(status_selector), label_selector)

    async def body(client: KubeClient) -> list[tuple[Kind, list[dict[str, Any]]]]:
        found: list[tuple[Kind, list[dict[str, Any]]]] = []
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
    header = (["NAMESPACE"] if opts.all_namespaces else []) + HEADER
    for index, (kind, items) in enumerate(tables):
        if index:
            click.echo()
        prefix = kind.kind.lower() + "/"
        render(header, [row_of(item, opts.all_namespaces, prefix) for item in items], no_header)
