"""`headwater tree kustomization NAME`: what a Kustomization manages, as flux's tree.

The objects come from `status.inventory.entries` (no listing of the cluster), printed as
`Kind/namespace/name` (`Kind/name` for cluster-scoped objects) under the `Kustomization/ns/name` root
with `├──`/`└──` branches. A Kustomization in the inventory is expanded with its own inventory,
recursively (not when the parent applies to a remote cluster through `spec.kubeConfig`, as in flux);
a HelmRelease with the objects of its release (its `status.inventory`: the rendered manifest and the
chart's CRDs, as flux reads them from the Helm storage), unless it installs into a remote cluster.
`--compact` keeps only Flux objects (groups under toolkit.fluxcd.io); `-o json|yaml` prints the tree
as data (`resource` with cli-utils' ObjMetadata fields, `resources` for the children).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from headwater.api.kinds import HELM_RELEASE, KUSTOMIZATION
from headwater.cli.common import CliError, cluster_options, fail, get_object, make_options, run
from headwater.cli.names import complete_names
from headwater.cli.nouns import KindGroup, add_kind_leaf
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.apply.objects import ObjMetadata
    from headwater.runtime.kube import KubeClient

FLUX_GROUP_SUFFIX = "toolkit.fluxcd.io"
MIDDLE, LAST, CONTINUE, SPACE = "├── ", "└── ", "│   ", "    "


@dataclass
class Node:
    """One object of the tree and the objects it manages."""

    namespace: str
    name: str
    group: str
    kind: str
    children: list[Node] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"resource": {"Namespace": self.namespace, "Name": self.name,
                                             "GroupKind": {"Group": self.group, "Kind": self.kind}}}
        if self.children:
            data["resources"] = [child.to_data() for child in self.children]
        return data


def render_tree(root: Node) -> str:
    """The root line, then each child behind its branch (internal/tree's printer)."""
    lines = [root.text]

    def walk(nodes: list[Node], prefix: str) -> None:
        for index, node in enumerate(nodes):
            last = index == len(nodes) - 1
            lines.append(prefix + (LAST if last else MIDDLE) + node.text)
            walk(node.children, prefix + (SPACE if last else CONTINUE))

    walk(root.children, "")
    return "\n".join(lines) + "\n"


def _node(meta: ObjMetadata) -> Node:
    return Node(meta.namespace, meta.name, meta.group, meta.kind)


def inventory_of(kind: KindDef, obj: dict[str, Any]) -> list[ObjMetadata]:
    """The objects of a Kustomization's or HelmRelease's `status.inventory`; CliError when it is malformed."""
    from headwater.apply import inventory
    from headwater.apply.objects import InvalidObject

    try:
        return [entry.meta for entry in inventory.parse((obj.get("status") or {}).get("inventory"))]
    except (InvalidObject, KeyError) as err:
        meta = obj.get("metadata") or {}
        raise CliError(f"{kind.kind} '{meta.get('namespace')}/{meta.get('name')}': bad inventory: {err}") from err


def _is(meta: ObjMetadata, kind: KindDef) -> bool:
    return meta.group == kind.group and meta.kind == kind.kind


async def expand(client: KubeClient, node: Node, obj: dict[str, Any], compact: bool, seen: set[str]) -> None:
    """Add the inventory of Kustomization `obj` under `node`, child Kustomizations and HelmReleases expanded."""
    seen.add(node.text)
    remote = bool((obj.get("spec") or {}).get("kubeConfig"))
    for meta in inventory_of(KUSTOMIZATION, obj):
        if compact and FLUX_GROUP_SUFFIX not in meta.group:
            continue
        child = _node(meta)
        if _is(meta, KUSTOMIZATION) and child.text == node.text:
            continue
        node.children.append(child)
        if remote or child.text in seen:
            continue
        if _is(meta, KUSTOMIZATION):
            nested = await get_object(client, KUSTOMIZATION, meta.name, meta.namespace)
            await expand(client, child, nested, compact, seen)
        elif _is(meta, HELM_RELEASE):
            release = await get_object(client, HELM_RELEASE, meta.name, meta.namespace)
            if not (release.get("spec") or {}).get("kubeConfig"):
                child.children += [_node(each) for each in inventory_of(HELM_RELEASE, release)
                                   if not compact or FLUX_GROUP_SUFFIX in each.group]


@click.group(cls=KindGroup)
def tree() -> None:
    """Print the objects Flux resources manage, as a tree."""


@click.command()
@click.argument("name", required=False, shell_complete=complete_names(KUSTOMIZATION))
@bool_flag("--compact", help="List Flux objects only.")
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]), default=None,
              help="Print the tree as json or yaml instead of text.")
@cluster_options()
def tree_kustomization(name: str | None, compact: bool, output: str | None, kubeconfig: str | None,
                       context: str | None, namespace: str | None, timeout: str | None) -> None:
    """Print the inventory of a Kustomization, nested Kustomizations and HelmReleases expanded (alias: ks)."""
    opts = make_options(kubeconfig, context, namespace, timeout)
    if not name:
        fail("kustomization name is required")

    async def body(client: KubeClient) -> Node:
        obj = await get_object(client, KUSTOMIZATION, name, opts.namespace)
        root = Node(opts.namespace, name, KUSTOMIZATION.group, KUSTOMIZATION.kind)
        await expand(client, root, obj, compact, set())
        return root

    root = run(opts, body)
    if output == "json":
        import json

        click.echo(json.dumps(root.to_data(), indent=2))
    elif output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(root.to_data(), sort_keys=False), nl=False)
    else:
        click.echo(render_tree(root), nl=False)


add_kind_leaf(tree, KUSTOMIZATION, tree_kustomization)
