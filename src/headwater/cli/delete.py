"""`headwater delete kustomization|source git NAME`: flux's delete, with its confirmation prompt.

Like flux: the object must exist (exit 1 naming kind, namespace and name otherwise), the user is asked
"Are you sure you want to delete this …" unless `--silent`/`-s` (scripts; a closed stdin counts as no),
and the delete is issued without waiting: the controllers' finalizers do the garbage collection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from headwater.cli.common import (
    GIT_REPOSITORY,
    KUSTOMIZATION,
    CliError,
    Kind,
    cluster_options,
    fail,
    get_object,
    log,
    make_options,
    run,
)
from headwater.cli.create_common import confirm
from headwater.cli.get import AliasGroup
from headwater.cli.names import complete_names
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient


def delete_kind(kind: Kind, name: str | None, silent: bool, kubeconfig: str | None, context: str | None,
                namespace: str, timeout: str) -> None:
    if not name:
        fail(f"{kind.label} name is required")
    opts = make_options(kubeconfig, context, namespace, timeout)

    async def exists(client: KubeClient) -> None:
        await get_object(client, kind, name, opts.namespace)

    async def remove(client: KubeClient) -> None:
        log("►", f"deleting {kind.label} {name} in {opts.namespace} namespace")
        if await client.delete(kind.api_version, kind.kind, name, opts.namespace) is None:
            raise CliError(f"{kind.kind} '{opts.namespace}/{name}' not found")
        log("✔", f"{kind.label} deleted")

    run(opts, exists)
    if not silent and not confirm(f"Are you sure you want to delete this {kind.label}"):
        fail("aborting")
    run(opts, remove)


def silent_option(func: click.decorators.FC) -> click.decorators.FC:
    return bool_flag("-s", "--silent", help="Delete without asking for confirmation.")(func)


@click.group(cls=AliasGroup)
def delete() -> None:
    """Delete sources and Kustomizations."""


delete.aliases = {"ks": "kustomization"}


@delete.group()
def source() -> None:
    """Delete sources."""


@delete.command("kustomization")
@click.argument("name", required=False, shell_complete=complete_names(KUSTOMIZATION))
@silent_option
@cluster_options()
def delete_kustomization(name: str | None, silent: bool, kubeconfig: str | None, context: str | None,
                         namespace: str, timeout: str) -> None:
    """Delete a Kustomization (its finalizer prunes what it applied when prune is on; alias: ks)."""
    delete_kind(KUSTOMIZATION, name, silent, kubeconfig, context, namespace, timeout)


@source.command("git")
@click.argument("name", required=False, shell_complete=complete_names(GIT_REPOSITORY))
@silent_option
@cluster_options()
def delete_source_git(name: str | None, silent: bool, kubeconfig: str | None, context: str | None,
                      namespace: str, timeout: str) -> None:
    """Delete a GitRepository source."""
    delete_kind(GIT_REPOSITORY, name, silent, kubeconfig, context, namespace, timeout)
