"""Object health exactly as Flux's kustomize-controller computes it (kstatus), over plain dicts.

``spec.wait`` / ``spec.healthChecks`` make kustomize-controller poll the applied objects until
they are all *Current*.  Flux does not decide what "healthy" means itself: it asks kstatus
(``fluxcd/cli-utils`` ``pkg/kstatus/status``, a fork of ``kubernetes-sigs/cli-utils``), with
two readers registered in front of it (``fluxcd/pkg`` ``runtime/client`` impersonator):

1. the CEL readers built from ``spec.healthCheckExprs`` (see :mod:`headwater.apply.cel_health`),
   passed in here as ``custom``;
2. Flux's own Job reader (``fluxcd/pkg`` ``runtime/statusreaders/job.go``): a Job is Current
   only once it has *completed* (upstream kstatus calls a running Job Current);
3. kstatus ``status.Compute`` for everything else.

Users see the results in ``Ready=False`` messages (``timeout waiting for: [Deployment/default/
app status: 'InProgress']``) and in how long a reconcile blocks, so the rules below port kstatus
rule by rule, including its messages, its defaults for missing fields and its quirks: a
``LoadBalancer`` Service only needs ``spec.clusterIP``, a ``Ready=False`` custom resource is
``InProgress`` (never Failed) unless it also says ``Stalled=True``, a CronJob/ConfigMap/Secret
is always Current, a HorizontalPodAutoscaler without its conditions is ``Unknown``, and a
malformed object (wrong field types, unknown Pod phase) is ``Unknown`` with the error.

:func:`aggregate` and :func:`wait_failure_message` port the wait loop's decisions from
``fluxcd/pkg`` ``ssa/manager_wait.go`` (fail-fast, "terminal" sets, Jobs deleted by their TTL).
Everything here is pure: no I/O, no clock unless ``now`` is omitted (Pod scheduling window).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, Literal, NamedTuple, Protocol, TypeVar

__all__ = [
    "CURRENT",
    "FAILED",
    "IN_PROGRESS",
    "MAX_INT32",
    "NOT_FOUND",
    "NOT_FOUND_STATUS",
    "SCHEDULE_WINDOW",
    "STATUSES",
    "TERMINATING",
    "UNKNOWN",
    "Aggregate",
    "CustomStatusReader",
    "Status",
    "StatusValue",
    "aggregate",
    "api_group",
    "compute_status",
    "format_object_id",
    "is_job_with_ttl",
    "object_id",
    "wait_failure_message",
]

StatusValue = Literal["InProgress", "Failed", "Current", "Terminating", "NotFound", "Unknown"]

IN_PROGRESS: Final = "InProgress"
FAILED: Final = "Failed"
CURRENT: Final = "Current"
TERMINATING: Final = "Terminating"
NOT_FOUND: Final = "NotFound"
UNKNOWN: Final = "Unknown"
STATUSES: Final[tuple[StatusValue, ...]] = (IN_PROGRESS, FAILED, CURRENT, TERMINATING, NOT_FOUND, UNKNOWN)

#: kstatus treats an unset ``spec.progressDeadlineSeconds`` as "no deadline" (math.MaxInt32).
MAX_INT32: Final = 2**31 - 1

#: How long a Pod may stay unschedulable before kstatus reports it Failed (core.go ScheduleWindow).
SCHEDULE_WINDOW: Final = timedelta(seconds=15)


@dataclass(frozen=True, slots=True)
class Status:
    """One kstatus result: the status, kstatus's message, and the error behind an ``Unknown``.

    ``error`` is set only when the status could not be computed (kstatus returns an error and
    the poller reports ``Unknown`` with it); Flux appends it to the wait failure message.
    """

    status: StatusValue
    message: str = ""
    error: str | None = None


#: What the poller reports when GET returns 404 (statusreaders/common.go).
NOT_FOUND_STATUS: Final = Status(NOT_FOUND, "Resource not found")


class CustomStatusReader(Protocol):
    """A reader that takes precedence over kstatus for the kinds it supports.

    ``read`` returns ``None`` for objects it does not handle (Flux: ``Supports(gk)`` false).
    :class:`headwater.apply.cel_health.CustomHealthChecks` implements it.
    """

    def read(self, obj: Mapping[str, Any]) -> Status | None: ...


class _ComputeError(Exception):
    """kstatus returned an error: the status is Unknown with this message."""


# --------------------------------------------------------------------------------------------
# Field access with the semantics of kstatus's GetIntField / GetStringField / NestedInt64.

_MISSING: Final = object()


def _lookup(obj: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted path, or ``_MISSING`` when a step is absent or not a map."""
    current: Any = obj
    for name in path.split("."):
        if not isinstance(current, Mapping) or name not in current:
            return _MISSING
        current = current[name]
    return current


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _get_int(obj: Mapping[str, Any], path: str, default: int) -> int:
    """kstatus GetIntField: the integer at ``path``; ``default`` if absent or not an integer."""
    value = _lookup(obj, path)
    return value if _is_int(value) else default


