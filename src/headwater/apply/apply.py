"""Staged server-side apply of a set of objects, with drift detection, as fluxcd/pkg `ssa` does it.

Why the detour through a dry-run: a real apply of an unchanged object still bumps nothing on the
server, but it costs a write through admission and etcd for every object on every reconcile. Flux
therefore dry-runs each object (server-side apply, force ownership, its own field manager), compares
the result with the live object and sends the real apply only for new or drifted objects; a steady
state costs one GET and one dry-run per object and no writes. `ChangeSet.calls` counts the requests
so callers and benchmarks can check that.

Order of work (`ApplyAllStaged`): cluster definitions (CRDs, Namespaces, ClusterRoles) are applied and
waited for (CRDs Established and served, Namespaces Active), then `*Class` kinds (applied and waited
for), then an optional custom stage, then everything else. Within a stage, the per-object checks run
concurrently; the real applies follow in Flux's kind order (one kind after the other, objects of one
kind concurrently). An error in a stage's checks stops before any of that stage's applies.

Per object: GET; skip (`reconcile: disabled`, `ssa: Ignore`, `ssa: IfNotPresent` when it exists);
dry-run; on an immutable-field error, recreate it when forced (spec.force or `force: enabled`: delete
with background propagation, wait until gone, dry-run again), otherwise fail naming the object and the
field; take over the fields of `kubectl` (Apply and Update), `before-first-apply` and our own Update
entries in `metadata.managedFields` with a JSON patch (unless `ssa: Merge`), drop kubectl's
last-applied annotation; compare and apply.

Two hooks for the caller (`apply_all`), both asked before a stage writes anything:
- `claimed` (`apply/ownership.py`): an existing object whose owner labels name another Kustomization
  that still claims it fails the stage with `OwnershipConflict` instead of being taken over.
- `before_write`: receives the entries of the stage's objects (their final identities: cluster-scoped
  ones without namespace) once they are planned and before the first of them is written. The
  Kustomization reconciler records its intended inventory there, so that a crash after a create
  cannot leave an object carrying its labels that no inventory lists (see `kustomize/reconciler.py`).
  An exception from it stops the apply before the stage's writes.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from headwater.apply.drift_ignore import IgnoreRule, apply_rules
from headwater.apply.objects import (
    CLEANUP_ANNOTATIONS,
    CLEANUP_LABELS,
    Action,
    ApiCalls,
    ChangeSet,
    ChangeSetEntry,
    InvalidObject,
    Obj,
    ObjMetadata,
    Stage,
    is_apply_excluded,
    is_crd,
    is_force_enabled,
    is_namespace,
    is_ssa_if_not_present,
    is_ssa_merge,
    prepared,
    require_identity,
    set_owner_labels,
    split_stages,
    version_of,
)
from headwater.apply.ownership import ClaimCheck, conflict_message, contested_owner
from headwater.apply.unchanged import UnchangedMemo, digest
from headwater.runtime.kube.client import KubeClient, UnknownKind
from headwater.runtime.kube.errors import ApiError, KubeError, NotFound

DEFAULT_FIELD_MANAGER = "kustomize-controller"
DEFAULT_WAIT_TIMEOUT = 60.0  # ssa DefaultApplyOptions().WaitTimeout

APPLY = "Apply"
UPDATE = "Update"

T = TypeVar("T")


class ApplyError(Exception):
    """The apply of a set failed; the message names the object(s) and carries the apiserver's words.

    `change_set` holds what was done before the failure (the entries of the stages already applied),
    which kustomize-controller appends to its error message.
    """

    def __init__(
        self,
        message: str,
        *,
        subject: str | None = None,
        cause: BaseException | None = None,
        errors: Sequence[ApplyError] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.subject = subject
        self.cause = cause
        self.errors: list[ApplyError] = list(errors) or [self]
        self.change_set: ChangeSet = ChangeSet()

    def __str__(self) -> str:
        return self.message


class ImmutableFieldError(ApplyError):
    """A change to fields the apiserver does not allow to change, without force to recreate the object."""

    def __init__(self, message: str, *, subject: str, fields: Sequence[str], cause: ApiError) -> None:
        super().__init__(message, subject=subject, cause=cause)
        self.fields = list(fields)


class WaitError(ApplyError):
    """Cluster or class definitions did not become ready within the wait timeout."""


class OwnershipConflict(ApplyError):
    """The object is managed by another Kustomization that still claims it (`apply/ownership.py`)."""

    def __init__(self, subject: str, owner: tuple[str, str]) -> None:
        super().__init__(conflict_message(subject, owner), subject=subject)
        self.owner = owner


#: Called with a stage's planned entries before the stage writes anything.
BeforeWrite = Callable[[list[ChangeSetEntry]], Awaitable[None]]


# -- pure helpers ------------------------------------------------------------------------------------

# Messages the apiserver (built-in validation, CEL `self == oldSelf` rules, webhooks) uses for fields that
# cannot change in place. fluxcd/pkg matches `is\simmutable` and `immutable\sfield` and, like kubectl,
# treats every 409/422 as immutable; we keep to messages that say so, so that force never deletes an
# object over a plain validation error (Service clusterIPs say "may not change once set").
_IMMUTABLE = re.compile(
    r"is\s+immutable|immutable\s+field|field\s+is\s+immutable|may\s+not\s+change\s+once\s+set"
    r"|may\s+not\s+be\s+changed|cannot\s+be\s+changed|updates\s+to\s+.+\s+are\s+forbidden",
    re.IGNORECASE,
)


def _causes(err: ApiError) -> list[Mapping[str, Any]]:
    causes = err.details.get("causes") if isinstance(err.details, Mapping) else None
    return [c for c in causes or [] if isinstance(c, Mapping)]


def is_immutable_error(err: ApiError) -> bool:
    if _IMMUTABLE.search(err.message):
        return True
    return any(_IMMUTABLE.search(str(cause.get("message", ""))) for cause in _causes(err))


def immutable_fields(err: ApiError) -> list[str]:
    """The fields the apiserver named as immutable (all named fields when no cause says which)."""
    causes = _causes(err)
    named = [str(c["field"]) for c in causes if c.get("field") and _IMMUTABLE.search(str(c.get("message", "")))]
    if named:
        return named
    return [str(c["field"]) for c in causes if c.get("field")]


def _without(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def has_drifted(existing: Mapping[str, Any] | None, dry_run: Mapping[str, Any]) -> bool:
    """ssa `hasDrifted`: new, or labels, annotations or anything outside metadata and status differ.

    Everything else in `metadata` (managedFields, resourceVersion, generation, uid, creationTimestamp,
    finalizers, ownerReferences…) and `status` is ignored.
    """
    dry_meta = dry_run.get("metadata") or {}
    if existing is None or not dry_meta.get("resourceVersion"):
        return True
    live_meta = existing.get("metadata") or {}
    if (dry_meta.get("labels") or {}) != (live_meta.get("labels") or {}):
        return True
    if (dry_meta.get("annotations") or {}) != (live_meta.get("annotations") or {}):
        return True
    return _without(dry_run, "metadata", "status") != _without(existing, "metadata", "status")


def cleanup_managers(field_manager: str, override_managers: Iterable[str] = ()) -> list[tuple[str, str]]:
    """kustomize-controller's cleanup list: (manager name prefix, operation)."""
    managers = [
        ("kubectl", APPLY),  # kubectl apply --server-side --force-conflicts
        ("kubectl", UPDATE),  # kubectl apply / edit / patch (kubectl-client-side-apply, kubectl-edit, …)
        ("before-first-apply", UPDATE),  # fields set before the first server-side apply
        (field_manager, UPDATE),  # our own writes from before server-side apply
    ]
    for name in override_managers:  # --override-manager
        managers += [(name, APPLY), (name, UPDATE)]
    return managers


