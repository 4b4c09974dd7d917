"""`headwater suspend …` / `headwater resume …`: toggle `spec.suspend` like flux.

Resume also requests a reconciliation (the requestedAt annotation, in the same patch) and waits until
each object handled it with Ready True (exit 1 naming the object otherwise). The kinds come from the
registry: `suspend` for every kind whose spec has `suspend`, `resume` for those that also answer
reconcile requests (`KindDef.suspendable`, `.reconcilable`). A static object (an OCI HelmRepository)
is resumed without waiting: no controller reconciles it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from headwater.api.kinds import ALL_KINDS
from headwater.cli.columns import is_static
from headwater.cli.common import (
    REQUESTED_AT,
    CliError,
    Options,
    cluster_options,
    get_object,
    identify,
    log,
    make_options,
    names_or_all,
    rfc3339nano,
    run,
)
from headwater.cli.names import complete_names
from headwater.cli.nouns import kind_tree
from headwater.cli.reconcile import FIELD_MANAGER, Budget, wait_reconciled
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.runtime.kube import KubeClient


async def _patch(client: KubeClient, kind: KindDef, name: str, namespace: str, patch: dict[str, Any]) -> None:
    from headwater.runtime.kube import NotFound

    try:
        await client.patch(kind.api_version, kind.kind, name, patch, namespace=namespace,
                           field_manager=FIELD_MANAGER)
    except NotFound as err:
        raise CliError(f"{identify(kind, namespace, name)} not found") from err


def suspend_kind(kind: KindDef, names: tuple[str, ...], all_: bool, opts: Options) -> None:
    async def body(client: KubeClient) -> None:
        for name in await names_or_all(client, kind, names, opts.namespace, all_):
            await get_object(client, kind, name, opts.namespace)
            log("►", f"suspending {kind.cli_noun} {name} in {opts.namespace} namespace")
            await _patch(client, kind, name, opts.namespace, {"spec": {"suspend": True}})
            log("✔", f"{kind.cli_noun} suspended")

    run(opts, body)


def resume_kind(kind: KindDef, names: tuple[str, ...], all_: bool, wait: bool, opts: Options) -> None:
    async def body(client: KubeClient) -> None:
        budget = Budget(opts)
        pending: list[tuple[str, str]] = []
        for name in await names_or_all(client, kind, names, opts.namespace, all_):
            static = is_static(await get_object(client, kind, name, opts.namespace))
            log("►", f"resuming {kind.cli_noun} {name} in {opts.namespace} namespace")
            token = rfc3339nano()
            await _patch(client, kind, name, opts.namespace,
                         {"spec": {"suspend": False}, "metadata": {"annotations": {REQUESTED_AT: token}}})
            log("✔", f"{kind.cli_noun} resumed")
            if static:  # an OCI HelmRepository: no controller answers, nothing to wait for
                log("✔", "reconciliation not supported by the object")
            elif wait:
                await wait_reconciled(client, kind, name, opts.namespace, token, budget)
            else:
                pending.append((name, token))
        for name, token in pending:
            await wait_reconciled(client, kind, name, opts.namespace, token, budget)

    run(opts, body)


def _leaf(kind: KindDef, resume: bool) -> click.Command:
    verb = "Resume" if resume else "Suspend"

    def command(names: tuple[str, ...], all_: bool, kubeconfig: str | None, context: str | None,
                namespace: str, timeout: str, wait: bool = False) -> None:
        opts = make_options(kubeconfig, context, namespace, timeout)
        if resume:
            resume_kind(kind, names, all_, wait, opts)
        else:
            suspend_kind(kind, names, all_, opts)

    decorated: Callable[..., None] = cluster_options()(command)
    decorated = bool_flag("--all", "all_", help=f"{verb} every {kind.kind} in the namespace.")(decorated)
    if resume:
        decorated = bool_flag("--wait",
                              help="Wait for each object to become ready before resuming the next.")(decorated)
    decorated = click.argument("names", nargs=-1, shell_complete=complete_names(kind))(decorated)
    return click.command(help=f"{verb} the reconciliation of {kind.kind} objects (NAME… or --all).")(decorated)


SUSPENDABLE = [kind for kind in ALL_KINDS if kind.suspendable]
suspend = kind_tree("suspend", "Suspend the reconciliation of Flux resources.", SUSPENDABLE,
                    lambda kind: _leaf(kind, resume=False))
resume = kind_tree("resume", "Resume suspended Flux resources and wait for them to reconcile.",
                   [kind for kind in SUSPENDABLE if kind.reconcilable], lambda kind: _leaf(kind, resume=True))
