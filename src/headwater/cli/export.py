"""`headwater export <kind> [NAME | --all]`: Flux objects as clean, re-appliable YAML.

One leaf per kind of the registry (`export kustomization`, `export source git`, …; see `cli/nouns.py`).

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

from headwater.api.kinds import ALL_KINDS
from headwater.cli.common import CliError, cluster_options, fail, get_object, make_options, run
from headwater.cli.names import complete_names
from headwater.cli.nouns import kind_tree
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
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


def export_kind(kind: KindDef, name: str | None, all_: bool, with_credentials: bool, kubeconfig: str | None,
                context: str | None, namespace: str, timeout: str) -> None:
    from headwater.manifests import to_yaml

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


def export_leaf(kind: KindDef) -> click.Command:
    """`export <noun> [NAME | --all]` (sources also `--with-credentials`)."""

    def leaf(name: str | None, all_: bool, kubeconfig: str | None, context: str | None, namespace: str,
             timeout: str, with_credentials: bool = False) -> None:
        export_kind(kind, name, all_, with_credentials, kubeconfig, context, namespace, timeout)

    command: Any = cluster_options()(leaf)
    if kind.is_source:
        command = bool_flag("--with-credentials", help="Also export the Secrets the sources reference.")(command)
    command = bool_flag("--all", "all_", help=f"Export every {kind.kind} in the namespace.")(command)
    command = click.argument("name", required=False, shell_complete=complete_names(kind))(command)
    return click.command(help=f"Export {kind.kind} objects in YAML format (NAME or --all).")(command)


export = kind_tree("export", "Export Flux resources as YAML that `kubectl apply -f -` or `headwater create` users "
                   "can keep in Git.", ALL_KINDS, export_leaf)
