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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from headwater.cli.common import (
    CliError,
    Kind,
    Options,
    cluster_options,
    fail,
    get_object,
    log,
    make_options,
    run,
)

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

SOURCE_API = "source.toolkit.fluxcd.io/v1"
NOTIFICATION_BETA_API = "notification.toolkit.fluxcd.io/v1beta3"
IMAGE_API = "image.toolkit.fluxcd.io/v1"
HEADER = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
EVENT_TYPES = ("Normal", "Warning")


@dataclass(frozen=True)
class RefInfo:
    """A Flux kind `--for` accepts, and where its objects point at the objects whose events also count."""

    api_version: str
    field: tuple[str, ...] = ()  # path of the reference in the object, e.g. spec.sourceRef
    ref_kind: str = ""  # the kind referenced when the reference has no `kind` field
    cross_namespace: bool = False  # the reference may name another namespace
    helm_chart: bool = False  # a HelmRelease: also its HelmChart `<namespace>-<name>`


FLUX_KINDS: dict[str, RefInfo] = {
    "Kustomization": RefInfo("kustomize.toolkit.fluxcd.io/v1", ("spec", "sourceRef"), cross_namespace=True),
    "HelmRelease": RefInfo("helm.toolkit.fluxcd.io/v2", ("spec", "chart", "spec", "sourceRef"),
                           cross_namespace=True, helm_chart=True),
    "HelmChart": RefInfo(SOURCE_API, ("spec", "sourceRef"), cross_namespace=True),
    "GitRepository": RefInfo(SOURCE_API),
    "OCIRepository": RefInfo(SOURCE_API),
    "Bucket": RefInfo(SOURCE_API),
    "HelmRepository": RefInfo(SOURCE_API),
    "ExternalArtifact": RefInfo(SOURCE_API),
    "Alert": RefInfo(NOTIFICATION_BETA_API, ("spec", "providerRef"), ref_kind="Provider"),
    "Provider": RefInfo(NOTIFICATION_BETA_API),
    "Receiver": RefInfo("notification.toolkit.fluxcd.io/v1"),
    "ImagePolicy": RefInfo(IMAGE_API, ("spec", "imageRepositoryRef"), ref_kind="ImageRepository",
                           cross_namespace=True),
    "ImageRepository": RefInfo(IMAGE_API),
    "ImageUpdateAutomation": RefInfo(IMAGE_API),
}


SHORT_NAMES = {"ks": "Kustomization", "hr": "HelmRelease", "hc": "HelmChart", "gitrepo": "GitRepository",
               "ocirepo": "OCIRepository", "helmrepo": "HelmRepository", "ea": "ExternalArtifact"}


def flux_kind(text: str) -> str:
    """The canonical spelling of a Flux kind given in any case (or its CRD short name); CliError otherwise."""
    for kind in FLUX_KINDS:
        if kind.lower() == text.lower():
            return kind
    if text.lower() in SHORT_NAMES:
        return SHORT_NAMES[text.lower()]
    raise CliError(f"'{text}' is not a recognized Flux kind (one of {', '.join(sorted(FLUX_KINDS))})")


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


def _nested(obj: dict[str, Any], path: Sequence[str]) -> dict[str, Any]:
    current: Any = obj
    for key in path:
        current = current.get(key) if isinstance(current, dict) else None
    return current if isinstance(current, dict) else {}


async def referenced(client: KubeClient, kind: str, name: str, namespace: str) -> list[Target]:
    """What the named object points at (its source, provider, chart…), as event targets."""
    info = FLUX_KINDS[kind]
    obj = await get_object(client, Kind(kind, info.api_version, kind.lower()), name, namespace)
    if not info.field:
        return []
    ref = _nested(obj, info.field)
    ref_kind = info.ref_kind or str(ref.get("kind") or "")
    ref_name = str(ref.get("name") or "")
    if not ref_kind or not ref_name:
        raise CliError(f"{kind} '{namespace}/{name}' has no {'.'.join(info.field)}.name")
    ref_namespace = str(ref.get("namespace") or namespace) if info.cross_namespace else namespace
    targets = [Target(ref_kind, ref_name, ref_namespace)]
    if info.helm_chart:
        targets.append(Target("HelmChart", f"{namespace}-{name}", ref_namespace))
    return targets


def parse_types(values: Iterable[str]) -> tuple[str, ...]:
    """`--types Normal,warning` (repeatable) → ("Normal", "Warning"); CliError for anything else."""
    chosen: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
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
        if involved_kind not in FLUX_KINDS:
            return False
        if self.types and event.get("type") not in self.types:
            return False
        return any(target.matches(event) for target in self.targets)


async def build_query(client: KubeClient, opts: Options, for_: str | None, types: tuple[str, ...]) -> Query:
    namespace = None if opts.all_namespaces else opts.namespace
    if not for_:
        return Query([Target(kind, None, namespace) for kind in FLUX_KINDS], types, namespace is None)
    kind_text, _, name = for_.partition("/")
    if not kind_text:
        raise CliError("--for selector must be of format <kind>[/<name>]")
    kind = flux_kind(kind_text)
    if not name:
        return Query([Target(kind, None, namespace)], types, namespace is None)
    targets = [Target(kind, name, opts.namespace)]
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
@click.option("--types", multiple=True, metavar="TYPES",
              help="Only events of these types (comma-separated): Normal, Warning.")
@click.option("-w", "--watch", is_flag=True, help="After listing, print new events as they come (Ctrl-C stops).")
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
