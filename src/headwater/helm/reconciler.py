"""The HelmRelease reconciler: from a chart artifact and values to a Helm release, the way Flux does it.

One reconcile: dependencies ready → the chart (its HelmChart made from `spec.chart`, or
`spec.chartRef`) fetched → values composed → failure counters reset when the chart, values or
generation changed (or `resetAt` is handled) → the atomic release loop (`atomic.py`) runs the Helm
actions through the engine → the inventory recorded from the stored release's manifest. Deleting the
object uninstalls its release (unless suspended, as in Flux) and deletes the HelmChart it made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any, ClassVar

from headwater.api.defs.helm import HELM_RELEASE
from headwater.api.duration import seconds_or
from headwater.apply.cel_health import CustomHealthChecks, compile_health_checks
from headwater.helm import atomic, drift, history
from headwater.helm import chart as charts
from headwater.helm import remediation as rem
from headwater.helm.engine import EngineError, HelmEngine, KubeTarget
from headwater.helm.target import kube_target
from headwater.helm.values import ValuesError, compose
from headwater.kustomize.ready_expr import evaluate_ready_expr
from headwater.runtime.context import ReconcileContext
from headwater.runtime.informer import Informer
from headwater.runtime.kube.client import HttpKubeClient, KubeClient
from headwater.runtime.kube.config import Impersonation
from headwater.runtime.kube.errors import ConfigError, NotFound
from headwater.runtime.kube.remote import RemoteClients, kubeconfig_from_secret
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.result import ReconcileError, Result, TerminalError, WaitingError

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
FORCE_AT = "reconcile.fluxcd.io/forceAt"
RESET_AT = "reconcile.fluxcd.io/resetAt"
ORIGIN_NAME, ORIGIN_NAMESPACE = f"{atomic.GROUP}/name", f"{atomic.GROUP}/namespace"


def handle_request(obj: dict[str, Any], annotation: str, handled_field: str) -> bool:
    """Whether a forceAt/resetAt request is pending: set equal to requestedAt and not handled yet."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    requested, value = annotations.get(REQUESTED_AT), annotations.get(annotation)
    status = obj.setdefault("status", {})
    if requested and value and requested == value and status.get(handled_field) != value:
        status[handled_field] = value
        return True
    return False


