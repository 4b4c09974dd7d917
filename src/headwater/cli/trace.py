"""`headwater trace`: which Kustomization and which source manage an object, and how they are doing.

The kustomize controller labels everything it applies with `kustomize.toolkit.fluxcd.io/name` and
`…/namespace`; trace follows those labels to the Kustomization, then its `spec.sourceRef` to the
source, and prints flux's report: the object, the Kustomization (path, revision, Ready time and
message) and the source (URL, branch or tag, revision, status), blocks separated by `---`.

Objects are named as flux does: `trace NAME --kind K --api-version V`, or `trace KIND/NAME …`, or
`trace KIND NAME …`, where KIND is resolved as kubectl resolves it (`headwater.cli.resources`): a
kind, singular, plural or short name in any case (`deploy`, `cm`, `Deployment`), optionally qualified
(`deployments.apps`, `deploy.v1.apps`).
An object without the labels is not managed by Flux: that, a missing object or an unknown kind is one
`✗` line and exit 1 (flux prints such failures but exits 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from headwater.api.kinds import KUSTOMIZATION, source_of
from headwater.cli.common import CliError, Options, cluster_options, condition, get_object, make_options, run
from headwater.cli.names import COMPLETION_TIMEOUT, complete_object_names, context_param
from headwater.cli.resources import ServedKind, resolve_kind, resolve_resource

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"
HELM_NAME_LABEL = "helm.toolkit.fluxcd.io/name"
HELM_NAMESPACE_LABEL = "helm.toolkit.fluxcd.io/namespace"
WIDTH = 17  # flux aligns values after "Kustomization:   "


@dataclass(frozen=True)
class Wanted:
    api_version: str
    kind: str
    name: str


def field(label: str, value: Any) -> str:
    return f"{label + ':':<{WIDTH}}{value}"


def go_time(text: str) -> str:
    """An RFC 3339 time as Go's time.Time prints it in a template: `2024-05-01 12:00:00 +0000 UTC`."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    zone = "UTC" if moment.utcoffset() is not None and not moment.utcoffset() else moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + moment.strftime("%z") + " " + zone


def status_lines(obj: dict[str, Any], failed_wording: bool) -> list[str]:
    ready = condition(obj, "Ready")
    if ready is None:
        return [field("Status", "Unknown")]
    when = go_time(str(ready.get("lastTransitionTime", "")))
    verb = "Last reconciliation failed at" if failed_wording and ready.get("status") == "False" \
        else "Last reconciled at"
    return [field("Status", f"{verb} {when}"), field("Message", ready.get("message", ""))]


def object_block(obj: dict[str, Any]) -> list[str]:
    meta = obj["metadata"]
    lines = [field("Object", f"{obj['kind']}/{meta['name']}")]
    if meta.get("namespace"):
        lines.append(field("Namespace", meta["namespace"]))
    return [*lines, field("Status", "Managed by Flux")]


def kustomization_block(ks: dict[str, Any]) -> list[str]:
    spec, status = ks.get("spec") or {}, ks.get("status") or {}
    lines = [field("Kustomization", ks["metadata"]["name"]), field("Namespace", ks["metadata"]["namespace"])]
    if spec.get("targetNamespace"):
        lines.append(field("Target", spec["targetNamespace"]))
    lines += [field("Path", spec.get("path", "")), field("Revision", status.get("lastAppliedRevision", ""))]
    return lines + status_lines(ks, failed_wording=False)


def source_block(source: dict[str, Any]) -> list[str]:
    spec, status = source.get("spec") or {}, source.get("status") or {}
    lines = [field(source["kind"], source["metadata"]["name"]), field("Namespace", source["metadata"]["namespace"])]
    if spec.get("url"):
        lines.append(field("URL", spec["url"]))
    ref = spec.get("ref") or {}
    if ref.get("tag") or ref.get("semver"):
        lines.append(field("Tag", ref.get("tag") or ref.get("semver")))
    elif ref.get("digest"):
        lines.append(field("Digest", ref["digest"]))
    elif ref.get("branch"):
        lines.append(field("Branch", ref["branch"]))
    if (status.get("artifact") or {}).get("revision"):
        lines.append(field("Revision", status["artifact"]["revision"]))
    return lines + status_lines(source, failed_wording=True)


# -- finding the object ----------------------------------------------------------------------------


async def fetch_object(client: KubeClient, api_version: str, kind: str, name: str,
                       namespace: str) -> dict[str, Any]:
    from headwater.runtime.kube import UnknownKind

    try:
        resource = await client.resource(api_version, kind)
    except UnknownKind as err:
        raise CliError(f"the cluster serves no kind {kind!r} in {api_version!r}") from err
    where = namespace if resource.namespaced else None
    obj = await client.get_or_none(api_version, kind, name, where)
    if obj is None:
        raise CliError(f"{kind} '{where + '/' if where else ''}{name}' not found")
    obj.setdefault("kind", kind)
    return obj


