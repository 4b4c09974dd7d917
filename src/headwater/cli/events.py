"""`headwater events`: the Kubernetes Events of Flux objects, as flux prints them.

Controllers record an Event on the object for every notable step (fetched a revision, applied, failed
health checks…), so events answer "what happened to my Kustomization" without the controller logs.
The table is flux's (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE; NAMESPACE first with `-A` or when a
source lives in another namespace), oldest first. Only events about Flux kinds are shown.

`--for Kind/name` also shows the events of what the object depends on, as flux does: a Kustomization's
source (`spec.sourceRef`), a HelmRelease's source and its HelmChart, an Alert's Provider, an
ImagePolicy's ImageRepository. `--for Kind` alone narrows to one kind. `--watch` prints the known
events, then each new one as it is recorded, until interrupted (Ctrl-C exits 0).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from headwater.api.kinds import ALL_KINDS, HELM_CHART, HELM_RELEASE
from headwater.cli.common import CliError, Options, cluster_options, fail, get_object, log, make_options, run
from headwater.cli.nouns import flux_kind
from headwater.pflag import bool_flag, string_slice

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.runtime.kube import KubeClient

HEADER = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
EVENT_TYPES = ("Normal", "Warning")
FLUX_KIND_NAMES = frozenset(kind.kind for kind in ALL_KINDS)


@dataclass(frozen=True)
class Target:
    """Events to show: of `kind` (and `name` when set) in `namespace`."""

    kind: str
    name: str | None
    namespace: str | None  # None: every namespace

    def field_selector(self) -> str:
        selector = f"involvedObject.kind={self.kind}"
        return selector + (f",involvedObject.name={self.name}" if self.name else "")

    def matches(self, event: dict[str, Any]) -> bool:
        involved = event.get("involvedObject") or {}
        return (involved.get("kind") == self.kind and (self.name is None or involved.get("name") == self.name)
                and (self.namespace is None or event["metadata"].get("namespace") == self.namespace))


async def referenced(client: KubeClient, kind: KindDef, name: str, namespace: str) -> list[Target]:
    """What the named object points at (its source, provider, image repository…), as event targets.

    The registry's reference fields to other kinds (`KindDef.references`; `dependsOn` names the same kind
    and does not count); a HelmRelease with a chart template also counts the HelmChart its controller
    generates, `<namespace>-<name>` next to the chart's source, as flux does.
    """
    obj = await get_object(client, kind, name, namespace)
    targets = [Target(ref_kind, ref_name, ref_namespace)
               for reference in kind.references if kind.kind not in reference.kinds
               for ref_kind, ref_namespace, ref_name in reference.targets(obj)]
    if kind is HELM_RELEASE and targets and (obj.get("spec") or {}).get("chart"):
        targets.append(Target(HELM_CHART.kind, f"{namespace}-{name}", targets[0].namespace))
    return targets


def parse_types(values: Iterable[str]) -> tuple[str, ...]:
    """The `--types` items (`normal`, `Warning`) spelled as events carry them; CliError for anything else."""
    chosen: list[str] = []
    for part in values:
        match = [t for t in EVENT_TYPES if t.lower() == part.lower()]
        if not match:
            raise CliError(f"--types: type '{part}' not supported. Supported types are Normal, Warning")
        chosen.append(match[0])
    return tuple(chosen)


# -- time ------------------------------------------------------------------------------------------


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def event_time(event: dict[str, Any]) -> datetime | None:
    """When the event last happened: series.lastObservedTime, else lastTimestamp, else eventTime."""
    series = event.get("series") or {}
    return (parse_time(series.get("lastObservedTime")) or parse_time(event.get("lastTimestamp"))
            or parse_time(event.get("eventTime")))


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration: 45s, 3m12s, 15m, 5h2m, 20h, 3d4h, 40d, 2y30d, 9y."""
    from headwater.api.duration import format_human

    return format_human(seconds)


def _since(moment: datetime | None, now: datetime) -> str:
    return "<unknown>" if moment is None else human_duration((now - moment).total_seconds())


def last_seen(event: dict[str, Any], now: datetime | None = None) -> str:
    """flux's LAST SEEN: `45s`, or `2m (x3 over 10m)` for repeated events."""
    now = now or datetime.now(UTC)
    first = parse_time(event.get("eventTime")) or parse_time(event.get("firstTimestamp"))
    series = event.get("series") or {}
    if series:
        return f"{_since(parse_time(series.get('lastObservedTime')), now)} (x{series.get('count', 0)} over " \
               f"{_since(first, now)})"
    count = int(event.get("count") or 0)
    if count > 1:
        return f"{_since(parse_time(event.get('lastTimestamp')), now)} (x{count} over {_since(first, now)})"
    return _since(first, now)


def event_row(event: dict[str, Any], show_namespace: bool, now: datetime | None = None) -> list[str]:
    involved = event.get("involvedObject") or {}
    row = [last_seen(event, now), str(event.get("type", "")), str(event.get("reason", "")),
           f"{involved.get('kind', '')}/{involved.get('name', '')}", " ".join(str(event.get("message", "")).split())]
    return [str(event["metadata"].get("namespace", "")), *row] if show_namespace else row