def post_renderer_steps(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The engine's post-render steps in Flux's order: commonMetadata, postRenderers, origin labels."""
    spec, meta = obj.get("spec") or {}, obj["metadata"]
    steps: list[dict[str, Any]] = []
    common = spec.get("commonMetadata") or {}
    if common.get("labels") or common.get("annotations"):
        steps.append({"metadata": {"labels": common.get("labels") or {},
                                   "annotations": common.get("annotations") or {}}})
    for renderer in spec.get("postRenderers") or []:
        kustomize = (renderer or {}).get("kustomize")
        if kustomize:
            steps.append({"kustomize": {"patches": kustomize.get("patches") or [],
                                        "images": kustomize.get("images") or []}})
    steps.append({"metadata": {"labels": {ORIGIN_NAME: meta["name"], ORIGIN_NAMESPACE: meta["namespace"]}}})
    return steps


def health_checks_of(spec: dict[str, Any]) -> CustomHealthChecks | None:
    """`spec.healthCheckExprs` compiled before anything is released (a bad expression stalls the object
    with InvalidCELExpression, as in Flux); None without entries."""
    entries = spec.get("healthCheckExprs") or []
    return compile_health_checks(entries) if entries else None


def ready_at_latest_generation(found: dict[str, Any]) -> bool:
    status = found.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    fresh = status.get("observedGeneration") == found["metadata"].get("generation")
    return bool(ready and ready.get("status") == "True" and fresh)


def digest_of(value: Any) -> str:
    if not value:
        return ""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def inventory_of(manifest: str, namespace: str) -> dict[str, Any]:
    """status.inventory of a release (Flux's entries: `<namespace>_<name>_<group>_<kind>`, version)."""
    entries = []
    for obj in drift.objects_of(manifest, namespace):
        group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
        meta = obj["metadata"]
        entries.append({"id": f"{meta.get('namespace') or ''}_{meta.get('name')}_{group}_{obj['kind']}", "v": version})
    entries.sort(key=lambda entry: entry["id"])
    return {"entries": entries}


class HelmReleaseReconciler(Reconciler):
    api_version: ClassVar[str] = HELM_RELEASE.api_version
    kind: ClassVar[str] = HELM_RELEASE.kind

    def __init__(self, kube: KubeClient, engine: HelmEngine, releases: Informer, sources: dict[str, Informer],
                 cache: charts.ChartCache, *, kubeconfig: str, field_manager: str,
                 no_cross_namespace_refs: bool = False, default_service_account: str = "",
                 requeue_dependency: float = 30.0, qps: float = 0.0, burst: int = 0,
                 additive_cel_check: bool = False) -> None:
        self.kube, self.engine, self.releases, self.sources, self.cache = kube, engine, releases, sources, cache
        self.kubeconfig, self.field_manager = kubeconfig, field_manager
        self.no_cross_namespace_refs = no_cross_namespace_refs
        self.default_service_account = default_service_account
        self.requeue_dependency = requeue_dependency
        self.additive_cel_check = additive_cel_check  # AdditiveCELDependencyCheck: readyExpr AND Ready
        self.qps, self.burst = qps, burst  # the engine's client-side rate limit (--kube-api-qps/-burst)
        self.remote = RemoteClients(user_agent=field_manager)

    async def close(self) -> None:
        await self.engine.close()

    def retry_interval(self, obj: dict[str, Any]) -> float | None:
        """A failed RetryOnFailure action is tried again at its retryInterval; else exponential backoff."""
        return rem.retry_interval(obj.get("spec") or {}, obj.get("status") or {})

    # -- reconcile --------------------------------------------------------------------------------

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        obj = ctx.obj
        spec, meta, status = obj.get("spec") or {}, obj["metadata"], ctx.status
        retry = seconds_or(spec.get("interval"), 600.0)
        self._check_dependencies(obj)
        if spec.get("chart"):
            await self._ensure_helm_chart(ctx)
        chart = await charts.resolve(self.cache, self.sources, obj, retry=min(retry, 30.0),
                                     no_cross_namespace_refs=self.no_cross_namespace_refs)
        try:
            composed = await compose(self.engine, self.kube, meta["namespace"], spec)
        except ValuesError as err:
            raise ReconcileError("InitFailed", str(err)) from err
        health = health_checks_of(spec)
        release_name, target_ns = release_name_of(obj), str(spec.get("targetNamespace") or meta["namespace"])
        storage_ns = str(spec.get("storageNamespace") or meta["namespace"])
        steps = post_renderer_steps(obj)
        reset = handle_request(obj, RESET_AT, "lastHandledResetAt")
        force = handle_request(obj, FORCE_AT, "lastHandledForceAt")
        if reset or status.get("lastAttemptedGeneration") != ctx.generation \
                or status.get("lastAttemptedRevision") != chart.version \
                or status.get("lastAttemptedConfigDigest") != composed.config_digest:
            rem.clear_failures(status)
        target = await self._target(obj)
        await self._move_release(ctx, target, release_name, target_ns, storage_ns, chart.name)
        status.update(lastAttemptedGeneration=ctx.generation, lastAttemptedRevision=chart.version,
                      lastAttemptedConfigDigest=composed.config_digest, storageNamespace=storage_ns)
        if chart.oci_digest:
            status["lastAttemptedRevisionDigest"] = chart.oci_digest
        else:
            status.pop("lastAttemptedRevisionDigest", None)
        request = atomic.Request(ctx=ctx, engine=self.engine, kube=target, cluster=await self._cluster(obj, target),
                                 chart=chart,
                                 values=composed.values, config_digest=composed.config_digest,
                                 release_name=release_name, target_namespace=target_ns, storage_namespace=storage_ns,
                                 post_renderers=steps, post_renderers_digest=digest_of(spec.get("postRenderers")),
                                 force_requested=force, common_metadata_digest=digest_of(spec.get("commonMetadata")),
                                 health=health)
        if spec.get("postRenderers") is None:
            status.pop("observedPostRenderersDigest", None)
        await atomic.run(request, lambda: self._last_release(request))
        await self._record_inventory(request)
        if cond_ready_false(ctx):
            return Result()
        return Result(requeue_after=seconds_or(spec.get("interval"), 600.0))

    async def _move_release(self, ctx: ReconcileContext, target: KubeTarget, name: str, namespace: str,
                            storage: str, chart_name: str) -> None:
        """A new release name, target or storage namespace (or chart name, unless InPlaceUpdate) starts a
        new release: the one in the history is uninstalled first, as Flux does."""
        status, spec = ctx.status, ctx.obj.get("spec") or {}
        latest = history.latest(status.get("history") or [])
        if latest is None:
            return
        old_storage = str(status.get("storageNamespace") or storage)
        in_place = ((spec.get("upgrade") or {}).get("chartNameChangeStrategy") or "Reinstall") == "InPlaceUpdate"
        moved = (latest.get("name"), latest.get("namespace"), old_storage) != (name, namespace, storage)
        renamed = latest.get("chartName") != chart_name and not in_place
        if not (moved or renamed):
            return
        params = {"kube": target.as_params(), "namespace": latest.get("namespace"), "storage_namespace": old_storage,
                  "release_name": latest.get("name"), "timeout_seconds": seconds_or(spec.get("timeout"), 300.0)}
        try:
            await self.engine.call("uninstall", params)
        except EngineError as err:
            if err.kind != "ReleaseNotFound":
                raise ReconcileError("UninstallFailed", f"Helm uninstall failed for release "
                                                        f"{history.full_release_name(latest)}: {err.message}") from err
        why = "chart name changed" if renamed and not moved else "release name or namespace changed"
        ctx.event("Normal", "UninstallSucceeded", f"Helm uninstall succeeded for release "
                                                  f"{history.full_release_name(latest)} ({why})")
        status["history"] = []
        rem.clear_failures(status)

    async def _last_release(self, request: atomic.Request) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self.engine.call("get", request.target(60))
        except EngineError as err:
            if err.kind == "ReleaseNotFound":
                return None
            raise ReconcileError("GetLastReleaseFailed", f"failed to get last release revision: {err.message}") from err
        return found

    async def _record_inventory(self, request: atomic.Request) -> None:
        latest = await self._last_release(request)
        if latest is None or latest.get("status") == "uninstalled":
            request.status.pop("inventory", None)
            return
        request.status["inventory"] = inventory_of(latest.get("manifest") or "", request.target_namespace)

    async def _target(self, obj: dict[str, Any]) -> KubeTarget:
        spec, namespace = obj.get("spec") or {}, obj["metadata"]["namespace"]
        kubeconfig = self.kubeconfig
        secret_ref = (spec.get("kubeConfig") or {}).get("secretRef")
        if (spec.get("kubeConfig") or {}).get("configMapRef"):
            raise TerminalError("InvalidKubeConfig", "spec.kubeConfig.configMapRef is not supported: use secretRef")
        if secret_ref:
            try:
                secret = await self.kube.get("v1", "Secret", secret_ref["name"], namespace)
                kubeconfig = kubeconfig_from_secret(secret, secret_ref.get("key")).decode("utf-8")
            except NotFound as err:
                raise ReconcileError("InitFailed", f"could not get kubeconfig Secret '{namespace}/{secret_ref['name']}'"
                                                   ": not found") from err
            except (ConfigError, UnicodeDecodeError) as err:
                raise TerminalError("InitFailed", str(err)) from err
        account = spec.get("serviceAccountName") or self.default_service_account or None
        target = kube_target(kubeconfig, account, namespace, self.qps, self.burst)
        target.fresh = spec.get("persistentClient") is False
        return target

    async def _cluster(self, obj: dict[str, Any], target: KubeTarget) -> KubeClient:
        """The Python client for the release's cluster and identity (drift detection reads with it)."""
        if target.kubeconfig != self.kubeconfig:
            secret_ref = ((obj.get("spec") or {}).get("kubeConfig") or {}).get("secretRef") or {}
            secret = await self.kube.get("v1", "Secret", secret_ref["name"], obj["metadata"]["namespace"])
            client = await self.remote.for_secret(secret, secret_ref.get("key"))
        else:
            client = self.kube
        if target.impersonate and isinstance(client, HttpKubeClient):
            return client.impersonating(Impersonation(target.impersonate, tuple(target.impersonate_groups)))
        return client

    def _check_dependencies(self, obj: dict[str, Any]) -> None:
        """Each dependency Ready at its latest generation, or as its `readyExpr` says (both with the
        AdditiveCELDependencyCheck gate); the expression is the Kustomization's (`ready_expr`)."""
        namespace = obj["metadata"]["namespace"]
        for dep in (obj.get("spec") or {}).get("dependsOn") or []:
            key = f"{dep.get('namespace') or namespace}/{dep.get('name')}"
            found = self.releases.get((str(dep.get("namespace") or namespace), str(dep.get("name"))))
            if found is None:
                raise WaitingError("DependencyNotReady", f"dependency '{key}' not found", self.requeue_dependency)
            expression = str(dep.get("readyExpr") or "")
            if expression:
                if not evaluate_ready_expr(expression, obj, found) \
                        or (self.additive_cel_check and not ready_at_latest_generation(found)):
                    raise WaitingError("DependencyNotReady", f"dependency '{key}' is not ready (readyExpr)",
                                       self.requeue_dependency)
                continue
            if not ready_at_latest_generation(found):
                raise WaitingError("DependencyNotReady", f"dependency '{key}' is not ready", self.requeue_dependency)

    async def _ensure_helm_chart(self, ctx: ReconcileContext) -> None:
        desired = charts.template_object(ctx.obj)
        meta = desired["metadata"]
        ctx.status["helmChart"] = f"{meta['namespace']}/{meta['name']}"
        existing = self.sources["HelmChart"].get((meta["namespace"], meta["name"])) if "HelmChart" in self.sources \
            else None
        if existing is not None and existing.get("spec") == desired["spec"] \
                and all((existing["metadata"].get("labels") or {}).get(k) == v for k, v in meta["labels"].items()):
            return
        await self.kube.apply(desired, field_manager=self.field_manager, force=True)
        if existing is None:
            source = desired["spec"]["sourceRef"]
            ctx.event("Normal", "HelmChartCreated",
                      f"Created HelmChart/{meta['namespace']}/{meta['name']} with SourceRef "
                      f"'{source['kind']}/{meta['namespace']}/{source['name']}'")

    # -- deletion ---------------------------------------------------------------------------------

    async def finalize(self, ctx: ReconcileContext) -> None:
        obj = ctx.obj
        spec, meta = obj.get("spec") or {}, obj["metadata"]
        if not spec.get("suspend") and ctx.status.get("history"):
            storage_ns = str(ctx.status.get("storageNamespace") or spec.get("storageNamespace") or meta["namespace"])
            latest = history.latest(ctx.status["history"]) or {}
            params = {"kube": (await self._target(obj)).as_params(),
                      "namespace": str(latest.get("namespace") or spec.get("targetNamespace") or meta["namespace"]),
                      "storage_namespace": storage_ns, "release_name": str(latest.get("name") or release_name_of(obj)),
                      "timeout_seconds": seconds_or((spec.get("uninstall") or {}).get("timeout"),
                                                    seconds_or(spec.get("timeout"), 300.0)),
                      "keep_history": bool((spec.get("uninstall") or {}).get("keepHistory")),
                      "disable_hooks": bool((spec.get("uninstall") or {}).get("disableHooks")),
                      "deletion_propagation": str((spec.get("uninstall") or {}).get("deletionPropagation")
                                                  or "background")}
            try:
                await self.engine.call("uninstall", params)
                ctx.event("Normal", "UninstallSucceeded", f"Helm uninstall succeeded for release "
                                                          f"{history.full_release_name(latest)} with chart "
                                                          f"{history.versioned_chart_name(latest)}")
            except EngineError as err:
                if err.kind != "ReleaseNotFound":
                    raise ReconcileError("UninstallFailed", "Helm uninstall failed for release "
                                         f"{history.full_release_name(latest)}: {err.message}") from err
        if spec.get("chart"):
            chart = charts.template_object(obj)["metadata"]
            with contextlib.suppress(NotFound):
                await self.kube.delete(charts.SOURCE_API, "HelmChart", chart["name"], chart["namespace"])


def release_name_of(obj: dict[str, Any]) -> str:
    spec, name = obj.get("spec") or {}, obj["metadata"]["name"]
    if spec.get("releaseName"):
        return str(spec["releaseName"])
    target = spec.get("targetNamespace")
    full = f"{target}-{name}" if target else name
    if len(full) > 53:
        full = f"{full[:40]}-{hashlib.sha256(full.encode()).hexdigest()[:12]}"
    return full


def cond_ready_false(ctx: ReconcileContext) -> bool:
    ready = next((c for c in ctx.conditions if c.get("type") == "Ready"), None)
    return bool(ready and ready.get("status") == "False")
