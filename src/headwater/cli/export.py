"""`headwater export kustomization|source git [NAME | --all]`: Flux objects as clean, re-appliable YAML.

Like flux, an exported object keeps only apiVersion, kind, name, namespace, labels, annotations and
spec: status and the server's bookkeeping (uid, resourceVersion, generation, creationTimestamp,
managedFields, finalizers, owner references) would make `kubectl apply -f -` fail or fight the
controllers. The `kubectl.kubernetes.io/last-applied-configuration` annotation goes too: it is a copy
of an old spec. `--with-credentials` also prints the Secrets a source references (secretRef and
proxySecretRef; name, namespace, type and data only), right after the source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from headwater.cli.common import (
    GIT_REPOSITORY,
    KUSTOMIZATION,
    CliError,
    Kind,
    cluster_options,
    fail,
    get_object,
    make_options,
    run,
)
from headwater.cli.get import AliasGroup
from headwater.cli.names import complete_names
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The exportable part of a Flux object."""
    meta = obj.get("metadata") or {}
    kept: dict[str, Any] = {"name": meta["name"], "namespace": meta.get("namespace")}
    if meta.get("labels"):
        kept["labels"] = dict(meta["labels"])
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in DROPPED_ANNOTATIONS}
    if annotations:
        kept["annotations"] = annotations
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": kept, "spec": obj.get("spec") or {}}


def clean_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A referenced Secret as flux exports it: name, namespace, type and (base64) data."""
    meta = obj.get("metadata") or {}
    exported: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret",
                                "metadata": {"name": meta["name"], "namespace": meta.get("namespace")}}
    if obj.get("data"):
        exported["data"] = dict(obj["data"])
    if obj.get("type"):
        exported["type"] = obj["type"]
    return exported


async def credentials_of(client: KubeClient, source: Mapping[str, Any]) -> list[dict[str, Any]]:
    from headwater.runtime.kube import NotFound

    spec = source.get("spec") or {}
    namespace = source["metadata"].get("namespace")
    secrets: list[dict[str, Any]] = []
    for field in ("secretRef", "proxySecretRef"):
        ref = spec.get(field) or {}
        if not ref.get("name"):
            continue
        try:
            secrets.append(clean_secret(await client.get("v1", "Secret", ref["name"], namespace)))
        except NotFound as err:
            raise CliError(f"failed to retrieve secret {ref['name']} ({field} of {source['kind']} "
                           f"'{namespace}/{source['metadata']['name']}'): Secret '{namespace}/{ref['name']}' "
                           "not found") from err
    return secrets


def export_kind(kind: Kind, name: str | None, all_: bool, with_credentials: bool, kubeconfig: str | None,
                context: str | None, namespace: str, timeout: str) -> None:
    from headwater.cli.generate import to_yaml

    if not all_ and not name:
        fail(f"{kind.kind} name is required (or use --all)")
    opts = make_options(kubeconfig, context, namespace, timeout)

    async def body(client: KubeClient) -> str:
        if all_:
            items, _ = await client.list_all(kind.api_version, kind.kind, opts.namespace)
            if not items:
                raise CliError(f"no {kind.kind} objects found in {opts.namespace} namespace")
        else:
            items = [await get_object(client, kind, str(name), opts.namespace)]
        documents: list[dict[str, Any]] = []
        for item in sorted(items, key=lambda each: str(each["metadata"]["name"])):
            documents.append(clean(item))
            if with_credentials:
                documents.extend(await credentials_of(client, item))
        return to_yaml(documents)

    click.echo(run(opts, body), nl=False)


@click.group(cls=AliasGroup)
def export() -> None:
    """Export Flux resources as YAML that `kubectl apply -f -` or `headwater create` users can keep in Git."""


export.aliases = {"ks": "kustomization"}


@export.group()
def source() -> None:
    """Export sources."""


@export.command("kustomization")
@click.argument("name", required=False, shell_complete=complete_names(KUSTOMIZATION))
@bool_flag("--all", "all_", help="Export every Kustomization in the namespace.")
@cluster_options()
def export_kustomization(name: str | None, all_: bool, kubeconfig: str | None, context: str | None,
                         namespace: str, timeout: str) -> None:
    """Export Kustomizations in YAML format (NAME or --all; alias: ks)."""
    export_kind(KUSTOMIZATION, name, all_, False, kubeconfig, context, namespace, timeout)


@source.command("git")
@click.argument("name", required=False, shell_complete=complete_names(GIT_REPOSITORY))
@bool_flag("--all", "all_", help="Export every GitRepository in the namespace.")
@bool_flag("--with-credentials", help="Also export the Secrets the sources reference.")
@cluster_options()
def export_source_git(name: str | None, all_: bool, with_credentials: bool, kubeconfig: str | None,
                      context: str | None, namespace: str, timeout: str) -> None:
    """Export GitRepository sources in YAML format (NAME or --all)."""
    export_kind(GIT_REPOSITORY, name, all_, with_credentials, kubeconfig, context, namespace, timeout)
