"""`headwater delete <kind> NAME`: flux's delete, with its confirmation prompt (one leaf per registry kind).

Like flux: the object must exist (exit 1 naming kind, namespace and name otherwise), the user is asked
"Are you sure you want to delete this …" unless `--silent`/`-s` (scripts; a closed stdin counts as no),
and the delete is issued without waiting: the controllers' finalizers do the garbage collection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from headwater.api.kinds import ALL_KINDS
from headwater.cli.common import CliError, cluster_options, fail, get_object, log, make_options, run
from headwater.cli.create_common import confirm
from headwater.cli.names import complete_names
from headwater.cli.nouns import kind_tree
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.runtime.kube import KubeClient


def delete_kind(kind: KindDef, name: str | None, silent: bool, kubeconfig: str | None, context: str | None,
                namespace: str, timeout: str) -> None:
    if not name:
        fail(f"{kind.cli_noun} name is required")
    opts = make_options(kubeconfig, context, namespace, timeout)

    async def exists(client: KubeClient) -> None:
        await get_object(client, kind, name, opts.namespace)

    async def remove(client: KubeClient) -> None:
        log("►", f"deleting {kind.cli_noun} {name} in {opts.namespace} namespace")
        if await client.delete(kind.api_version, kind.kind, name, opts.namespace) is None:
            raise CliError(f"{kind.kind} '{opts.namespace}/{name}' not found")
        log("✔", f"{kind.cli_noun} deleted")

    run(opts, exists)
    if not silent and not confirm(f"Are you sure you want to delete this {kind.cli_noun}"):
        fail("aborting")
    run(opts, remove)


def delete_leaf(kind: KindDef) -> click.Command:
    """`delete <noun> NAME [-s]`."""

    @click.command(help=f"Delete a {kind.kind} (its controller's finalizer does the garbage collection).")
    @click.argument("name", required=False, shell_complete=complete_names(kind))
    @bool_flag("-s", "--silent", help="Delete without asking for confirmation.")
    @cluster_options()
    def leaf(name: str | None, silent: bool, kubeconfig: str | None, context: str | None, namespace: str,
             timeout: str) -> None:
        delete_kind(kind, name, silent, kubeconfig, context, namespace, timeout)

    return leaf


delete = kind_tree("delete", "Delete Flux resources.", ALL_KINDS, delete_leaf)
