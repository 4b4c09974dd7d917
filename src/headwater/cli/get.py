"""`headwater get …`: flux's status tables (NAME, REVISION, SUSPENDED, READY, MESSAGE)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
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
    is_suspended,
    log,
    make_options,
    ready_status,
    revision_of,
    run,
    truncate_hex,
)

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
        click.option("--no-header", is_flag=True, help="Skip the header when printing the results."),
        click.option("--status-selector", default=None, metavar="COND=STATUS",
                     help="Filter by a status condition, e.g. ready=false."),
        click.option("-l", "--label-selector", default=None, help="Filter by labels, e.g. app=web."),
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


async def fetch(client: KubeClient, kind: Kind, opts: Options, args: GetArgs) -> list[dict[str, Any]]:
    namespace = None if opts.all_namespaces else opts.namespace
    items, _ = await client.list_all(kind.api_version, kind.kind, namespace, label_selector=args.label_selector)
    return [item for item in items if _matches(item, args.status_selector)]


def get_kind(kind: Kind, opts: Options, args: GetArgs) -> None:
    from headwater.runtime.kube import UnknownKind

    async def body(client: KubeClient) -> list[dict[str, Any]]:
        try:
            return await fetch(client, kind, opts, args)
        except UnknownKind as err:
            raise CliError(f"the cluster does not serve {kind.kind} ({kind.api_version}): "
                           "are the Flux CRDs installed?") from err

    items = run(opts, body)
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
@get_options
def get_sources_git(kubeconfig: str | None, context: str | None, namespace: str, timeout: str,
                    all_namespaces: bool, no_header: bool, status_selector: str | None,
                    label_selector: str | None) -> None:
    """Get the status of GitRepository sources."""
    opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
    get_kind(GIT_REPOSITORY, opts, GetArgs(no_header, parse_status_selector(status_selector), label_selector))


@get.command("kustomizations")
@get_options
def get_kustomizations(kubeconfig: str | None, context: str | None, namespace: str, timeout: str,
                       all_namespaces: bool, no_header: bool, status_selector: str | None,
                       label_selector: str | None) -> None:
    """Get the status of Kustomizations (aliases: ks, kustomization)."""
    opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
    get_kind(KUSTOMIZATION, opts, GetArgs(no_header, parse_status_selector(status_selector), label_selector))


@get.command("all")
@get_options
def get_all(kubeconfig: str | None, context: str | None, namespace: str, timeout: str,
            all_namespaces: bool, no_header: bool, status_selector: str | None,
            label_selector: str | None) -> None:
    """Get the status of all sources and Kustomizations (kinds the cluster does not serve are skipped)."""
    from headwater.runtime.kube import UnknownKind

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