def _get_str(obj: Mapping[str, Any], path: str, default: str) -> str:
    """kstatus GetStringField: the string at ``path``; ``default`` if absent or not a string."""
    value = _lookup(obj, path)
    return value if isinstance(value, str) else default


def _type_name(value: Any) -> str:
    return "<nil>" if value is None else type(value).__name__


def _nested_int(obj: Mapping[str, Any], path: str) -> int | None:
    """unstructured.NestedInt64: ``None`` if absent; an error if present but not an integer."""
    value = _lookup(obj, path)
    if value is _MISSING:
        return None
    if not _is_int(value):
        raise _ComputeError(
            f"looking up {path} from resource: .{path} accessor error: "
            f"{value!r} is of the type {_type_name(value)}, expected int64"
        )
    result: int = value
    return result


@dataclass(frozen=True, slots=True)
class _Condition:
    type: str
    status: str
    reason: str
    message: str


def _conditions(obj: Mapping[str, Any]) -> list[_Condition]:
    """``status.conditions`` as kstatus's GetObjectWithConditions sees them (strict types)."""
    status = obj.get("status")
    if status is None:
        return []
    if not isinstance(status, Mapping):
        raise _ComputeError(f"status is of the type {_type_name(status)}, expected a map")
    raw = status.get("conditions")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _ComputeError(f"status.conditions is of the type {_type_name(raw)}, expected a list")
    result: list[_Condition] = []
    for entry in raw:
        if entry is None:
            entry = {}
        if not isinstance(entry, Mapping):
            raise _ComputeError(f"condition is of the type {_type_name(entry)}, expected a map")
        fields: dict[str, str] = {}
        for name in ("type", "status", "reason", "message"):
            value = entry.get(name)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise _ComputeError(f"condition {name} is of the type {_type_name(value)}, expected string")
            fields[name] = value
        result.append(_Condition(**fields))
    return result


def _condition_with_status(conditions: list[_Condition], type_: str, status: str) -> _Condition | None:
    for condition in conditions:
        if condition.type == type_ and condition.status == status:
            return condition
    return None


def _in_progress(message: str) -> Status:
    return Status(IN_PROGRESS, message)


def _failed(message: str) -> Status:
    return Status(FAILED, message)


def _current(message: str) -> Status:
    return Status(CURRENT, message)


def api_group(api_version: str) -> str | None:
    """The API group of ``apiVersion`` (``""`` for the core group); ``None`` if malformed.

    Mirrors schema.ParseGroupVersion: ``v1`` → ``""``, ``apps/v1`` → ``apps``, more than one
    ``/`` is an error.
    """
    if api_version in ("", "v1") or "/" not in api_version:
        return ""
    if api_version.count("/") > 1:
        return None
    return api_version.split("/", 1)[0]