# -- the report ------------------------------------------------------------------------------------


async def trace_one(client: KubeClient, wanted: Wanted, namespace: str) -> str:
    obj = await fetch_object(client, wanted.api_version, wanted.kind, wanted.name, namespace)
    labels = obj["metadata"].get("labels") or {}
    where = f"{obj['metadata'].get('namespace')}/{wanted.name}" if obj["metadata"].get("namespace") else wanted.name
    if NAME_LABEL not in labels or NAMESPACE_LABEL not in labels:
        if HELM_NAME_LABEL in labels:
            raise CliError(f"{wanted.kind} '{where}' is managed by HelmRelease "
                           f"'{labels.get(HELM_NAMESPACE_LABEL)}/{labels[HELM_NAME_LABEL]}': "
                           "tracing HelmReleases is not supported yet")
        raise CliError(f"{wanted.kind} '{where}' is not managed by Flux (no {NAME_LABEL} label)")
    ks = await get_object(client, KUSTOMIZATION, labels[NAME_LABEL], labels[NAMESPACE_LABEL])
    blocks = [object_block(obj), kustomization_block(ks)]
    found = source_of(KUSTOMIZATION, ks)
    if found is not None:
        source_kind, source_namespace, source_name = found
        source = await get_object(client, source_kind, source_name, source_namespace)
        source.setdefault("kind", source_kind.kind)
        blocks.append(source_block(source))
    return "\n" + "\n---\n".join("\n".join(block) for block in blocks) + "\n"


async def wanted_objects(client: KubeClient, args: tuple[str, ...], kind: str | None,
                         api_version: str | None) -> list[Wanted]:
    if kind or api_version:
        if not kind or not api_version:
            raise CliError("--kind and --api-version go together: give both, or neither")
        if len(args) != 1:
            raise CliError("with --kind and --api-version, give exactly one object name")
        served = await resolve_kind(client, kind, api_version)
        return [Wanted(served.api_version, served.kind, args[0])]
    if not args:
        raise CliError("either `<resource>/<name>` or `<resource> <name>` is required as an argument")
    if "/" in args[0]:
        found = []
        for arg in args:
            type_text, _, name = arg.partition("/")
            if not type_text or not name:
                raise CliError(f"{arg!r}: expected <resource>/<name>")
            resource = await resolve_resource(client, type_text)
            found.append(Wanted(resource.api_version, resource.kind, name))
        return found
    if len(args) < 2:
        raise CliError("either `<resource>/<name>` or `<resource> <name>` is required as an argument")
    resource = await resolve_resource(client, args[0])
    return [Wanted(resource.api_version, resource.kind, name) for name in args[1:]]


def complete_traced(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Names of the --kind/--api-version given, or `<resource>/<name>` once the resource is typed."""
    kind, api_version = context_param(ctx, "kind"), context_param(ctx, "api_version")
    if kind and api_version:
        return complete_object_names(api_version, kind, ctx, incomplete)
    type_text, slash, _ = incomplete.partition("/")
    if not slash or not type_text:
        return []

    try:
        import asyncio

        from headwater.runtime.kube import connect

        async def lookup() -> ServedKind:
            client = connect(context_param(ctx, "kubeconfig"), context_param(ctx, "context"))
            client.timeout = COMPLETION_TIMEOUT
            try:
                return await asyncio.wait_for(resolve_resource(client, type_text), COMPLETION_TIMEOUT)
            finally:
                await client.close()

        resource = asyncio.run(lookup())
    except Exception:  # a completion must stay silent whatever went wrong
        return []
    return complete_object_names(resource.api_version, resource.kind, ctx, incomplete, prefix=f"{type_text}/")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("objects", nargs=-1, metavar="<resource>/<name>… | <resource> <name>… | <name>",
                shell_complete=complete_traced)
@click.option("--kind", default=None, help="The object's kind, e.g. Deployment (with --api-version).")
@click.option("--api-version", default=None, help="The object's API version, e.g. apps/v1 (with --kind).")
@cluster_options()
def trace(objects: tuple[str, ...], kind: str | None, api_version: str | None, kubeconfig: str | None,
          context: str | None, namespace: str | None, timeout: str | None) -> None:
    """Show which Kustomization and source manage objects, and their last reconciliation."""
    opts: Options = make_options(kubeconfig, context, namespace, timeout)

    async def body(client: KubeClient) -> None:
        targets = await wanted_objects(client, objects, kind, api_version)
        for index, wanted in enumerate(targets):
            if index:
                click.echo("---")
            click.echo(await trace_one(client, wanted, opts.namespace), nl=False)

    run(opts, body)
