"""`headwater trace`: which Kustomization or HelmRelease and which source manage an object, and how they are doing.

The kustomize controller labels everything it applies with `kustomize.toolkit.fluxcd.io/name` and
`…/namespace`, the helm controller with `helm.toolkit.fluxcd.io/name` and `…/namespace`; an object
without them (a Pod, a ReplicaSet) is traced through its owner references to one that has them, as
flux does. trace follows the labels to the Kustomization, then its `spec.sourceRef` to the source, and
prints flux's report: the object, the Kustomization (path, revision, Ready time and message) and the
source (URL, branch or tag, revision, status), blocks separated by `---`. For a HelmRelease the blocks
are flux's Helm ones: the HelmRelease (target, revision), the HelmChart it made (`status.helmChart`:
chart, version, revision) and the HelmRepository or GitRepository of its chart template.

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

from headwater.api.kinds import GIT_REPOSITORY, HELM_CHART, HELM_RELEASE, HELM_REPOSITORY, KUSTOMIZATION, source_of
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
HELM_WIDTH = 16  # … and in a HelmRelease's report after "HelmRepository: "
MAX_OWNER_DEPTH = 8


@dataclass(frozen=True)
class Wanted:
    api_version: str
    kind: str
    name: str


def field(label: str, value: Any, width: int = WIDTH) -> str:
    return f"{label + ':':<{width}}{value}"


def go_time(text: str) -> str:
    """An RFC 3339 time as Go's time.Time prints it in a template: `2024-05-01 12:00:00 +0000 UTC`."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    zone = "UTC" if moment.utcoffset() is not None and not moment.utcoffset() else moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + moment.strftime("%z") + " " + zone


def status_lines(obj: dict[str, Any], failed_wording: bool, width: int = WIDTH) -> list[str]:
    ready = condition(obj, "Ready")
    if ready is None:
        return [field("Status", "Unknown", width)]
    when = go_time(str(ready.get("lastTransitionTime", "")))
    verb = "Last reconciliation failed at" if failed_wording and ready.get("status") == "False" \
        else "Last reconciled at"
    return [field("Status", f"{verb} {when}", width), field("Message", ready.get("message", ""), width)]


def object_block(obj: dict[str, Any], width: int = WIDTH) -> list[str]:
    meta = obj["metadata"]
    lines = [field("Object", f"{obj['kind']}/{meta['name']}", width)]
    if meta.get("namespace"):
        lines.append(field("Namespace", meta["namespace"], width))
    return [*lines, field("Status", "Managed by Flux", width)]


def kustomization_block(ks: dict[str, Any]) -> list[str]:
    spec, status = ks.get("spec") or {}, ks.get("status") or {}
    lines = [field("Kustomization", ks["metadata"]["name"]), field("Namespace", ks["metadata"]["namespace"])]
    if spec.get("targetNamespace"):
        lines.append(field("Target", spec["targetNamespace"]))
    lines += [field("Path", spec.get("path", "")), field("Revision", status.get("lastAppliedRevision", ""))]
    return lines + status_lines(ks, failed_wording=False)


def source_block(source: dict[str, Any], width: int = WIDTH) -> list[str]:
    spec, status = source.get("spec") or {}, source.get("status") or {}
    lines = [field(source["kind"], source["metadata"]["name"], width),
             field("Namespace", source["metadata"]["namespace"], width)]
    if spec.get("url"):
        lines.append(field("URL", spec["url"], width))
    ref = spec.get("ref") or {}
    if ref.get("tag") or ref.get("semver"):
        lines.append(field("Tag", ref.get("tag") or ref.get("semver"), width))
    elif ref.get("digest"):
        lines.append(field("Digest", ref["digest"], width))
    elif ref.get("branch"):
        lines.append(field("Branch", ref["branch"], width))
    if (status.get("artifact") or {}).get("revision"):
        lines.append(field("Revision", status["artifact"]["revision"], width))
    return lines + status_lines(source, failed_wording=True, width=width)


def helm_release_block(hr: dict[str, Any]) -> list[str]:
    spec, status, w = hr.get("spec") or {}, hr.get("status") or {}, HELM_WIDTH
    lines = [field("HelmRelease", hr["metadata"]["name"], w), field("Namespace", hr["metadata"]["namespace"], w)]
    if spec.get("targetNamespace"):
        lines.append(field("Target", spec["targetNamespace"], w))
    lines.append(field("Revision", status.get("lastAttemptedRevision", ""), w))
    return lines + status_lines(hr, failed_wording=False, width=w)


def helm_chart_block(chart: dict[str, Any]) -> list[str]:
    spec, status, w = chart.get("spec") or {}, chart.get("status") or {}, HELM_WIDTH
    lines = [field("HelmChart", chart["metadata"]["name"], w), field("Namespace", chart["metadata"]["namespace"], w),
             field("Chart", spec.get("chart", ""), w), field("Version", spec.get("version", ""), w)]
    if (status.get("artifact") or {}).get("revision"):
        lines.append(field("Revision", status["artifact"]["revision"], w))
    return lines + status_lines(chart, failed_wording=False, width=w)


