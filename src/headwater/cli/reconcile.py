"""`headwater reconcile …`: flux's reconcile request protocol.

Merge-patch the annotation `reconcile.fluxcd.io/requestedAt=<RFC3339Nano>`, then poll until the
controller reports `status.lastHandledReconcileAt` equal to that token with a settled Ready condition
(True or False); print the revision fetched or applied, or fail with the Ready message.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from headwater.cli.common import (
    GIT_REPOSITORY,
    KUSTOMIZATION,
    REQUESTED_AT,
    SOURCE_KINDS,
    CliError,
    Kind,
    Options,
    cluster_options,
    condition,
    format_seconds,
    get_object,
    identify,
    is_suspended,
    log,
    make_options,
    rfc3339nano,
    run,
    wait_until,
)
from headwater.cli.get import AliasGroup
from headwater.cli.names import complete_names
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

FIELD_MANAGER = "flux-client-side-apply"


class Budget:
    """One `--timeout` shared by every step of a command (source first, then the object)."""

    def __init__(self, opts: Options) -> None:
        self.deadline = time.monotonic() + opts.timeout
        self.text = format_seconds(opts.timeout)


def settled(obj: dict[str, Any], token: str) -> dict[str, Any] | None:
    """The object once it handled `token` and its Ready condition is True or False for this generation."""
    status = obj.get("status") or {}
    if status.get("lastHandledReconcileAt") != token:
        return None
    ready = condition(obj, "Ready")
    if ready is None or ready.get("status") not in ("True", "False"):
        return None
    generation = (obj.get("metadata") or {}).get("generation")
    observed = ready.get("observedGeneration", status.get("observedGeneration"))
    if generation is not None and observed is not None and observed != generation:
        return None
    return obj


async def wait_reconciled(client: KubeClient, kind: Kind, name: str, namespace: str, token: str,
                          budget: Budget) -> dict[str, Any]:
    """Wait for the request `token` to be handled; print the outcome; CliError on Ready=False."""

    async def probe() -> dict[str, Any] | None:
        return settled(await get_object(client, kind, name, namespace), token)

    log("◎", f"waiting for {kind.kind} reconciliation")
    what = f"{identify(kind, namespace, name)} to handle the reconcile request {token}"
    obj = await wait_until(probe, what, budget.deadline, budget.text)
    ready = condition(obj, "Ready") or {}
    if ready.get("status") != "True":
        raise CliError(f"{kind.kind} reconciliation failed: {ready.get('message', '')}")
    log("✔", f"{kind.kind} reconciliation completed")
    status = obj.get("status") or {}
    if kind.kind in SOURCE_KINDS:
        revision = (status.get("artifact") or {}).get("revision")
        if revision:
            log("✔", f"fetched revision {revision}")
    elif status.get("lastAppliedRevision"):
        log("✔", f"applied revision {status['lastAppliedRevision']}")
    return obj


async def request_reconcile(client: KubeClient, kind: Kind, name: str, namespace: str,
                            extra: dict[str, Any] | None = None) -> str:
    """Set the requestedAt annotation (and any `extra` merge patch); the token it carries."""
    from headwater.runtime.kube import NotFound

    token = rfc3339nano()
    patch: dict[str, Any] = {"metadata": {"annotations": {REQUESTED_AT: token}}}
    if extra:
        patch.update(extra)
    try:
        await client.patch(kind.api_version, kind.kind, name, patch, namespace=namespace,
                           field_manager=FIELD_MANAGER)
    except NotFound as err:
        raise CliError(f"{identify(kind, namespace, name)} not found") from err
    return token


async def reconcile_one(client: KubeClient, kind: Kind, name: str, namespace: str, budget: Budget,
                        obj: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = obj if obj is not None else await get_object(client, kind, name, namespace)
    if is_suspended(obj):
        raise CliError(f"resource is suspended: {identify(kind, namespace, name)}")
    log("►", f"annotating {kind.kind} {name} in {namespace} namespace")
    token = await request_reconcile(client, kind, name, namespace)
    log("✔", f"{kind.kind} annotated")
    return await wait_reconciled(client, kind, name, namespace, token, budget)


@click.group(cls=AliasGroup)
def reconcile() -> None:
    """Reconcile Flux resources: ask the controller to act now and wait for the outcome."""


reconcile.aliases = {"ks": "kustomization"}


@reconcile.group()
def source() -> None:
    """Reconcile sources."""


@source.command("git")
@click.argument("names", nargs=-1, required=True, shell_complete=complete_names(GIT_REPOSITORY))
@cluster_options()
def reconcile_source_git(names: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str,
                         timeout: str) -> None:
    """Trigger a GitRepository reconciliation and wait for the fetched revision."""
    opts = make_options(kubeconfig, context, namespace, timeout)

    async def body(client: KubeClient) -> None:
        budget = Budget(opts)
        for name in names:
            await reconcile_one(client, GIT_REPOSITORY, name, opts.namespace, budget)

    run(opts, body)


@reconcile.command("kustomization")
@click.argument("names", nargs=-1, required=True, shell_complete=complete_names(KUSTOMIZATION))
@bool_flag("--with-source", help="Reconcile the Kustomization's source first.")
@cluster_options()
def reconcile_kustomization(names: tuple[str, ...], with_source: bool, kubeconfig: str | None,
                            context: str | None, namespace: str, timeout: str) -> None:
    """Trigger a Kustomization reconciliation and wait for the applied revision (alias: ks)."""
    opts = make_options(kubeconfig, context, namespace, timeout)

    async def body(client: KubeClient) -> None:
        budget = Budget(opts)
        for name in names:
            obj = await get_object(client, KUSTOMIZATION, name, opts.namespace)
            if is_suspended(obj):
                raise CliError(f"resource is suspended: {identify(KUSTOMIZATION, opts.namespace, name)}")
            if with_source:
                ref = (obj.get("spec") or {}).get("sourceRef") or {}
                source_kind = SOURCE_KINDS.get(str(ref.get("kind", "")))
                if source_kind is None:
                    raise CliError(f"cannot reconcile source of kind {ref.get('kind')!r}")
                await reconcile_one(client, source_kind, str(ref.get("name")),
                                    str(ref.get("namespace") or opts.namespace), budget)
            await reconcile_one(client, KUSTOMIZATION, name, opts.namespace, budget, obj)

    run(opts, body)