def _union_fields(left: Any, right: Any) -> Any:
    """Union of two `fieldsV1` tries (nested dicts whose leaves are `{}`)."""
    if not isinstance(left, dict):
        return copy.deepcopy(right) if right is not None else left
    if not isinstance(right, dict):
        return left
    merged = dict(left)
    for key, value in right.items():
        merged[key] = _union_fields(merged[key], value) if key in merged else copy.deepcopy(value)
    return merged


def _matches_manager(entry: Mapping[str, Any], managers: Sequence[tuple[str, str]]) -> bool:
    if entry.get("subresource"):
        return False
    name, operation = str(entry.get("manager", "")), entry.get("operation")
    return any(operation == op and name.startswith(prefix) for prefix, op in managers)


def managed_fields_patch(
    existing: Mapping[str, Any], managers: Sequence[tuple[str, str]], field_manager: str
) -> list[dict[str, Any]]:
    """ssa `PatchReplaceFieldsManagers`: fold the fields of matching managers into our Apply entry.

    The first matching entry becomes ours (manager renamed, operation Apply) when we have none; the
    others' `fieldsV1` are merged into it. Our next apply then owns those fields, so values that only
    kubectl set and our manifests do not are removed by the apiserver. Returns JSON-patch operations
    (none when nothing matches).
    """
    entries: list[Mapping[str, Any]] = list((existing.get("metadata") or {}).get("managedFields") or [])
    ours_at = None
    for index, entry in enumerate(entries):
        if entry.get("manager") == field_manager and entry.get("operation") == APPLY:
            ours_at = index
    ours = copy.deepcopy(dict(entries[ours_at])) if ours_at is not None else None
    kept: list[Mapping[str, Any]] = []
    edited = False
    for index, entry in enumerate(entries):
        if index == ours_at:
            continue
        if _matches_manager(entry, managers):
            edited = True
            if ours is None:
                ours = {**copy.deepcopy(dict(entry)), "manager": field_manager, "operation": APPLY}
            else:
                ours["fieldsV1"] = _union_fields(ours.get("fieldsV1"), entry.get("fieldsV1"))
            continue
        kept.append(entry)
    if not edited or ours is None:
        return []
    return [{"op": "replace", "path": "/metadata/managedFields", "value": [*kept, ours]}]


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def metadata_cleanup_patch(existing: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Remove kubectl's last-applied annotation and legacy Flux v1 marks from the live object."""
    meta = existing.get("metadata") or {}
    annotations, labels = meta.get("annotations") or {}, meta.get("labels") or {}
    ops = [{"op": "remove", "path": _pointer("metadata", "annotations", k)} for k in CLEANUP_ANNOTATIONS
           if k in annotations]
    ops += [{"op": "remove", "path": _pointer("metadata", "labels", k)} for k in CLEANUP_LABELS if k in labels]
    return ops


# -- the engine ----------------------------------------------------------------------------------------


@dataclass
class _Plan:
    obj: Obj
    meta: ObjMetadata
    version: str
    action: Action
    apply: bool = False
    digest: str | None = None  # of the desired object, when an UnchangedMemo is in use


@dataclass(frozen=True)
class _Options:
    field_manager: str
    force: bool
    wait_timeout: float
    managers: tuple[tuple[str, str], ...]
    ignore_rules: tuple[IgnoreRule, ...] = ()
    owner: tuple[str, str] | None = None
    claimed: ClaimCheck | None = None
    before_write: BeforeWrite | None = None


def _raise_all(errors: Sequence[BaseException]) -> None:
    """Raise the one error, or an `ApplyError` listing all of them (one per line)."""
    for error in errors:
        if not isinstance(error, Exception):
            raise error
    if len(errors) == 1:
        raise errors[0]
    apply_errors = [e if isinstance(e, ApplyError) else ApplyError(str(e), cause=e) for e in errors]
    raise ApplyError("\n".join(e.message for e in apply_errors), errors=apply_errors)


async def poll_until(probe: Callable[[], Awaitable[T | None]], timeout: float) -> T | None:
    """Call `probe` until it returns something other than None, backing off from 50 ms to 1 s."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 1.5, 1.0)


class _Applier:
    def __init__(self, kube: KubeClient, options: _Options, concurrency: int,
                 memo: UnchangedMemo | None = None) -> None:
        self.kube = kube
        self.options = options
        self.calls = ApiCalls()
        self.limit = asyncio.Semaphore(max(1, concurrency))
        self.memo = memo
        impersonated = kube.config.impersonate
        self._identity = (kube.config.server, repr(impersonated) if impersonated else "", options.field_manager)

    def _memo_key(self, obj: Obj, meta: ObjMetadata) -> tuple[str, ...]:
        return (*self._identity, str(obj["apiVersion"]), meta.kind, meta.namespace or "", meta.name)

    async def _limited(self, work: Awaitable[T]) -> T:
        async with self.limit:
            return await work

    # -- one stage ---------------------------------------------------------------------------------

    async def stage(self, objects: list[Obj]) -> list[_Plan]:
        results = await asyncio.gather(*(self._limited(self._plan(obj)) for obj in objects),
                                       return_exceptions=True)
        plans: list[_Plan] = []
        errors: list[ApplyError] = []
        for obj, result in zip(objects, results, strict=True):
            if isinstance(result, ApplyError):
                errors.append(result)
            elif isinstance(result, KubeError):
                subject = ObjMetadata.of(obj).subject
                errors.append(ApplyError(f"{subject} dry-run failed: {result}", subject=subject, cause=result))
            elif isinstance(result, BaseException):
                raise result
            else:
                plans.append(result)
        if errors:
            _raise_all(errors)
        if self.options.before_write is not None:
            await self.options.before_write([ChangeSetEntry(p.meta, p.version, p.action) for p in plans])
        to_apply = [plan for plan in plans if plan.apply]
        for _, group in itertools.groupby(to_apply, key=lambda p: (p.meta.group, p.meta.kind)):
            outcomes = await asyncio.gather(*(self._limited(self._apply(plan)) for plan in group),
                                            return_exceptions=True)
            failed = [o for o in outcomes if isinstance(o, BaseException)]
            if failed:
                _raise_all(failed)
        return plans

    async def _plan(self, obj: Obj) -> _Plan:
        meta = ObjMetadata.of(obj)
        version = version_of(obj)
        try:
            res = await self.kube.resource(obj["apiVersion"], obj["kind"])
        except UnknownKind as err:
            raise ApplyError(
                f"{meta.subject} dry-run failed: no matches for kind \"{meta.kind}\" in version "
                f"\"{obj['apiVersion']}\"", subject=meta.subject, cause=err,
            ) from err
        if res.namespaced and not meta.namespace:
            raise ApplyError(f"{meta.subject} namespace not specified: the server could not find the requested "
                             f"resource", subject=meta.subject)
        if not res.namespaced and meta.namespace:
            obj["metadata"].pop("namespace", None)
            meta = replace(meta, namespace="")
        existing = await self._get(obj, meta)

        if is_apply_excluded(obj) or is_apply_excluded(existing) or (existing and is_ssa_if_not_present(obj)):
            return _Plan(obj, meta, version, Action.SKIPPED)
        contested = contested_owner(existing, meta, self.options.owner, self.options.claimed)
        if contested is not None:
            raise OwnershipConflict(meta.subject, contested)
        # digested before the ignore rules, whose outcome depends only on the (versioned) live object
        desired_digest = digest(obj) if self.memo is not None else None
        if desired_digest is not None and self.memo is not None \
                and self.memo.known_in_sync(self._memo_key(obj, meta), desired_digest, existing):
            return _Plan(obj, meta, version, Action.UNCHANGED)
        if self.options.ignore_rules:
            obj = apply_rules(obj, existing, list(self.options.ignore_rules), self.options.field_manager)

        dry_run, existing = await self._dry_run(obj, meta, existing)
        patched = await self._cleanup(obj, meta, existing)
        if patched or has_drifted(existing, dry_run):
            created = not (dry_run.get("metadata") or {}).get("resourceVersion")
            return _Plan(obj, meta, version, Action.CREATED if created else Action.CONFIGURED, apply=True,
                         digest=desired_digest)
        if self.memo is not None and desired_digest is not None:
            self.memo.remember(self._memo_key(obj, meta), desired_digest, existing)
        return _Plan(obj, meta, version, Action.UNCHANGED)

    async def _get(self, obj: Obj, meta: ObjMetadata) -> Obj | None:
        self.calls.gets += 1
        return await self.kube.get_or_none(obj["apiVersion"], obj["kind"], meta.name, meta.namespace or None)

    async def _dry_run(self, obj: Obj, meta: ObjMetadata, existing: Obj | None) -> tuple[Obj, Obj | None]:
        try:
            self.calls.dry_runs += 1
            return await self._send(obj, dry_run=True), existing
        except ApiError as err:
            if existing is None or not is_immutable_error(err):
                raise self._dry_run_error(meta, err) from err
            if not (self.options.force or is_force_enabled(obj) or is_force_enabled(existing)):
                fields = immutable_fields(err)
                named = ", ".join(fields) if fields else "an immutable field"
                raise ImmutableFieldError(
                    f"{self._dry_run_error(meta, err).message}; {meta.subject} cannot change {named} in place: "
                    f"enable force (spec.force or the annotation kustomize.toolkit.fluxcd.io/force: enabled) "
                    f"to recreate it",
                    subject=meta.subject, fields=fields, cause=err,
                ) from err
        await self._recreate(obj, meta, existing)
        try:
            self.calls.dry_runs += 1
            return await self._send(obj, dry_run=True), None
        except ApiError as err:
            raise self._dry_run_error(meta, err) from err

    async def _recreate(self, obj: Obj, meta: ObjMetadata, existing: Obj) -> None:
        """Delete (background propagation) and wait until the object is gone (finalizers included)."""
        uid = (existing.get("metadata") or {}).get("uid")
        try:
            self.calls.deletes += 1
            await self.kube.delete(obj["apiVersion"], obj["kind"], meta.name, meta.namespace or None,
                                   propagation="Background")
        except ApiError as err:
            raise ApplyError(f"{meta.subject} immutable field detected, failed to delete object: {err}",
                             subject=meta.subject, cause=err) from err

        async def gone() -> bool | None:
            self.calls.gets += 1
            live = await self.kube.get_or_none(obj["apiVersion"], obj["kind"], meta.name, meta.namespace or None)
            return True if live is None or (live.get("metadata") or {}).get("uid") != uid else None

        if await poll_until(gone, self.options.wait_timeout) is None:
            raise ApplyError(f"{meta.subject} immutable field detected, failed to wait for object to be deleted: "
                             f"still present after {self.options.wait_timeout:g}s", subject=meta.subject)

    def _dry_run_error(self, meta: ObjMetadata, err: ApiError) -> ApplyError:
        if isinstance(err, NotFound):
            if not meta.namespace:
                return ApplyError(f"{meta.subject} namespace not specified: {err}", subject=meta.subject, cause=err)
            return ApplyError(f"{meta.subject} not found: {err}", subject=meta.subject, cause=err)
        reason = f" ({err.reason})" if err.reason else ""
        return ApplyError(f"{meta.subject} dry-run failed{reason}: {err}", subject=meta.subject, cause=err)

    async def _cleanup(self, obj: Obj, meta: ObjMetadata, existing: Obj | None) -> bool:
        if existing is None or is_ssa_merge(obj) or is_ssa_merge(existing):
            return False
        ops = metadata_cleanup_patch(existing) + managed_fields_patch(
            existing, self.options.managers, self.options.field_manager)
        if not ops:
            return False
        try:
            self.calls.cleanups += 1
            await self.kube.patch(obj["apiVersion"], obj["kind"], meta.name, ops, namespace=meta.namespace or None,
                                  patch_type="json", field_manager=self.options.field_manager)
        except ApiError as err:
            raise ApplyError(f"{meta.subject} metadata.managedFields cleanup failed: {err}",
                             subject=meta.subject, cause=err) from err
        return True

    async def _apply(self, plan: _Plan) -> None:
        try:
            self.calls.applies += 1
            live = await self._send(plan.obj, dry_run=False)
            if self.memo is not None and plan.digest is not None:
                self.memo.remember(self._memo_key(plan.obj, plan.meta), plan.digest, live)
        except KubeError as err:
            raise ApplyError(f"{plan.meta.subject} apply failed: {err}", subject=plan.meta.subject,
                             cause=err) from err

    async def _send(self, obj: Obj, *, dry_run: bool) -> Obj:
        return await self.kube.apply(obj, field_manager=self.options.field_manager, force=True, dry_run=dry_run)

    # -- waiting for definitions -------------------------------------------------------------------

    async def wait_ready(self, plans: Sequence[_Plan]) -> None:
        """CRDs Established and served by discovery, Namespaces Active, anything else present."""
        waited = [plan for plan in plans if plan.action != Action.SKIPPED]
        results = await asyncio.gather(*(self._wait_one(plan) for plan in waited))
        problems = [problem for problem in results if problem]
        if problems:
            raise WaitError(f"timeout waiting for: [{', '.join(problems)}]")

    async def _wait_one(self, plan: _Plan) -> str | None:
        obj, meta = plan.obj, plan.meta
        status = ["NotFound"]  # the last state seen, for the timeout message

        async def ready() -> bool | None:
            self.calls.gets += 1
            live = await self.kube.get_or_none(obj["apiVersion"], obj["kind"], meta.name, meta.namespace or None)
            if live is None:
                status[0] = "NotFound"
                return None
            if is_crd(obj):
                problem = await self._crd_problem(live)
                status[0] = problem or "Current"
                return None if problem else True
            if is_namespace(obj):
                phase = (live.get("status") or {}).get("phase")
                status[0] = str(phase or "Unknown")
                return True if phase == "Active" else None
            return True

        if await poll_until(ready, self.options.wait_timeout) is None:
            return f"{meta.subject} status: '{status[0]}'"
        return None

    async def _crd_problem(self, live: Obj) -> str | None:
        """None when Established and every served version is in discovery; else what is missing."""
        conditions = (live.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return "InProgress"
        spec = live.get("spec") or {}
        kind = str((spec.get("names") or {}).get("kind"))
        for version in spec.get("versions") or []:
            if not version.get("served"):
                continue
            api_version = f"{spec.get('group')}/{version.get('name')}"
            try:
                await self.kube.resource(api_version, kind)
            except UnknownKind:
                self.kube.discovery.invalidate(api_version)
                return "NotServed"
        return None


async def apply_all(
    kube: KubeClient,
    objects: Iterable[Mapping[str, Any]],
    *,
    field_manager: str = DEFAULT_FIELD_MANAGER,
    owner: tuple[str, str] | None = None,
    force: bool = False,
    concurrency: int = 4,
    wait_for_definitions: bool = True,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    custom_stage_kinds: Collection[tuple[str, str]] = (),
    override_managers: Iterable[str] = (),
    ignore_rules: Iterable[IgnoreRule] = (),
    memo: UnchangedMemo | None = None,
    claimed: ClaimCheck | None = None,
    before_write: BeforeWrite | None = None,
) -> ChangeSet:
    """Apply `objects` stage by stage; return one change-set entry per object, in apply order.

    With a `memo` (kept by the caller across calls), an object whose desired form and live
    resourceVersion are those last verified in sync is reported unchanged without a dry-run.

    `owner` = (name, namespace) of the Kustomization: its owner labels are added to every object.
    `force` recreates objects whose immutable fields changed (as does the per-object annotation
    `kustomize.toolkit.fluxcd.io/force: enabled`). Raises `ApplyError` (`ImmutableFieldError`,
    `WaitError`) naming the object; its `change_set` holds the stages applied before the failure.
    `claimed` and `before_write` are the hooks of the module docstring (`claimed` needs `owner`).
    The caller's objects are not modified.
    """
    desired: list[Obj] = []
    for raw in objects:
        try:
            require_identity(raw)
        except InvalidObject as err:
            raise ApplyError(str(err), cause=err) from err
        obj = prepared(raw)
        if owner is not None:
            set_owner_labels(obj, owner[0], owner[1])
        desired.append(obj)

    options = _Options(field_manager=field_manager, force=force, wait_timeout=wait_timeout,
                       managers=tuple(cleanup_managers(field_manager, override_managers)),
                       ignore_rules=tuple(ignore_rules), owner=owner, claimed=claimed,
                       before_write=before_write)
    applier = _Applier(kube, options, concurrency, memo)
    result = ChangeSet(calls=applier.calls)
    for stage, stage_objects in split_stages(desired, custom_stage_kinds):
        try:
            plans = await applier.stage(stage_objects)
            result.entries.extend(ChangeSetEntry(p.meta, p.version, p.action) for p in plans)
            if wait_for_definitions and stage in (Stage.CLUSTER_DEFINITIONS, Stage.CLASS_DEFINITIONS):
                await applier.wait_ready(plans)
        except ApplyError as err:
            err.change_set = result
            raise
    return result
