"""The Kustomization reconciler: make the cluster match a source artifact, and keep it matching.

One reconcile, as kustomize-controller does it: find the source and its artifact, check dependencies,
fetch the artifact (digest verified, safely extracted), build with kustomize, decrypt SOPS, substitute
variables, apply server-side in stages (only what drifted is written), record the inventory, prune what
left the build, and wait for health when asked. The expensive middle (fetch, build, decrypt,
substitute) is cached by its inputs, so an unchanged re-reconcile only compares the cluster with the
cached manifests.

The object, its dependencies and its source are read through the API's typed views
(`headwater.api.models`: views over the dicts, not copies), so defaults and limits — the 30 s timeout
floor, the retry interval, the deletion policy — are the API's, stated once. Status is written into
`ctx.status`, the dict the runtime sends.

Two guards around the apply: the intended inventory is written before an apply that brings new
objects into it (`apply/intent.py`: a crash between a create and the final inventory write leaves no
orphan), and an object another Kustomization still claims is not taken from it (`kustomize/claims.py`:
this one fails with Ready=False naming the object and its owner).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from typing import Any

from prometheus_client import Counter

from headwater.api.duration import format_seconds
from headwater.api.models import ArtifactSource, Kustomization
from headwater.api.models.common import Artifact
from headwater.api.models.kustomize import KustomizationStatus
from headwater.api.validation import UNREADABLE, refuse_unreadable
from headwater.apply import inventory as inv
from headwater.apply.apply import ApplyError, apply_all
from headwater.apply.cel_health import compile_health_checks
from headwater.apply.drift_ignore import parse_rules
from headwater.apply.health import CustomStatusReader
from headwater.apply.intent import IntendedInventory
from headwater.apply.prune import PruneError, delete_all, prune
from headwater.apply.unchanged import UnchangedMemo
from headwater.artifact.fetch import ArtifactError, fetch_artifact
from headwater.kustomize.build import BuildCache, BuildError, Built, build_key
from headwater.kustomize.claims import claim_check
from headwater.kustomize.decryption import DecryptionError, decrypt_objects
from headwater.kustomize.health import HealthCheckFailed, targets_for, wait_healthy
from headwater.kustomize.pipeline import UnsupportedSubstituteKind, post_build, render
from headwater.kustomize.ready_expr import evaluate_ready_expr
from headwater.kustomize.sops import KeySet, SopsError
from headwater.kustomize.sources import SOURCE_KINDS
from headwater.kustomize.substitute import EnvsubstError, SubstitutionError
from headwater.kustomize.workarea import WorkArea
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
#: What a ServiceAccount's name can be (an RFC 1123 subdomain).
SERVICE_ACCOUNT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# Work counters on the served registry, so a controller process can be measured through /metrics.
BUILDS = Counter("headwater_kustomize_builds", "kustomize builds run", registry=REGISTRY)
FETCHES = Counter("headwater_kustomize_artifact_fetches", "Source artifacts fetched", registry=REGISTRY)
APPLIES = Counter("headwater_kustomize_applies", "Server-side applies sent (not dry-run)", registry=REGISTRY)

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
        kube_api_qps: float | None = None,
        kube_api_burst: int | None = None,
        work: WorkArea | None = None,
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
        self.remote = RemoteClients(user_agent=FIELD_MANAGER, qps=kube_api_qps, burst=kube_api_burst)
        self.builds = BuildCache()
        self.work = work or WorkArea()  # build directories: private, crash leftovers removed at start
        self.in_sync = UnchangedMemo()  # objects verified in sync: an idle pass needs no dry-run for them
        self.builds_run = 0  # kustomize builds actually run (benchmarks and tests count them)
        self.fetches = 0
        self.applies_sent = 0  # real (non dry-run) server-side applies sent, all reconciles together

    async def close(self) -> None:
        """Release connections to remote clusters and the build work area (called when the controller stops)."""
        await self.remote.close()
        self.work.close()

    def retry_interval(self, obj: dict[str, Any]) -> float:
        """Failures are retried at `spec.retryInterval` (default: the interval), not with backoff.

        Only called after a reconcile that read these fields (an object without them is refused first)."""
        return Kustomization(obj).get_retry_interval().seconds

    def timeout(self, obj: dict[str, Any]) -> float:
        """`spec.timeout`, else the interval minus 30 s, never under 30 s: Flux's `GetTimeout`."""
        return Kustomization(obj).get_timeout().seconds

    # -- the reconcile -----------------------------------------------------------------------------

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        with refuse_unreadable(ctx.obj, TerminalError):  # a spec the views cannot read: Stalled, ValidationFailed
            return await self._reconcile(ctx, Kustomization(ctx.obj))

    async def _reconcile(self, ctx: ReconcileContext, ks: Kustomization) -> Result:
        spec, name, namespace = ks.spec, ks.name, ks.namespace
        timeout, retry = ks.get_timeout().seconds, ks.get_retry_interval().seconds
        artifact = self._source(ks, retry).status.artifact
        if artifact is None:
            raise WaitingError("ArtifactFailed", f"Source artifact not found for {ks.source_key()}, retrying", retry)
        revision = artifact.revision
        self._check_dependencies(ks, revision)
        status, written = ks.status, KustomizationStatus(ctx.status)
        if status.last_applied_revision != revision or status.observed_generation != ctx.generation:
            written.last_attempted_revision = revision  # shown while the new work is in progress
            await ctx.progress(f"Fetching manifests for revision '{revision}' with a timeout of "
                               f"{format_seconds(timeout)}")
        written.last_attempted_revision = revision

        keys, keys_version = await self._decryption_keys(ks)
        built = await self._manifests(ctx, ks, artifact, keys, keys_version)
        try:
            decrypted = decrypt_objects([b.obj for b in built], keys)
        except DecryptionError as err:
            raise ReconcileError("BuildFailed", str(err)) from err
        built = [Built(o, b.text) for o, b in zip(decrypted, built, strict=True)]
        objects = await self._post_build(ctx, ks, built)
        self._custom_health(ks)  # invalid healthCheckExprs stall before anything is applied
        kube = await self._client(ks)
        old_entries = _inventory(status)
        intent = IntendedInventory(old_entries, lambda entries: self._record_inventory(ctx, entries))
        try:
            change_set = await apply_all(kube, objects, field_manager=FIELD_MANAGER, owner=(name, namespace),
                                         force=spec.force, wait_timeout=timeout, ignore_rules=parse_rules(spec.ignore),
                                         memo=self.in_sync, claimed=claim_check(self.kustomizations, ks, revision),
                                         before_write=intent.before_write)
            self.applies_sent += change_set.calls.applies
            APPLIES.inc(change_set.calls.applies)
        except ApplyError as err:
            raise ReconcileError("ReconciliationFailed", str(err)) from err
        except KubeError as err:
            raise ReconcileError("ReconciliationFailed", f"apply failed: {err}") from err
        entries = inv.from_change_set(change_set)
        ctx.status["inventory"] = inv.to_status(entries)
        changes = [str(e) for e in change_set if e.action.value not in ("unchanged", "skipped")]
        stale = inv.diff(old_entries, entries)
        if stale and spec.prune:
            try:
                pruned = await prune(kube, stale, owner=(name, namespace))
            except PruneError as err:
                ctx.status["inventory"] = inv.to_status(inv.merge(entries, stale))
                raise ReconcileError("PruneFailed", str(err)) from err
            changes += [str(e) for e in pruned if e.action.value == "deleted"]
        ctx.extra["change_set"] = change_set
        if changes:
            ctx.event(EVENT_TYPE_NORMAL, "ReconciliationSucceeded", "\n".join(changes), {"revision": revision})
        await self._check_health(ctx, ks, kube, objects, revision, changed=bool(changes))
        written.last_applied_revision = revision
        cond.mark_ready(ctx.conditions, f"Applied revision: {revision}", "ReconciliationSucceeded",
                        generation=ctx.generation)
        return Result()

    @staticmethod
    async def _record_inventory(ctx: ReconcileContext, entries: list[inv.InventoryEntry]) -> None:
        """Write the intended inventory now, before the apply writes objects it adds."""
        ctx.status["inventory"] = inv.to_status(entries)
        try:
            await ctx.status_writer.write(ctx.obj)
        except KubeError as err:
            raise ReconcileError("ReconciliationFailed", f"recording the inventory before apply failed: {err}") from err

    async def _check_health(self, ctx: ReconcileContext, ks: Kustomization, kube: KubeClient,
                            objects: list[dict[str, Any]], revision: str, *, changed: bool) -> None:
        conds, gen = ctx.conditions, ctx.generation
        targets = targets_for(ks, objects)
        if not targets:
            cond.delete(conds, cond.HEALTHY_CONDITION)
            return
        was_healthy = cond.is_true(conds, cond.HEALTHY_CONDITION)
        try:
            took = await wait_healthy(kube, targets, ks.get_timeout().seconds, custom=self._custom_health(ks))
        except HealthCheckFailed as err:
            cond.mark_false(conds, cond.HEALTHY_CONDITION, "HealthCheckFailed", str(err), generation=gen)
            raise ReconcileError("HealthCheckFailed", str(err)) from err
        message = f"Health check passed in {format_seconds(took)}"
        cond.mark_true(conds, cond.HEALTHY_CONDITION, "Succeeded", message, generation=gen)
        if changed or not was_healthy:
            ctx.event(EVENT_TYPE_NORMAL, "ReconciliationSucceeded", message, {"revision": revision})

    def _custom_health(self, ks: Kustomization) -> CustomStatusReader | None:
        """`healthCheckExprs` compiled (cached by expression); a compile error stalls the object."""
        expressions = ks.spec.health_check_exprs
        return compile_health_checks(expressions) if expressions else None

    async def finalize(self, ctx: ReconcileContext) -> None:
        """Kustomization deletion: `deletionPolicy` decides what happens to what it applied.

        An object the views cannot read deletes nothing (Go would read `prune: false`, i.e. orphan), so
        its deletion is never blocked."""
        ks = Kustomization(ctx.obj)
        self.builds.forget((ks.namespace, ks.name))
        spec = ks.spec
        try:
            entries, policy, timeout = _inventory(ks.status), spec.deletion_policy, ks.get_timeout().seconds
            keep = policy == "Orphan" or (policy == "MirrorPrune" and not spec.prune)
        except UNREADABLE:
            return
        if spec.suspend or not entries or keep:
            return
        if not await self._can_impersonate(ks):
            # Flux's rule: without the ServiceAccount (e.g. its namespace is being deleted) nothing is
            # pruned, and the deletion is not blocked by a prune that could only be forbidden.
            ctx.event("Warning", "PruneSkipped", "garbage collection skipped: the service account to "
                      "impersonate was not found")
            return
        try:
            kube = await self._client(ks)
            await delete_all(kube, entries, owner=(ks.name, ks.namespace), wait=policy == "WaitForTermination",
                             timeout=timeout)
        except (PruneError, KubeError) as err:
            raise ReconcileError("PruneFailed", f"garbage collection on deletion failed: {err}") from err

    def _account(self, ks: Kustomization) -> str:
        """The service account to impersonate (`spec.serviceAccountName`, else `--default-service-account`).

        Only a name a ServiceAccount can have is accepted: anything else could never name one, and text
        such as a line break would otherwise reach the `Impersonate-User` header."""
        account = ks.spec.service_account_name or self.default_service_account
        if account and (len(account) > 253 or not SERVICE_ACCOUNT_NAME.fullmatch(account)):
            raise ReconcileError("ReconciliationFailed",
                                 f"invalid spec.serviceAccountName {json.dumps(account)}: not a ServiceAccount name "
                                 "(a lowercase RFC 1123 subdomain)")
        return account

    async def _can_impersonate(self, ks: Kustomization) -> bool:
        """Whether the ServiceAccount to impersonate exists in the Kustomization's namespace (none: yes)."""
        try:
            account = self._account(ks)
        except ReconcileError:
            return False
        if not account:
            return True
        return await self.kube.get_or_none("v1", "ServiceAccount", account, ks.namespace) is not None

    async def _client(self, ks: Kustomization) -> KubeClient:
        """The client to apply with: a remote cluster's (`kubeConfig`), impersonating the service account."""
        spec, namespace = ks.spec, ks.namespace
        kube = self.kube
        if spec.kube_config is not None and spec.kube_config.config_map_ref is not None:
            # Flux builds a client from a cloud provider's workload identity here; applying to this
            # cluster instead would put a remote cluster's objects in the wrong place.
            raise ReconcileError("ReconciliationFailed",
                                 "spec.kubeConfig.configMapRef (secret-less workload identity) is not supported: "
                                 "use spec.kubeConfig.secretRef")
        account = self._account(ks)
        kubeconfig_ref = spec.kube_config.secret_ref if spec.kube_config is not None else None
        if kubeconfig_ref is not None:
            try:
                secret = await self.kube.get("v1", "Secret", kubeconfig_ref.name, namespace)
                kube = await self.remote.for_secret(secret, kubeconfig_ref.key)
            except NotFound as err:
                raise ReconcileError("ReconciliationFailed",
                                     f"kubeconfig Secret '{namespace}/{kubeconfig_ref.name}' not found") from err
            except ConfigError as err:
                raise ReconcileError("ReconciliationFailed", f"invalid kubeConfig: {err}") from err
        if account:
            kube = kube.impersonating(Impersonation.service_account(namespace, account))
        return kube

    # -- source and dependencies -------------------------------------------------------------------

    def _source(self, ks: Kustomization, retry: float) -> ArtifactSource:
        ref = ks.spec.source_ref
        kind, name, namespace = ref.kind, ref.name, ref.namespace_or(ks.namespace)
        if self.no_cross_namespace_refs and namespace != ks.namespace:
            raise TerminalError("AccessDenied", f"cannot access {kind}/{namespace}/{name}: "
                                "cross-namespace references are not allowed (--no-cross-namespace-refs)")
        informer = self.sources.get(kind)
        if informer is None:
            if kind in SOURCE_KINDS:
                raise WaitingError("ArtifactFailed", f"source kind {kind} is not served by this controller yet", retry)
            raise TerminalError("ArtifactFailed", f"unsupported source kind '{kind}' in spec.sourceRef")
        source = informer.get((namespace, name))
        if source is None:
            raise WaitingError("ArtifactFailed", f"Source '{kind}/{namespace}/{name}' not found", retry)
        return ArtifactSource(source)

    def _check_dependencies(self, ks: Kustomization, revision: str) -> None:
        cycle = self._cycle(ks)
        if cycle:
            raise WaitingError("DependencyNotReady", "circular dependency: " + " -> ".join(cycle),
                               self.requeue_dependency)
        for dep in ks.spec.depends_on:
            key = f"{dep.namespace or ks.namespace}/{dep.name}"
            found = self._kustomization(key)
            message = f"dependency '{key}' is not ready"
            if found is None:
                raise WaitingError("DependencyNotReady", f"dependency '{key}' not found", self.requeue_dependency)
            if dep.ready_expr:
                expr_ready = evaluate_ready_expr(dep.ready_expr, ks.raw, found.raw)
                if not expr_ready or (self.additive_cel_check and not self._built_in_ready(ks, found, revision)):
                    raise WaitingError("DependencyNotReady", f"{message} (readyExpr)", self.requeue_dependency)
                continue
            if not self._built_in_ready(ks, found, revision):
                if _ready_at_latest_generation(found):
                    message = f"{message}: it has not applied revision '{revision}' yet"
                raise WaitingError("DependencyNotReady", message, self.requeue_dependency)

    @staticmethod
    def _built_in_ready(ks: Kustomization, found: Kustomization, revision: str) -> bool:
        """Flux's rule: Ready at its latest generation, and at our revision when it uses our source."""
        if not _ready_at_latest_generation(found):
            return False
        return found.source_key() != ks.source_key() or found.status.last_applied_revision == revision

    def _kustomization(self, key: str) -> Kustomization | None:
        """The cached Kustomization `namespace/name`, as a view."""
        namespace, name = key.split("/", 1)
        found = self.kustomizations.get((namespace, name))
        return None if found is None else Kustomization(found)

    def _cycle(self, ks: Kustomization) -> list[str]:
        start = f"{ks.namespace}/{ks.name}"
        path: list[str] = []
        seen: set[str] = set()

        def visit(key: str) -> bool:
            if key in path:
                path.append(key)
                return key == start
            if key in seen:
                return False
            seen.add(key)
            current = ks if key == start else self._kustomization(key)
            if current is None:
                return False
            path.append(key)
            for dep in current.spec.depends_on:
                if visit(f"{dep.namespace or current.namespace}/{dep.name}"):
                    return True
            path.pop()
            return False

        return path if visit(start) else []

    # -- manifests ---------------------------------------------------------------------------------

    async def _post_build(self, ctx: ReconcileContext, ks: Kustomization, built: list[Built]) -> list[dict[str, Any]]:
        """Variable substitution (`postBuild`), on each object's printed YAML as Flux does it."""
        namespace = ks.namespace

        async def lookup(kind: str, name: str) -> dict[str, Any] | None:
            return await self.kube.get_or_none("v1", kind, name, namespace)

        try:
            return await post_build(ks.spec, [b.obj for b in built], lookup,
                                    strict=self.strict_substitution, types=self.types)
        except UnsupportedSubstituteKind as err:
            raise TerminalError("BuildFailed", str(err)) from err
        except (SubstitutionError, EnvsubstError) as err:
            raise ReconcileError("BuildFailed", str(err)) from err

    async def _decryption_keys(self, ks: Kustomization) -> tuple[KeySet | None, str]:
        """The SOPS keys of `spec.decryption.secretRef` (None without decryption) and their version."""
        decryption = ks.spec.decryption
        if decryption is None:
            return None, ""
        ref = decryption.secret_ref
        if ref is None:
            return KeySet.from_secret_data({}), ""
        namespace = ks.namespace
        secret = await self.kube.get_or_none("v1", "Secret", ref.name, namespace)
        if secret is None:
            raise ReconcileError("BuildFailed", f"decryption secret '{namespace}/{ref.name}' not found")
        try:
            data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
            return KeySet.from_secret_data(data), str(secret["metadata"].get("resourceVersion", ""))
        except (SopsError, ValueError) as err:
            raise ReconcileError("BuildFailed",
                                 f"decryption secret '{namespace}/{ref.name}': unusable keys: {err}") from err

    async def _manifests(self, ctx: ReconcileContext, ks: Kustomization, artifact: Artifact,
                         keys: KeySet | None = None, keys_version: str = "") -> list[Built]:
        spec = ks.spec
        key = build_key(artifact.digest, spec, extra=keys_version)
        owner = (ks.namespace, ks.name)
        cached = self.builds.get(owner, key)
        if cached is not None:
            return cached
        with self.work.build_dir() as tmp:  # the artifact copy (SOPS cleartext included) and kustomize's scratch
            try:
                self.fetches += 1
                FETCHES.inc()
                root = await fetch_artifact(artifact.url, artifact.digest, tmp / "artifact")
            except ArtifactError as err:
                raise ReconcileError("ArtifactFailed", str(err)) from err
            try:
                started = time.monotonic()
                objects = await asyncio.to_thread(render, root, spec, keys=keys, no_remote_bases=self.no_remote_bases,
                                                  timeout=0.8 * ks.get_timeout().seconds, scratch_parent=tmp)
                self.builds_run += 1
                BUILDS.inc()
                ctx.log.debug("built %d objects in %.2fs", len(objects), time.monotonic() - started)
            except (DecryptionError, BuildError) as err:
                raise ReconcileError("BuildFailed", str(err)) from err
        self.builds.put(owner, key, objects)
        return objects


def _ready_at_latest_generation(ks: Kustomization) -> bool:
    return ks.status.is_condition_true("Ready") and ks.status.observed_generation == ks.generation


def _inventory(status: KustomizationStatus) -> list[inv.InventoryEntry]:
    """The entries of `status.inventory` (none when it is unset)."""
    inventory = status.inventory
    return [] if inventory is None else [inv.InventoryEntry(entry.id, entry.v) for entry in inventory.entries]