def helm_repository_block(repository: dict[str, Any]) -> list[str]:
    spec, status, w = repository.get("spec") or {}, repository.get("status") or {}, HELM_WIDTH
    lines = [field("HelmRepository", repository["metadata"]["name"], w),
             field("Namespace", repository["metadata"]["namespace"], w), field("URL", spec.get("url", ""), w)]
    if (status.get("artifact") or {}).get("revision"):
        lines.append(field("Revision", status["artifact"]["revision"], w))
    return lines + status_lines(repository, failed_wording=False, width=w)


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


async def managed_by(client: KubeClient, obj: dict[str, Any], name_label: str,
                     namespace_label: str) -> tuple[str, str] | None:
    """(namespace, name) in the labels of `obj` or of its owners, up the chain (flux's isOwnerManagedByFlux)."""
    current, depth = obj, 0
    while True:
        labels = current["metadata"].get("labels") or {}
        if labels.get(name_label):
            return str(labels.get(namespace_label) or ""), str(labels[name_label])
        owners = current["metadata"].get("ownerReferences") or []
        if not owners or depth >= MAX_OWNER_DEPTH:
            return None
        owner = owners[0]
        try:
            current = await fetch_object(client, str(owner.get("apiVersion", "")), str(owner.get("kind", "")),
                                         str(owner.get("name", "")), str(obj["metadata"].get("namespace") or ""))
        except CliError:
            return None
        depth += 1


async def trace_one(client: KubeClient, wanted: Wanted, namespace: str) -> str:
    obj = await fetch_object(client, wanted.api_version, wanted.kind, wanted.name, namespace)
    where = f"{obj['metadata'].get('namespace')}/{wanted.name}" if obj["metadata"].get("namespace") else wanted.name
    ks = await managed_by(client, obj, NAME_LABEL, NAMESPACE_LABEL)
    if ks is not None:
        blocks = await kustomization_report(client, obj, *ks)
    else:
        hr = await managed_by(client, obj, HELM_NAME_LABEL, HELM_NAMESPACE_LABEL)
        if hr is None:
            raise CliError(f"{wanted.kind} '{where}' is not managed by Flux (no {NAME_LABEL} or "
                           f"{HELM_NAME_LABEL} label)")
        blocks = await helm_report(client, obj, *hr)
    return "\n" + "\n---\n".join("\n".join(block) for block in blocks) + "\n"


async def kustomization_report(client: KubeClient, obj: dict[str, Any], namespace: str,
                               name: str) -> list[list[str]]:
    ks = await get_object(client, KUSTOMIZATION, name, namespace)
    blocks = [object_block(obj), kustomization_block(ks)]
    found = source_of(KUSTOMIZATION, ks)
    if found is not None:
        source_kind, source_namespace, source_name = found
        source = await get_object(client, source_kind, source_name, source_namespace)
        source.setdefault("kind", source_kind.kind)
        blocks.append(source_block(source))
    return blocks


async def helm_report(client: KubeClient, obj: dict[str, Any], namespace: str, name: str) -> list[list[str]]:
    hr = await get_object(client, HELM_RELEASE, name, namespace)
    blocks = [object_block(obj, HELM_WIDTH), helm_release_block(hr)]
    chart_key = str((hr.get("status") or {}).get("helmChart") or "")
    if chart_key:
        chart_namespace, _, chart_name = chart_key.rpartition("/")
        blocks.append(helm_chart_block(await get_object(client, HELM_CHART, chart_name, chart_namespace or namespace)))
    ref = (((hr.get("spec") or {}).get("chart") or {}).get("spec") or {}).get("sourceRef") or {}
    ref_namespace = str(ref.get("namespace") or namespace)
    if ref.get("kind") == HELM_REPOSITORY.kind:
        blocks.append(helm_repository_block(await get_object(client, HELM_REPOSITORY, ref["name"], ref_namespace)))
    elif ref.get("kind") == GIT_REPOSITORY.kind:
        repository = await get_object(client, GIT_REPOSITORY, ref["name"], ref_namespace)
        repository.setdefault("kind", GIT_REPOSITORY.kind)
        blocks.append(source_block(repository, width=len("GitRepository: ")))
    return blocks


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
    """Show which Kustomization or HelmRelease and source manage objects, and their last reconciliation."""
    opts: Options = make_options(kubeconfig, context, namespace, timeout)

    async def body(client: KubeClient) -> None:
        targets = await wanted_objects(client, objects, kind, api_version)
        for index, wanted in enumerate(targets):
            if index:
                click.echo("---")
            click.echo(await trace_one(client, wanted, opts.namespace), nl=False)

    run(opts, body)