def sort_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda e: event_time(e) or epoch)


# -- the command -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    targets: list[Target]  # events of these; empty kind list means "any Flux kind"
    types: tuple[str, ...]
    show_namespace: bool

    def wanted(self, event: dict[str, Any]) -> bool:
        involved_kind = (event.get("involvedObject") or {}).get("kind")
        if involved_kind not in FLUX_KIND_NAMES:
            return False
        if self.types and event.get("type") not in self.types:
            return False
        return any(target.matches(event) for target in self.targets)


async def build_query(client: KubeClient, opts: Options, for_: str | None, types: tuple[str, ...]) -> Query:
    namespace = None if opts.all_namespaces else opts.namespace
    if not for_:
        return Query([Target(kind.kind, None, namespace) for kind in ALL_KINDS], types, namespace is None)
    kind_text, _, name = for_.partition("/")
    if not kind_text:
        raise CliError("--for selector must be of format <kind>[/<name>]")
    kind = flux_kind(kind_text)
    if not name:
        return Query([Target(kind.kind, None, namespace)], types, namespace is None)
    targets = [Target(kind.kind, name, opts.namespace)]
    targets += await referenced(client, kind, name, opts.namespace)
    other_namespace = any(t.namespace != opts.namespace for t in targets)
    return Query(targets, types, opts.all_namespaces or other_namespace)


async def list_events(client: KubeClient, query: Query) -> tuple[list[dict[str, Any]], dict[str | None, str]]:
    """The wanted events, oldest first, and the list resourceVersion of each namespace queried."""
    found: dict[str, dict[str, Any]] = {}
    versions: dict[str | None, str] = {}
    by_namespace: dict[str | None, list[Target]] = {}
    for target in query.targets:
        by_namespace.setdefault(target.namespace, []).append(target)
    for namespace, targets in by_namespace.items():
        selectors = [t.field_selector() for t in targets] if len(targets) <= 3 else [None]
        for selector in selectors:
            page = await client.list("v1", "Event", namespace, field_selector=selector)
            versions[namespace] = str((page.get("metadata") or {}).get("resourceVersion", ""))
            for event in page.get("items") or []:
                if query.wanted(event):
                    found[str(event["metadata"].get("uid") or event["metadata"]["name"])] = event
    return sort_events(found.values()), versions


async def watch_events(client: KubeClient, query: Query, versions: dict[str | None, str],
                       header_pending: bool) -> None:
    """Print each new wanted event until interrupted, one watch per namespace queried."""
    import asyncio

    from headwater.cli.get import render
    from headwater.runtime.kube import Gone

    header = (["NAMESPACE"] if query.show_namespace else []) + HEADER

    async def follow(namespace: str | None, version: str) -> None:
        nonlocal header_pending
        while True:
            try:
                async for change in client.watch("v1", "Event", namespace, resource_version=version):
                    event = change.get("object") or {}
                    version = str((event.get("metadata") or {}).get("resourceVersion") or version)
                    if change.get("type") in ("ADDED", "MODIFIED") and query.wanted(event):
                        render(header, [event_row(event, query.show_namespace)], no_header=not header_pending)
                        header_pending = False
            except Gone:
                page = await client.list("v1", "Event", namespace, limit=1)
                version = str((page.get("metadata") or {}).get("resourceVersion", ""))

    await asyncio.gather(*(follow(namespace, version) for namespace, version in versions.items()))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--for", "for_", default=None, metavar="KIND[/NAME]",
              help="Events of one object (and of its source), or of one kind, e.g. Kustomization/apps.")
@string_slice("--types", metavar="TYPES",
              help="Only events of these types (comma-separated): Normal, Warning.")
@bool_flag("-w", "--watch", help="After listing, print new events as they come (Ctrl-C stops).")
@cluster_options(all_namespaces=True)
def events(for_: str | None, types: tuple[str, ...], watch: bool, kubeconfig: str | None, context: str | None,
           namespace: str | None, timeout: str | None, all_namespaces: bool) -> None:
    """Show the Kubernetes events of Flux resources, oldest first."""
    from headwater.cli.get import render

    opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)
    try:
        chosen = parse_types(types)
    except CliError as err:
        fail(str(err))

    async def body(client: KubeClient) -> tuple[Query, list[dict[str, Any]]]:
        query = await build_query(client, opts, for_, chosen)
        found, versions = await list_events(client, query)
        if watch:
            header = (["NAMESPACE"] if query.show_namespace else []) + HEADER
            if found:
                render(header, [event_row(event, query.show_namespace) for event in found], no_header=False)
            await watch_events(client, query, versions, header_pending=not found)
        return query, found

    try:
        query, found = run(opts, body)
    except KeyboardInterrupt:
        sys.exit(0)
    if not found:
        log("✗", "No events found." if opts.all_namespaces else f"No events found in {opts.namespace} namespace.")
        return
    header = (["NAMESPACE"] if query.show_namespace else []) + HEADER
    render(header, [event_row(event, query.show_namespace) for event in found], no_header=False)
