"""The Kustomization reconciler: make the cluster match a source artifact, and keep it matching.

One reconcile, as kustomize-controller does it: find the source and its artifact, check dependencies,
fetch the artifact (digest verified, safely extracted), build with kustomize, decrypt SOPS, substitute
variables, apply server-side in stages (only what drifted is written), record the inventory, prune what
left the build, and wait for health when asked. The expensive middle (fetch, build, decrypt,
substitute) is cached by its inputs, so an unchanged re-reconcile only compares the cluster with the
cached manifests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from headwater.api.duration import Duration, DurationError, parse_duration
from headwater.apply import inventory as inv
from headwater.apply.apply import ApplyError, apply_all
from headwater.apply.cel_health import compile_health_checks
from headwater.apply.drift_ignore import parse_rules
from headwater.apply.health import CustomStatusReader
from headwater.apply.prune import PruneError, delete_all, prune
from headwater.apply.unchanged import UnchangedMemo
from headwater.artifact.fetch import ArtifactError, fetch_artifact
from headwater.kustomize.build import BuildCache, BuildError, Built, build_key
from headwater.kustomize.decryption import DecryptionError, decrypt_objects
from headwater.kustomize.health import HealthCheckFailed, targets_for, wait_healthy
from headwater.kustomize.pipeline import UnsupportedSubstituteKind, post_build, render
from headwater.kustomize.ready_expr import evaluate_ready_expr
from headwater.kustomize.sops import KeySet, SopsError
from headwater.kustomize.sources import SOURCE_KINDS, is_ready, source_key
from headwater.kustomize.substitute import EnvsubstError, SubstitutionError
from headwater.runtime import conditions as cond
from headwater.runtime.controller import ReconcileContext
from headwater.runtime.events import EVENT_TYPE_NORMAL
from headwater.runtime.informer import Informer
from headwater.runtime.kube import ConfigError, Impersonation, KubeClient, KubeError, NotFound
from headwater.runtime.kube.openapi import OpenAPITypes
from headwater.runtime.kube.remote import RemoteClients
from headwater.runtime.metrics import REGISTRY
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.result import ReconcileError, Result, TerminalError, WaitingError

API_VERSION = "kustomize.toolkit.fluxcd.io/v1"
KIND = "Kustomization"
FIELD_MANAGER = "kustomize-controller"
# Work counters on the served registry, so a controller process can be measured through /metrics.
BUILDS = Counter("headwater_kustomize_builds", "kustomize builds run", registry=REGISTRY)
FETCHES = Counter("headwater_kustomize_artifact_fetches", "Source artifacts fetched", registry=REGISTRY)
APPLIES = Counter("headwater_kustomize_applies", "Server-side applies sent (not dry-run)", registry=REGISTRY)

def seconds(text: Any, default: float) -> float:
    try:
        return parse_duration(str(text)).seconds if text else default
    except DurationError:
        return default


def _duration(seconds: float) -> str:
    return str(Duration.from_seconds(seconds))


def manifests_digest(objects: list[dict[str, Any]]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).hexdigest()


class KustomizationReconciler(Reconciler):
    api_version = API_VERSION
    kind = KIND

    def __init__(
        self,
        kube: KubeClient,
        kustomizations: Informer,
        sources: dict[str, Informer],
        *,
        no_cross_namespace_refs: bool = False,
        no_remote_bases: bool = False,
        requeue_dependency: float = 30.0,
        default_service_account: str = "",
        strict_substitution: bool = False,
        additive_cel_check: bool = False,
    ) -> None:
        self.kube = kube
        self.kustomizations = kustomizations
        self.sources = sources
        self.no_cross_namespace_refs = no_cross_namespace_refs
        self.no_remote_bases = no_remote_bases
        self.requeue_dependency = requeue_dependency
        self.default_service_account = default_service_account
        self.strict_substitution = strict_substitution
        self.additive_cel_check = additive_cel_check
        self.types = OpenAPITypes(kube)
        self.remote = RemoteClients(user_agent=FIELD_MANAGER)
        self.builds = BuildCache()
        self.in_sync = UnchangedMemo()  # objects verified in sync: an idle pass needs no dry-run for them
        self.builds_run = 0  # kustomize builds actually run (benchmarks and tests count them)
        self.fetches = 0
        self.applies_sent = 0  # real (non dry-run) server-side applies sent, all reconciles together

    async def close(self) -> None:
        """Release connections to remote clusters (called when the controller stops)."""
        await self.remote.close()

    def retry_interval(self, obj: dict[str, Any]) -> float:
        """Failures are retried at `spec.retryInterval` (default: the interval), not with backoff."""
        spec = obj.get("spec") or {}
        return seconds(spec.get("retryInterval"), seconds(spec.get("interval"), 60.0))

    def timeout(self, obj: dict[str, Any]) -> float:
        spec = obj.get("spec") or {}
        if spec.get("timeout"):
            return seconds(spec["timeout"], 30.0)
        return max(seconds(spec.get("interval"), 60.0) - 30.0, 30.0)

    # -- the reconcile -----------------------------------------------------------------------------

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        obj, spec = ctx.obj, ctx.obj["spec"]
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
        source = self._source(obj)
        artifact = (source.get("status") or {}).get("artifact")
        if not artifact:
            raise WaitingError("ArtifactFailed", f"Source artifact not found for {source_key(obj)}, retrying",
                               self.retry_interval(obj))
        revision = str(artifact["revision"])
        self._check_dependencies(obj, revision)
        status = obj.get("status") or {}
        if status.get("lastAppliedRevision") != revision or status.get("observedGeneration") != ctx.generation:
            ctx.status["lastAttemptedRevision"] = revision  # shown while the new work is in progress
            await ctx.progress(f"Fetching manifests for revision '{revision}' with a timeout of "
                               f"{_duration(self.timeout(obj))}")
        ctx.status["lastAttemptedRevision"] = revision

        keys, keys_version = await self._decryption_keys(obj)
        built = await self._manifests(ctx, artifact, keys, keys_version)
        try:
            decrypted = decrypt_objects([b.obj for b in built], keys)
        except DecryptionError as err:
            raise ReconcileError("BuildFailed", str(err)) from err
        built = [Built(o, b.text) for o, b in zip(decrypted, built, strict=True)]
        objects = await self._post_build(ctx, built)
        self._custom_health(ctx)  # invalid healthCheckExprs stall before anything is applied
        kube = await self._client(obj)
        try:
            change_set = await apply_all(kube, objects, field_manager=FIELD_MANAGER, owner=(name, namespace),
                                         force=bool(spec.get("force")), wait_timeout=self.timeout(obj),
                                         ignore_rules=parse_rules(spec.get("ignore")), memo=self.in_sync)
            self.applies_sent += change_set.calls.applies
            APPLIES.inc(change_set.calls.applies)
        except ApplyError as err:
            raise ReconcileError("ReconciliationFailed", str(err)) from err
        except KubeError as err:
            raise ReconcileError("ReconciliationFailed", f"apply failed: {err}") from err
        entries = inv.from_change_set(change_set)
        old_entries = inv.parse((obj.get("status") or {}).get("inventory"))
        ctx.status["inventory"] = inv.to_status(entries)
        changes = [str(e) for e in change_set if e.action.value not in ("unchanged", "skipped")]
        stale = inv.diff(old_entries, entries)
        if stale and spec.get("prune"):
            try:
                pruned = await prune(kube, stale, owner=(name, namespace))
            except PruneError as err:
                ctx.status["inventory"] = inv.to_status(inv.merge(entries, stale))
                raise ReconcileError("PruneFailed", str(err)) from err
            changes += [str(e) for e in pruned if e.action.value == "deleted"]
        ctx.extra["change_set"] = change_set
        if changes:
            ctx.event(EVENT_TYPE_NORMAL, "ReconciliationSucceeded", "\n".join(changes), {"revision": revision})
        await self._check_health(ctx, kube, objects, revision, changed=bool(changes))
        ctx.status["lastAppliedRevision"] = revision
        cond.mark_ready(ctx.conditions, f"Applied revision: {revision}", "ReconciliationSucceeded",
                        generation=ctx.generation)
        return Result()

    async def _check_health(self, ctx: ReconcileContext, kube: KubeClient, objects: list[dict[str, Any]],
                            revision: str, *, changed: bool) -> None:
        conds, gen = ctx.conditions, ctx.generation
        targets = targets_for(ctx.obj, objects)
        if not targets:
            cond.delete(conds, cond.HEALTHY_CONDITION)
            return
        was_healthy = cond.is_true(conds, cond.HEALTHY_CONDITION)
        try:
            took = await wait_healthy(kube, targets, self.timeout(ctx.obj), custom=self._custom_health(ctx))
        except HealthCheckFailed as err:
            cond.mark_false(conds, cond.HEALTHY_CONDITION, "HealthCheckFailed", str(err), generation=gen)
            raise ReconcileError("HealthCheckFailed", str(err)) from err
        message = f"Health check passed in {took:.1f}s"
        cond.mark_true(conds, cond.HEALTHY_CONDITION, "Succeeded", message, generation=gen)
        if changed or not was_healthy:
            ctx.event(EVENT_TYPE_NORMAL, "ReconciliationSucceeded", message, {"revision": revision})

    def _custom_health(self, ctx: ReconcileContext) -> CustomStatusReader | None:
        """`healthCheckExprs` compiled (cached by expression); a compile error stalls the object."""
        expressions = ctx.obj["spec"].get("healthCheckExprs")
        return compile_health_checks(expressions) if expressions else None

    async def finalize(self, ctx: ReconcileContext) -> None:
        """Kustomization deletion: `deletionPolicy` decides what happens to what it applied."""
        obj, spec = ctx.obj, ctx.obj.get("spec") or {}
        self.builds.forget((obj["metadata"]["namespace"], obj["metadata"]["name"]))
        entries = inv.parse((obj.get("status") or {}).get("inventory"))
        policy = spec.get("deletionPolicy") or "MirrorPrune"
        keep = policy == "Orphan" or (policy == "MirrorPrune" and not spec.get("prune"))
        if spec.get("suspend") or not entries or keep:
            return
        owner = (obj["metadata"]["name"], obj["metadata"]["namespace"])
        try:
            kube = await self._client(obj)
            await delete_all(kube, entries, owner=owner, wait=policy == "WaitForTermination",
                             timeout=self.timeout(obj))
        except (PruneError, KubeError) as err:
            raise ReconcileError("PruneFailed", f"garbage collection on deletion failed: {err}") from err

    async def _client(self, obj: dict[str, Any]) -> KubeClient:
        """The client to apply with: a remote cluster's (`kubeConfig`), impersonating the service account."""
        spec, namespace = obj["spec"], obj["metadata"]["namespace"]
        kube = self.kube
        kubeconfig_ref = (spec.get("kubeConfig") or {}).get("secretRef")
        if kubeconfig_ref:
            try:
                secret = await self.kube.get("v1", "Secret", kubeconfig_ref["name"], namespace)
                kube = await self.remote.for_secret(secret, kubeconfig_ref.get("key"))
            except NotFound as err:
                raise ReconcileError("ReconciliationFailed",
                                     f"kubeconfig Secret '{namespace}/{kubeconfig_ref['name']}' not found") from err
            except ConfigError as err:
                raise ReconcileError("ReconciliationFailed", f"invalid kubeConfig: {err}") from err
        account = spec.get("serviceAccountName") or self.default_service_account
        if account:
            kube = kube.impersonating(Impersonation.service_account(namespace, account))
        return kube

    # -- source and dependencies -------------------------------------------------------------------

    def _source(self, obj: dict[str, Any]) -> dict[str, Any]:
        ref = obj["spec"]["sourceRef"]
        kind = ref.get("kind", "")
        namespace = ref.get("namespace") or obj["metadata"]["namespace"]
        if self.no_cross_namespace_refs and namespace != obj["metadata"]["namespace"]:
            raise TerminalError("AccessDenied", f"cannot access {kind}/{namespace}/{ref['name']}: "
                                "cross-namespace references are not allowed (--no-cross-namespace-refs)")
        informer = self.sources.get(kind)
        if informer is None:
            if kind in SOURCE_KINDS:
                raise WaitingError("ArtifactFailed", f"source kind {kind} is not served by this controller yet",
                                   self.retry_interval(obj))
            raise TerminalError("ArtifactFailed", f"unsupported source kind '{kind}' in spec.sourceRef")
        source = informer.get((namespace, ref["name"]))
        if source is None:
            raise WaitingError("ArtifactFailed", f"Source '{kind}/{namespace}/{ref['name']}' not found",
                               self.retry_interval(obj))
        return source

    def _check_dependencies(self, obj: dict[str, Any], revision: str) -> None:
        namespace = obj["metadata"]["namespace"]
        cycle = self._cycle(obj)
        if cycle:
            raise WaitingError("DependencyNotReady", "circular dependency: " + " -> ".join(cycle),
                               self.requeue_dependency)
        for dep in obj["spec"].get("dependsOn") or []:
            dep_ns = dep.get("namespace") or namespace
            found = self.kustomizations.get((dep_ns, dep["name"]))
            message = f"dependency '{dep_ns}/{dep['name']}' is not ready"
            if found is None:
                raise WaitingError("DependencyNotReady", f"dependency '{dep_ns}/{dep['name']}' not found",
                                   self.requeue_dependency)
            expression = dep.get("readyExpr")
            if expression:
                expr_ready = evaluate_ready_expr(expression, obj, found)
                if not expr_ready or (self.additive_cel_check and not self._built_in_ready(obj, found, revision)):
                    raise WaitingError("DependencyNotReady", f"{message} (readyExpr)", self.requeue_dependency)
                continue
            if not self._built_in_ready(obj, found, revision):
                status = found.get("status") or {}
                if is_ready(found) and status.get("observedGeneration") == found["metadata"].get("generation"):
                    message = f"{message}: it has not applied revision '{revision}' yet"
                raise WaitingError("DependencyNotReady", message, self.requeue_dependency)

    @staticmethod
    def _built_in_ready(obj: dict[str, Any], found: dict[str, Any], revision: str) -> bool:
        """Flux's rule: Ready at its latest generation, and at our revision when it uses our source."""
        status = found.get("status") or {}
        if not is_ready(found) or status.get("observedGeneration") != found["metadata"].get("generation"):
            return False
        return source_key(found) != source_key(obj) or status.get("lastAppliedRevision") == revision

    def _cycle(self, obj: dict[str, Any]) -> list[str]:
        start = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        path: list[str] = []
        seen: set[str] = set()

        def visit(key: str) -> bool:
            if key in path:
                path.append(key)
                return key == start
            if key in seen:
                return False
            seen.add(key)
            namespace, name = key.split("/", 1)
            current = obj if key == start else self.kustomizations.get((namespace, name))
            if current is None:
                return False
            path.append(key)
            for dep in (current.get("spec") or {}).get("dependsOn") or []:
                if visit(f"{dep.get('namespace') or namespace}/{dep['name']}"):
                    return True
            path.pop()
            return False

        return path if visit(start) else []

    # -- manifests ---------------------------------------------------------------------------------

    async def _post_build(self, ctx: ReconcileContext, built: list[Built]) -> list[dict[str, Any]]:
        """Variable substitution (`postBuild`), on each object's printed YAML as Flux does it."""
        namespace = ctx.obj["metadata"]["namespace"]

        async def lookup(kind: str, name: str) -> dict[str, Any] | None:
            return await self.kube.get_or_none("v1", kind, name, namespace)

        try:
            return await post_build(ctx.obj["spec"], [b.obj for b in built], lookup,
                                    strict=self.strict_substitution, types=self.types)
        except UnsupportedSubstituteKind as err:
            raise TerminalError("BuildFailed", str(err)) from err
        except (SubstitutionError, EnvsubstError) as err:
            raise ReconcileError("BuildFailed", str(err)) from err

    async def _decryption_keys(self, obj: dict[str, Any]) -> tuple[KeySet | None, str]:
        """The SOPS keys of `spec.decryption.secretRef` (None without decryption) and their version."""
        decryption = obj["spec"].get("decryption")
        if not decryption:
            return None, ""
        ref = decryption.get("secretRef")
        if not ref:
            return KeySet.from_secret_data({}), ""
        namespace = obj["metadata"]["namespace"]
        secret = await self.kube.get_or_none("v1", "Secret", ref["name"], namespace)
        if secret is None:
            raise ReconcileError("BuildFailed", f"decryption secret '{namespace}/{ref['name']}' not found")
        try:
            data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
            return KeySet.from_secret_data(data), str(secret["metadata"].get("resourceVersion", ""))
        except (SopsError, ValueError) as err:
            raise ReconcileError("BuildFailed",
                                 f"decryption secret '{namespace}/{ref['name']}': unusable keys: {err}") from err

    async def _manifests(self, ctx: ReconcileContext, artifact: dict[str, Any], keys: KeySet | None = None,
                         keys_version: str = "") -> list[Built]:
        spec = ctx.obj["spec"]
        key = build_key(str(artifact.get("digest")), spec, extra=keys_version)
        owner = (ctx.obj["metadata"]["namespace"], ctx.obj["metadata"]["name"])
        cached = self.builds.get(owner, key)
        if cached is not None:
            return cached
        with tempfile.TemporaryDirectory(prefix="hw-ks-") as tmp:
            try:
                self.fetches += 1
                FETCHES.inc()
                root = await fetch_artifact(artifact["url"], artifact["digest"], Path(tmp, "artifact"))
            except ArtifactError as err:
                raise ReconcileError("ArtifactFailed", str(err)) from err
            try:
                started = time.monotonic()
                objects = await asyncio.to_thread(render, root, spec, keys=keys, no_remote_bases=self.no_remote_bases)
                self.builds_run += 1
                BUILDS.inc()
                ctx.log.debug("built %d objects in %.2fs", len(objects), time.monotonic() - started)
            except (DecryptionError, BuildError) as err:
                raise ReconcileError("BuildFailed", str(err)) from err
        self.builds.put(owner, key, objects)
        return objects

