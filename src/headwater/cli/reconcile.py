"""`headwater reconcile …`: flux's reconcile request protocol.

Merge-patch the annotation `reconcile.fluxcd.io/requestedAt=<RFC3339Nano>`, then poll until the
controller reports `status.lastHandledReconcileAt` equal to that token with a settled Ready condition
(True or False); print the revision fetched or applied, or fail with the Ready message. Every kind
whose status records `lastHandledReconcileAt` has a leaf; `--with-source` reconciles the source the
object reads first (`headwater.api.kinds.source_of`), for kinds that read one. As in flux, a
HelmRelease's source is the HelmChart it reads (`<namespace>-<name>` made from `spec.chart`, or a
`chartRef` HelmChart), itself reconciled with its own source first; `reconcile helmrelease --force` and
`--reset` put the same token in `reconcile.fluxcd.io/forceAt` and `…/resetAt` (a one-off install or
upgrade; the failure counters reset). An OCI HelmRepository is static: there is nothing to reconcile.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from headwater.api.kinds import ALL_KINDS, HELM_CHART, HELM_RELEASE, reads_sources, source_of
from headwater.cli.columns import helm_release_revision, is_static
from headwater.cli.common import (
    REQUESTED_AT,
    CliError,
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
from headwater.cli.names import complete_names
from headwater.cli.nouns import kind_tree
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.runtime.kube import KubeClient

FIELD_MANAGER = "flux-client-side-apply"
FORCE_AT = "reconcile.fluxcd.io/forceAt"
RESET_AT = "reconcile.fluxcd.io/resetAt"


class Budget:
    """One `--timeout` shared by every step of a command (source first, then the object)."""

    def __init__(self, opts: Options) -> None:
        self.deadline = time.monotonic() + opts.timeout
        self.text = format_seconds(opts.timeout)


def settled(obj: dict[str, Any], token: str) -> dict[str, Any] | None:
    """The object once it handled `token` and its Ready condition is True or False for this generation.

    Ready=False with a success reason (`UpgradeSucceeded`) while still Reconciling is a step on the way,
    as kstatus sees it (in progress), not a failure.
    """
    status = obj.get("status") or {}
    if status.get("lastHandledReconcileAt") != token:
        return None
    ready = condition(obj, "Ready")
    if ready is None or ready.get("status") not in ("True", "False"):
        return None
    if ready.get("status") == "False" and str(ready.get("reason", "")).endswith("Succeeded") and \
            (condition(obj, "Reconciling") or {}).get("status") == "True":
        return None  # a step succeeded and the controller comes back at once (a forced upgrade): not a verdict
    generation = (obj.get("metadata") or {}).get("generation")
    observed = ready.get("observedGeneration", status.get("observedGeneration"))
    if generation is not None and observed is not None and observed != generation:
        return None
    return obj


async def wait_reconciled(client: KubeClient, kind: KindDef, name: str, namespace: str, token: str,
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
    fetched = (status.get("artifact") or {}).get("revision")
    if kind is HELM_RELEASE:
        log("✔", f"applied revision {helm_release_revision(obj)}")
    elif fetched:
        log("✔", f"fetched revision {fetched}")
    elif status.get("lastAppliedRevision"):
        log("✔", f"applied revision {status['lastAppliedRevision']}")
    return obj


async def request_reconcile(client: KubeClient, kind: KindDef, name: str, namespace: str,
                            extra: dict[str, Any] | None = None, also: tuple[str, ...] = ()) -> str:
    """Set the requestedAt annotation (and the `also` annotations, same token; any `extra` merge patch)."""
    from headwater.runtime.kube import NotFound

    token = rfc3339nano()
    patch: dict[str, Any] = {"metadata": {"annotations": {key: token for key in (REQUESTED_AT, *also)}}}
    if extra:
        patch.update(extra)
    try:
        await client.patch(kind.api_version, kind.kind, name, patch, namespace=namespace,
                           field_manager=FIELD_MANAGER)
    except NotFound as err:
        raise CliError(f"{identify(kind, namespace, name)} not found") from err
    return token


def source_to_reconcile(kind: KindDef, obj: dict[str, Any]) -> tuple[KindDef, str, str] | None:
    """What `--with-source` reconciles first: the object's source, or for a HelmRelease its HelmChart."""
    meta, spec = obj["metadata"], obj.get("spec") or {}
    chart = spec.get("chart") if kind is HELM_RELEASE else None
    template = chart.get("spec") if isinstance(chart, dict) else None
    if isinstance(template, dict):
        source_namespace = (template.get("sourceRef") or {}).get("namespace") or meta["namespace"]
        return HELM_CHART, str(source_namespace), f"{meta['namespace']}-{meta['name']}"
    return source_of(kind, obj)


async def reconcile_one(client: KubeClient, kind: KindDef, name: str, namespace: str, budget: Budget,
                        with_source: bool = False, also: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Request and wait for one reconciliation (of the object's source first, with `with_source`)."""
    obj = await get_object(client, kind, name, namespace)
    if is_suspended(obj):
        raise CliError(f"resource is suspended: {identify(kind, namespace, name)}")
    if is_static(obj):
        log("✔", "reconciliation not supported by the object")
        return None
    if with_source:
        source = source_to_reconcile(kind, obj)
        if source is None:
            raise CliError(f"{identify(kind, namespace, name)} names no source that can be reconciled")
        source_kind, source_namespace, source_name = source
        if not source_kind.reconcilable:
            source_id = identify(source_kind, source_namespace, source_name)
            raise CliError(f"{identify(kind, namespace, name)} reads {source_id}, which cannot be reconciled")
        await reconcile_one(client, source_kind, source_name, source_namespace, budget,
                            with_source=source_kind is HELM_CHART)
    log("►", f"annotating {kind.kind} {name} in {namespace} namespace")
    token = await request_reconcile(client, kind, name, namespace, also=also)
    log("✔", f"{kind.kind} annotated")
    return await wait_reconciled(client, kind, name, namespace, token, budget)


def reconcile_leaf(kind: KindDef) -> click.Command:
    """`reconcile <noun> NAME…` (`--with-source` for kinds that read a source; HelmRelease `--force`, `--reset`)."""

    def leaf(names: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str, timeout: str,
             with_source: bool = False, force: bool = False, reset: bool = False) -> None:
        opts = make_options(kubeconfig, context, namespace, timeout)
        also = (*((FORCE_AT,) if force else ()), *((RESET_AT,) if reset else ()))

        async def body(client: KubeClient) -> None:
            budget = Budget(opts)
            for name in names:
                await reconcile_one(client, kind, name, opts.namespace, budget, with_source, also)

        run(opts, body)

    command: Any = cluster_options()(leaf)
    if kind is HELM_RELEASE:
        command = bool_flag("--reset", help="Reset the failure counters of the HelmRelease.")(command)
        command = bool_flag("--force", help="Force a one-off install or upgrade of the HelmRelease.")(command)
    if reads_sources(kind):
        command = bool_flag("--with-source", help=f"Reconcile the {kind.kind}'s source first.")(command)
    command = click.argument("names", nargs=-1, required=True, shell_complete=complete_names(kind))(command)
    revision = "fetched revision" if kind.is_source else "applied revision"
    return click.command(help=f"Trigger a {kind.kind} reconciliation and wait for the {revision}.")(command)


reconcile = kind_tree("reconcile", "Reconcile Flux resources: ask the controller to act now and wait for the outcome.",
                      [kind for kind in ALL_KINDS if kind.reconcilable], reconcile_leaf)