def _str_field(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _kind(obj: Mapping[str, Any]) -> str:
    return _str_field(obj, "kind")


# --------------------------------------------------------------------------------------------
# Generic rules (generic.go, status.go).


def _check_generic(obj: Mapping[str, Any]) -> Status | None:
    deletion = _lookup(obj, "metadata.deletionTimestamp")
    if deletion is not _MISSING and deletion is not None:
        if isinstance(deletion, datetime):  # a YAML loader turned the RFC 3339 string into a datetime
            deletion = deletion.isoformat()
        if not isinstance(deletion, str):
            raise _ComputeError(
                "looking up metadata.deletionTimestamp from resource: .metadata.deletionTimestamp "
                f"accessor error: {deletion!r} is of the type {_type_name(deletion)}, expected string"
            )
        if deletion:
            return Status(TERMINATING, "Resource scheduled for deletion")

    generation = _nested_int(obj, "metadata.generation")
    if generation is not None:
        observed = _nested_int(obj, "status.observedGeneration")
        if observed is not None and observed != generation:
            return _in_progress(
                f"{_kind(obj)} generation is {generation}, but latest observed generation is {observed}"
            )

    for condition in _conditions(obj):
        if condition.type == "Reconciling" and condition.status == "True":
            return _in_progress(condition.message)
        if condition.type == "Stalled" and condition.status == "True":
            return _failed(condition.message)
    return None


def _check_ready_condition(obj: Mapping[str, Any]) -> Status | None:
    for condition in _conditions(obj):
        if condition.type != "Ready":
            continue
        if condition.status == "True":
            return _current("Resource is Ready")
        if condition.status in ("False", "Unknown"):
            return _in_progress(condition.message)
    return None


# --------------------------------------------------------------------------------------------
# Per-kind rules (core.go), in kstatus's order of checks.


def _always_ready(_obj: Mapping[str, Any], _now: datetime) -> Status:
    return _current("Resource is always ready")


def _deployment(obj: Mapping[str, Any], _now: datetime) -> Status:
    # Without progressDeadlineSeconds the controller never sets Progressing: assume progressing.
    progressing = _get_int(obj, "spec.progressDeadlineSeconds", MAX_INT32) == MAX_INT32
    available = False
    for condition in _conditions(obj):
        if condition.type == "Progressing":
            if condition.reason == "ProgressDeadlineExceeded":
                return _failed("Progress deadline exceeded")
            if condition.status == "True" and condition.reason == "NewReplicaSetAvailable":
                progressing = True
        elif condition.type == "Available" and condition.status == "True":
            available = True

    spec_replicas = _get_int(obj, "spec.replicas", 1)
    replicas = _get_int(obj, "status.replicas", 0)
    updated = _get_int(obj, "status.updatedReplicas", 0)
    ready = _get_int(obj, "status.readyReplicas", 0)
    available_replicas = _get_int(obj, "status.availableReplicas", 0)

    if spec_replicas > replicas:
        return _in_progress(f"Replicas: {replicas}/{spec_replicas}")
    if spec_replicas > updated:
        return _in_progress(f"Updated: {updated}/{spec_replicas}")
    if replicas > spec_replicas:
        return _in_progress(f"Pending termination: {replicas - spec_replicas}")
    if updated > available_replicas:
        return _in_progress(f"Available: {available_replicas}/{updated}")
    if spec_replicas > ready:
        return _in_progress(f"Ready: {ready}/{spec_replicas}")
    if not progressing:
        return _in_progress("ReplicaSet not Available")
    if not available:
        return _in_progress("Deployment not Available")
    return _current(f"Deployment is available. Replicas: {replicas}")


def _statefulset(obj: Mapping[str, Any], _now: datetime) -> Status:
    if _get_str(obj, "spec.updateStrategy.type", "") == "OnDelete":
        return _current("StatefulSet is using the ondelete update strategy")

    spec_replicas = _get_int(obj, "spec.replicas", 1)
    ready = _get_int(obj, "status.readyReplicas", 0)
    current = _get_int(obj, "status.currentReplicas", 0)
    updated = _get_int(obj, "status.updatedReplicas", 0)
    replicas = _get_int(obj, "status.replicas", 0)
    partition = _get_int(obj, "spec.updateStrategy.rollingUpdate.partition", -1)

    if spec_replicas > replicas:
        return _in_progress(f"Replicas: {replicas}/{spec_replicas}")
    if spec_replicas > ready:
        return _in_progress(f"Ready: {ready}/{spec_replicas}")
    if replicas > spec_replicas:
        return _in_progress(f"Pending termination: {replicas - spec_replicas}")
    if partition != -1:
        if updated < spec_replicas - partition:
            return _in_progress(f"updated: {updated}/{spec_replicas - partition}")
        return _current(f"Partition rollout complete. updated: {updated}")
    if spec_replicas > current:
        return _in_progress(f"current: {current}/{spec_replicas}")
    if _get_str(obj, "status.currentRevision", "") != _get_str(obj, "status.updateRevision", ""):
        return _in_progress("Waiting for updated revision to match current")
    return _current(f"All replicas scheduled as expected. Replicas: {replicas}")


def _replicaset(obj: Mapping[str, Any], _now: datetime) -> Status:
    if _condition_with_status(_conditions(obj), "ReplicaFailure", "True") is not None:
        return _in_progress("Replica Failure condition. Check Pods")

    spec_replicas = _get_int(obj, "spec.replicas", 1)
    replicas = _get_int(obj, "status.replicas", 0)
    ready = _get_int(obj, "status.readyReplicas", 0)
    available = _get_int(obj, "status.availableReplicas", 0)
    labelled = _get_int(obj, "status.fullyLabeledReplicas", 0)

    if spec_replicas > labelled:
        return _in_progress(f"Labelled: {labelled}/{spec_replicas}")
    if spec_replicas > available:
        return _in_progress(f"Available: {available}/{spec_replicas}")
    if spec_replicas > ready:
        return _in_progress(f"Ready: {ready}/{spec_replicas}")
    if replicas > spec_replicas:
        return _in_progress(f"Pending termination: {replicas - spec_replicas}")
    return _current(f"ReplicaSet is available. Replicas: {replicas}")


def _daemonset(obj: Mapping[str, Any], _now: datetime) -> Status:
    # The generic check skips unset generations; a DaemonSet the controller has seen has both.
    kind = _kind(obj)
    if _nested_int(obj, "metadata.generation") is None:
        return _in_progress(f"{kind} metadata.generation not found")
    if _nested_int(obj, "status.observedGeneration") is None:
        return _in_progress(f"{kind} status.observedGeneration not found")

    desired = _get_int(obj, "status.desiredNumberScheduled", -1)
    current = _get_int(obj, "status.currentNumberScheduled", 0)
    updated = _get_int(obj, "status.updatedNumberScheduled", 0)
    available = _get_int(obj, "status.numberAvailable", 0)
    ready = _get_int(obj, "status.numberReady", 0)

    if desired == -1:
        return _in_progress("Missing .status.desiredNumberScheduled")
    if desired > current:
        return _in_progress(f"Current: {current}/{desired}")
    if desired > updated:
        return _in_progress(f"Updated: {updated}/{desired}")
    if desired > available:
        return _in_progress(f"Available: {available}/{desired}")
    if desired > ready:
        return _in_progress(f"Ready: {ready}/{desired}")
    return _current(f"All replicas scheduled as expected. Replicas: {desired}")


def _pvc(obj: Mapping[str, Any], _now: datetime) -> Status:
    phase = _get_str(obj, "status.phase", "unknown")
    if phase != "Bound":
        return _in_progress(f"PVC is not Bound. phase: {phase}")
    return _current("PVC is Bound")


def _creation_time(obj: Mapping[str, Any]) -> datetime:
    """metadata.creationTimestamp; Go's zero time when absent or unparsable."""
    value = _lookup(obj, "metadata.creationTimestamp")
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return datetime(1, 1, 1, tzinfo=UTC)


def _crash_looping_containers(obj: Mapping[str, Any]) -> list[str]:
    statuses = _lookup(obj, "status.containerStatuses")
    names: list[str] = []
    if not isinstance(statuses, list):
        return names
    for entry in statuses:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("name")
        waiting = _lookup(entry, "state.waiting")
        if not isinstance(name, str) or not isinstance(waiting, Mapping):
            continue
        if waiting.get("reason") == "CrashLoopBackOff":
            names.append(name)
    return names


def _pod(obj: Mapping[str, Any], now: datetime) -> Status:
    conditions = _conditions(obj)
    phase = _get_str(obj, "status.phase", "")
    if phase == "Succeeded":
        return _current("Pod has completed successfully")
    if phase == "Failed":
        return _current("Pod has completed, but not successfully")
    if phase == "Running":
        if _condition_with_status(conditions, "Ready", "True") is not None:
            return _current("Pod is Ready")
        crashing = _crash_looping_containers(obj)
        if crashing:
            return _failed(f"Containers in CrashLoop state: {','.join(crashing)}")
        return _in_progress("Pod is running but is not Ready")
    if phase == "Pending":
        scheduled = _condition_with_status(conditions, "PodScheduled", "False")
        if scheduled is not None and scheduled.reason == "Unschedulable":
            if now - SCHEDULE_WINDOW < _creation_time(obj):
                return _in_progress("Pod has not been scheduled")
            return _failed("Pod could not be scheduled")
        return _in_progress("Pod is in the Pending phase")
    if phase == "":
        return _in_progress("Pod phase not available")
    raise _ComputeError(f"unknown phase {phase}")


def _pdb(_obj: Mapping[str, Any], _now: datetime) -> Status:
    # The generic generation check already established that the controller observed the PDB.
    return _current("AllowedDisruptions has been computed.")


def _service(obj: Mapping[str, Any], _now: datetime) -> Status:
    # kstatus only waits for the cluster IP of a LoadBalancer, not for status.loadBalancer.ingress.
    if _get_str(obj, "spec.type", "ClusterIP") == "LoadBalancer" and _get_str(obj, "spec.clusterIP", "") == "":
        return _in_progress("ClusterIP not set. Service type: LoadBalancer")
    return _current("Service is ready")


def _crd(obj: Mapping[str, Any], _now: datetime) -> Status:
    for condition in _conditions(obj):
        if condition.type == "NamesAccepted" and condition.status == "False":
            return _failed(condition.message)
        if condition.type == "Established":
            if condition.status == "False" and condition.reason != "Installing":
                return _failed(condition.message)
            if condition.status == "True":
                return _current("CRD is established")
    return _in_progress("Install in progress")


_HPA_EXPECTED: Final[dict[str, tuple[str, bool]]] = {
    # condition type: (expected status, optional)
    "AbleToScale": ("True", False),
    "ScalingActive": ("True", False),
    "ScalingLimited": ("False", True),
}


def _hpa(obj: Mapping[str, Any], _now: datetime) -> Status:
    pending = dict(_HPA_EXPECTED)
    for condition in _conditions(obj):
        expected = pending.pop(condition.type, None)
        if expected is not None and expected[0] != condition.status:
            return _failed(condition.message)
    missing = [name for name, (_, optional) in pending.items() if not optional]
    if missing:
        return Status(UNKNOWN, f"Missing conditions: {','.join(missing)}")
    return _current(f"HorizontalPodAutoscaler is current. Replicas: {_get_int(obj, 'status.currentReplicas', 0)}")


_KindRule = Callable[[Mapping[str, Any], datetime], Status]

#: kstatus's legacyTypes table, keyed "<group>/<Kind>" ("<Kind>" for the core group).
_LEGACY_RULES: Final[dict[str, _KindRule]] = {
    "Service": _service,
    "Pod": _pod,
    "Secret": _always_ready,
    "PersistentVolumeClaim": _pvc,
    "apps/StatefulSet": _statefulset,
    "apps/DaemonSet": _daemonset,
    "extensions/DaemonSet": _daemonset,
    "apps/Deployment": _deployment,
    "extensions/Deployment": _deployment,
    "apps/ReplicaSet": _replicaset,
    "extensions/ReplicaSet": _replicaset,
    "policy/PodDisruptionBudget": _pdb,
    "batch/CronJob": _always_ready,
    "ConfigMap": _always_ready,
    "autoscaling/HorizontalPodAutoscaler": _hpa,
    "apiextensions.k8s.io/CustomResourceDefinition": _crd,
}


def _flux_job(obj: Mapping[str, Any]) -> Status:
    """Flux's Job reader: Current only once Complete (no generic checks, unlike kstatus)."""
    parallelism = _get_int(obj, "spec.parallelism", 1)
    completions = _get_int(obj, "spec.completions", parallelism)
    succeeded = _get_int(obj, "status.succeeded", 0)
    failed = _get_int(obj, "status.failed", 0)
    for condition in _conditions(obj):
        if condition.type == "Complete" and condition.status == "True":
            return _current(f"Job Completed. succeeded: {succeeded}/{completions}")
        if condition.type == "Failed" and condition.status == "True":
            return _failed(f"Job Failed. failed: {failed}/{completions}")
    return _in_progress("Job in progress")


def _kstatus_compute(obj: Mapping[str, Any], now: datetime) -> Status:
    result = _check_generic(obj)
    if result is not None:
        return result
    group = api_group(_str_field(obj, "apiVersion"))
    kind = _kind(obj)
    if group is not None and kind:
        rule = _LEGACY_RULES.get(f"{group}/{kind}" if group else kind)
        if rule is not None:
            return rule(obj, now)
    result = _check_ready_condition(obj)
    if result is not None:
        return result
    return _current("Resource is current")


def compute_status(
    obj: Mapping[str, Any],
    *,
    custom: CustomStatusReader | None = None,
    now: datetime | None = None,
) -> Status:
    """The status kustomize-controller's poller reports for a live object.

    ``custom`` (the Kustomization's ``healthCheckExprs``) is consulted first; then Jobs use
    Flux's completion rule; everything else uses kstatus. Errors (malformed fields, an unknown
    Pod phase) give ``Unknown`` with ``error`` set. ``now`` is only used for the 15 s window in
    which an unschedulable Pod is still InProgress.
    """
    if custom is not None:
        result = custom.read(obj)
        if result is not None:
            return result
    try:
        if _kind(obj) == "Job" and api_group(_str_field(obj, "apiVersion")) == "batch":
            return _flux_job(obj)
        return _kstatus_compute(obj, now if now is not None else datetime.now(UTC))
    except _ComputeError as err:
        return Status(UNKNOWN, str(err), str(err))


# --------------------------------------------------------------------------------------------
# The wait loop (fluxcd/pkg ssa/manager_wait.go).


def format_object_id(kind: str, namespace: str | None, name: str) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped), as Flux prints objects."""
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def object_id(obj: Mapping[str, Any]) -> str:
    """:func:`format_object_id` for an object dict."""
    metadata = obj.get("metadata")
    meta: Mapping[str, Any] = metadata if isinstance(metadata, Mapping) else {}
    namespace = meta.get("namespace")
    name = meta.get("name")
    return format_object_id(
        _kind(obj), namespace if isinstance(namespace, str) else None, name if isinstance(name, str) else ""
    )


def is_job_with_ttl(obj: Mapping[str, Any]) -> bool:
    """A ``batch`` Job with ``spec.ttlSecondsAfterFinished`` (any value, 0 included).

    The TTL controller deletes such a Job after it finishes, so Flux counts its NotFound as
    success (``JobsWithTTL`` in ssa WaitOptions).
    """
    api_version = _str_field(obj, "apiVersion")
    return (
        _kind(obj) == "Job"
        and api_version.startswith("batch/")
        and _is_int(_lookup(obj, "spec.ttlSecondsAfterFinished"))
    )


K = TypeVar("K", bound=Hashable)


class Aggregate(NamedTuple, Generic[K]):
    """The state of a set of objects being waited for.

    ``failed`` lists the keys whose status is Failed; ``in_progress`` every other key that is
    not (effectively) Current — InProgress, Unknown, Terminating, NotFound, not yet observed.
    """

    all_current: bool
    failed: list[K]
    in_progress: list[K]

    def done(self, fail_fast: bool = True) -> bool:
        """Whether the wait can stop now.

        Flux stops when everything is Current, when only Current and Failed remain (a Failed
        object never becomes Current by itself), and — fail-fast, on unless the
        ``DisableFailFastBehavior`` gate is set — as soon as anything is Failed.
        """
        return self.all_current or not self.in_progress or (fail_fast and bool(self.failed))


def _effective(key: K, status: Status | None, jobs_with_ttl: Collection[K]) -> StatusValue | None:
    if status is None:
        return None
    if status.status == NOT_FOUND and key in jobs_with_ttl:
        return CURRENT
    return status.status


def aggregate(
    statuses: Mapping[K, Status | None],
    *,
    jobs_with_ttl: Collection[K] = (),
) -> Aggregate[K]:
    """Split the latest statuses (``None``: not observed yet) into current / failed / waiting.

    A NotFound key listed in ``jobs_with_ttl`` counts as Current. An empty set is all current.
    """
    failed: list[K] = []
    waiting: list[K] = []
    for key, status in statuses.items():
        effective = _effective(key, status, jobs_with_ttl)
        if effective == FAILED:
            failed.append(key)
        elif effective != CURRENT:
            waiting.append(key)
    return Aggregate(not failed and not waiting, failed, waiting)


def _describe(key: str, status: Status) -> str:
    text = f"{key} status: '{status.status}'"
    if status.error:
        text += f": {status.error}"
    return text


def wait_failure_message(
    statuses: Mapping[str, Status | None],
    *,
    timed_out: bool,
    jobs_with_ttl: Collection[str] = (),
) -> str | None:
    """Flux's error for a finished wait, or ``None`` if the wait succeeded.

    Keys are object ids (:func:`object_id`). Failed objects are always reported; on timeout
    every object that is not Current is. The message reads ``timeout waiting for: [...]`` or
    ``failed early due to stalled resources: [...]``; kustomize-controller prefixes it with
    ``health check failed after <duration>: ``.
    """
    errors: list[str] = []
    for key, status in statuses.items():
        if status is None:
            if key not in jobs_with_ttl:
                errors.append(f"can't determine status for {key}")
            continue
        if status.status == NOT_FOUND and key in jobs_with_ttl:
            continue
        if status.status == FAILED or (timed_out and status.status != CURRENT):
            errors.append(_describe(key, status))
    if not errors:
        return None
    prefix = "timeout waiting for" if timed_out else "failed early due to stalled resources"
    return f"{prefix}: [{', '.join(errors)}]"
