"""Status conditions of Flux objects, as plain dicts, with Flux's kstatus rules.

Every Flux object reports its state in ``status.conditions``: a list of metav1.Condition
objects (``type``, ``status``, ``observedGeneration``, ``lastTransitionTime``, ``reason``,
``message``). Tools such as ``flux get``, ``kubectl wait`` and kstatus-based health checks read
them, so headwater must write them exactly the way Flux does:

* ``Ready`` has positive polarity (True = good) and is always present once reconciled;
* ``Reconciling`` and ``Stalled`` have negative polarity and are present **only while True**;
  ``Reconciling`` (reason ``Progressing`` / ``ProgressingWithRetry``) while work is going on,
  ``Stalled`` when retrying cannot help; the two never coexist;
* ``lastTransitionTime`` (RFC 3339, whole seconds, UTC) changes only when ``status`` changes;
  ``observedGeneration`` is the object's generation at the time of the write;
* conditions are sorted Stalled, Reconciling, Ready, then the rest by type (as Flux sorts them).

All functions work on the list stored at ``status.conditions`` and modify it in place; the
object dicts come straight from the Kubernetes client. :func:`summarize` ports the decision
logic of Flux's summarize helper that derives ``Ready`` from the other conditions at the end
of a reconcile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from headwater.runtime.result import (
    ReconcileError,
    TerminalError,
    WaitingError,
    is_valid_reason,
)

__all__ = [
    "ACCESS_DENIED_REASON",
    "ARTIFACT_FAILED_REASON",
    "ARTIFACT_IN_STORAGE_CONDITION",
    "ARTIFACT_OUTDATED_CONDITION",
    "AUTHENTICATION_FAILED_REASON",
    "BUILD_FAILED_REASON",
    "DEPENDENCY_NOT_READY_REASON",
    "FAILED_REASON",
    "FETCH_FAILED_CONDITION",
    "HEALTHY_CONDITION",
    "HEALTH_CHECK_CANCELED_REASON",
    "HEALTH_CHECK_FAILED_REASON",
    "INCLUDE_UNAVAILABLE_CONDITION",
    "KSTATUS_NEGATIVE_POLARITY",
    "MAX_MESSAGE_LENGTH",
    "PROGRESSING_REASON",
    "PROGRESSING_WITH_RETRY_REASON",
    "PRUNE_FAILED_REASON",
    "READY_CONDITION",
    "RECONCILIATION_FAILED_REASON",
    "RECONCILIATION_SUCCEEDED_REASON",
    "RECONCILING_CONDITION",
    "SOURCE_VERIFIED_CONDITION",
    "STALLED_CONDITION",
    "STORAGE_OPERATION_FAILED_CONDITION",
    "SUCCEEDED_REASON",
    "SUSPENDED_REASON",
    "Summary",
    "conditions_of",
    "delete",
    "finalize",
    "format_time",
    "get",
    "get_message",
    "get_reason",
    "has",
    "is_false",
    "is_ready",
    "is_reconciling",
    "is_stalled",
    "is_true",
    "is_unknown",
    "kstatus_violations",
    "mark_false",
    "mark_not_ready",
    "mark_ready",
    "mark_ready_unknown",
    "mark_reconciling",
    "mark_stalled",
    "mark_true",
    "mark_unknown",
    "set_condition",
    "set_summary",
    "summarize",
    "truncate_message",
]

Status = Literal["True", "False", "Unknown"]
TRUE: Final = "True"
FALSE: Final = "False"
UNKNOWN: Final = "Unknown"
_STATUSES = frozenset({TRUE, FALSE, UNKNOWN})

# --------------------------------------------------------------------------- condition types
# fluxcd/pkg/apis/meta
READY_CONDITION: Final = "Ready"
RECONCILING_CONDITION: Final = "Reconciling"
STALLED_CONDITION: Final = "Stalled"
HEALTHY_CONDITION: Final = "Healthy"
# source-controller
ARTIFACT_IN_STORAGE_CONDITION: Final = "ArtifactInStorage"
ARTIFACT_OUTDATED_CONDITION: Final = "ArtifactOutdated"
SOURCE_VERIFIED_CONDITION: Final = "SourceVerified"
FETCH_FAILED_CONDITION: Final = "FetchFailed"
INCLUDE_UNAVAILABLE_CONDITION: Final = "IncludeUnavailable"
STORAGE_OPERATION_FAILED_CONDITION: Final = "StorageOperationFailed"
# helm-controller
RELEASED_CONDITION: Final = "Released"
TEST_SUCCESS_CONDITION: Final = "TestSuccess"
REMEDIATED_CONDITION: Final = "Remediated"

# --------------------------------------------------------------------------- reasons
# fluxcd/pkg/apis/meta
SUCCEEDED_REASON: Final = "Succeeded"
FAILED_REASON: Final = "Failed"
PROGRESSING_REASON: Final = "Progressing"
PROGRESSING_WITH_RETRY_REASON: Final = "ProgressingWithRetry"
SUSPENDED_REASON: Final = "Suspended"
RECONCILIATION_SUCCEEDED_REASON: Final = "ReconciliationSucceeded"
RECONCILIATION_FAILED_REASON: Final = "ReconciliationFailed"
DEPENDENCY_NOT_READY_REASON: Final = "DependencyNotReady"
ARTIFACT_FAILED_REASON: Final = "ArtifactFailed"
BUILD_FAILED_REASON: Final = "BuildFailed"
HEALTH_CHECK_FAILED_REASON: Final = "HealthCheckFailed"
HEALTH_CHECK_CANCELED_REASON: Final = "HealthCheckCanceled"
PRUNE_FAILED_REASON: Final = "PruneFailed"
INVALID_PATH_REASON: Final = "InvalidPath"
INVALID_URL_REASON: Final = "InvalidURL"
INSECURE_CONNECTIONS_DISALLOWED_REASON: Final = "InsecureConnectionsDisallowed"
UNSUPPORTED_CONNECTION_TYPE_REASON: Final = "UnsupportedConnectionType"
INVALID_CEL_EXPRESSION_REASON: Final = "InvalidCELExpression"
FEATURE_GATE_DISABLED_REASON: Final = "FeatureGateDisabled"
ACCESS_DENIED_REASON: Final = "AccessDenied"
# source-controller
AUTHENTICATION_FAILED_REASON: Final = "AuthenticationFailed"
URL_INVALID_REASON: Final = "URLInvalid"
VERIFICATION_ERROR_REASON: Final = "VerificationError"
GIT_OPERATION_FAILED_REASON: Final = "GitOperationFailed"
NEW_REVISION_REASON: Final = "NewRevision"
ARTIFACT_UP_TO_DATE_REASON: Final = "ArtifactUpToDate"
STAT_OPERATION_FAILED_REASON: Final = "StatOperationFailed"
READ_OPERATION_FAILED_REASON: Final = "ReadOperationFailed"
DIR_CREATION_FAILED_REASON: Final = "DirCreationFailed"
ACQUIRE_LOCK_FAILED_REASON: Final = "AcquireLockFailed"
ARCHIVE_OPERATION_FAILED_REASON: Final = "ArchiveOperationFailed"
SYMLINK_UPDATE_FAILED_REASON: Final = "SymlinkUpdateFailed"
PATCH_OPERATION_FAILED_REASON: Final = "PatchOperationFailed"

#: kstatus conditions that must only be present while True.
KSTATUS_NEGATIVE_POLARITY: Final = (STALLED_CONDITION, RECONCILING_CONDITION)

#: Longest condition message written (Flux APIs trim at 20000; metav1 allows 32768).
MAX_MESSAGE_LENGTH: Final = 20000
_TRUNCATION_MARKER = "..."

_TYPE_PATTERN = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
_SORT_WEIGHT = {STALLED_CONDITION: 0, RECONCILING_CONDITION: 1, READY_CONDITION: 2}

Condition = dict[str, Any]
Conditions = list[Condition]


# --------------------------------------------------------------------------- helpers


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with whole seconds, as metav1.Time serialises (``...T12:00:00Z``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def truncate_message(message: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """Shorten ``message`` to at most ``limit`` characters, marking the cut with ``...``."""
    if len(message) <= limit:
        return message
    if limit <= len(_TRUNCATION_MARKER):
        return message[:limit]
    return message[: limit - len(_TRUNCATION_MARKER)] + _TRUNCATION_MARKER


def conditions_of(obj: MutableMapping[str, Any]) -> Conditions:
    """The ``status.conditions`` list of an object dict, created empty if missing."""
    status = obj.get("status")
    if not isinstance(status, MutableMapping):
        status = {}
        obj["status"] = status
    conds = status.get("conditions")
    if not isinstance(conds, list):
        conds = []
        status["conditions"] = conds
    return conds


def _sort_key(cond: Condition) -> tuple[int, int, str]:
    weight = _SORT_WEIGHT.get(cond.get("type", ""))
    if weight is not None:
        return (weight, 0, "")
    generation = cond.get("observedGeneration", 0)
    return (
        len(_SORT_WEIGHT),
        -int(generation if isinstance(generation, int) else 0),
        str(cond.get("type", "")),
    )


def _sort(conds: Conditions) -> None:
    conds.sort(key=_sort_key)


# --------------------------------------------------------------------------- getters


def get(conds: Sequence[Condition], cond_type: str) -> Condition | None:
    """The condition of ``cond_type``, or None (the dict in the list, not a copy)."""
    for cond in conds:
        if cond.get("type") == cond_type:
            return cond
    return None


def has(conds: Sequence[Condition], cond_type: str) -> bool:
    return get(conds, cond_type) is not None


def _status(conds: Sequence[Condition], cond_type: str) -> str | None:
    cond = get(conds, cond_type)
    return None if cond is None else cond.get("status")


def is_true(conds: Sequence[Condition], cond_type: str) -> bool:
    return _status(conds, cond_type) == TRUE


def is_false(conds: Sequence[Condition], cond_type: str) -> bool:
    return _status(conds, cond_type) == FALSE


def is_unknown(conds: Sequence[Condition], cond_type: str) -> bool:
    """True if the condition is Unknown **or absent**."""
    status = _status(conds, cond_type)
    return status is None or status == UNKNOWN


def get_reason(conds: Sequence[Condition], cond_type: str) -> str:
    cond = get(conds, cond_type)
    return "" if cond is None else str(cond.get("reason", ""))


def get_message(conds: Sequence[Condition], cond_type: str) -> str:
    cond = get(conds, cond_type)
    return "" if cond is None else str(cond.get("message", ""))


def is_stalled(conds: Sequence[Condition]) -> bool:
    """Stalled=True and not Reconciling=True."""
    return is_true(conds, STALLED_CONDITION) and not is_true(conds, RECONCILING_CONDITION)


def is_reconciling(conds: Sequence[Condition]) -> bool:
    """Reconciling=True and not Stalled=True."""
    return is_true(conds, RECONCILING_CONDITION) and not is_true(conds, STALLED_CONDITION)


def is_ready(conds: Sequence[Condition]) -> bool:
    """Ready=True, and neither Stalled nor Reconciling."""
    return (
        is_true(conds, READY_CONDITION)
        and not is_true(conds, STALLED_CONDITION)
        and not is_true(conds, RECONCILING_CONDITION)
    )


# --------------------------------------------------------------------------- setters


def set_condition(
    conds: Conditions,
    cond_type: str,
    status: Status,
    reason: str,
    message: str,
    *,
    generation: int,
    now: datetime | None = None,
) -> bool:
    """Create or update the condition of ``cond_type``; returns whether anything changed.

    ``lastTransitionTime`` is set when the condition is created or its status, reason or message
    changes, and kept otherwise (Flux's ``conditions.Set``; a new observedGeneration alone keeps it).
    ``observedGeneration``, ``reason`` and ``message`` (truncated to :data:`MAX_MESSAGE_LENGTH`) are
    always written. Setting ``Reconciling`` or ``Stalled`` to
    anything but True removes the condition (kstatus negative polarity).
    """
    if not _TYPE_PATTERN.match(cond_type) or len(cond_type) > 316:
        raise ValueError(f"invalid condition type {cond_type!r}")
    if status not in _STATUSES:
        raise ValueError(f"invalid condition status {status!r}")
    if not is_valid_reason(reason):
        raise ValueError(f"invalid condition reason {reason!r}")
    if generation < 0:
        raise ValueError("generation must not be negative")
    if cond_type in KSTATUS_NEGATIVE_POLARITY and status != TRUE:
        return delete(conds, cond_type)

    message = truncate_message(message)
    existing = get(conds, cond_type)
    if existing is None:
        conds.append(
            {
                "type": cond_type,
                "status": status,
                "observedGeneration": generation,
                "lastTransitionTime": format_time(now or datetime.now(UTC)),
                "reason": reason,
                "message": message,
            }
        )
        _sort(conds)
        return True

    changed = False
    same_state = (existing.get("status"), existing.get("reason"), existing.get("message")) == (status, reason, message)
    if not same_state:
        existing["status"] = status
        existing["lastTransitionTime"] = format_time(now or datetime.now(UTC))
        changed = True
    elif "lastTransitionTime" not in existing:
        existing["lastTransitionTime"] = format_time(now or datetime.now(UTC))
        changed = True
    for field, value in (("observedGeneration", generation), ("reason", reason), ("message", message)):
        if existing.get(field) != value:
            existing[field] = value
            changed = True
    if changed:
        _sort(conds)
    return changed


def delete(conds: Conditions, cond_type: str) -> bool:
    """Remove the condition of ``cond_type``; returns whether it was present."""
    before = len(conds)
    conds[:] = [cond for cond in conds if cond.get("type") != cond_type]
    return len(conds) != before


def mark_true(
    conds: Conditions,
    cond_type: str,
    reason: str,
    message: str,
    *,
    generation: int,
    now: datetime | None = None,
) -> bool:
    return set_condition(conds, cond_type, TRUE, reason, message, generation=generation, now=now)


def mark_false(
    conds: Conditions,
    cond_type: str,
    reason: str,
    message: str,
    *,
    generation: int,
    now: datetime | None = None,
) -> bool:
    return set_condition(conds, cond_type, FALSE, reason, message, generation=generation, now=now)


def mark_unknown(
    conds: Conditions,
    cond_type: str,
    reason: str,
    message: str,
    *,
    generation: int,
    now: datetime | None = None,
) -> bool:
    return set_condition(conds, cond_type, UNKNOWN, reason, message, generation=generation, now=now)


def mark_reconciling(
    conds: Conditions, reason: str, message: str, *, generation: int, now: datetime | None = None
) -> bool:
    """Reconciling=True (usually ``Progressing``) and remove Stalled."""
    removed = delete(conds, STALLED_CONDITION)
    return mark_true(conds, RECONCILING_CONDITION, reason, message, generation=generation, now=now) or removed


def mark_stalled(
    conds: Conditions, reason: str, message: str, *, generation: int, now: datetime | None = None
) -> bool:
    """Stalled=True and remove Reconciling."""
    removed = delete(conds, RECONCILING_CONDITION)
    return mark_true(conds, STALLED_CONDITION, reason, message, generation=generation, now=now) or removed


def mark_ready(
    conds: Conditions,
    message: str,
    reason: str = RECONCILIATION_SUCCEEDED_REASON,
    *,
    generation: int,
    now: datetime | None = None,
) -> bool:
    """Ready=True."""
    return mark_true(conds, READY_CONDITION, reason, message, generation=generation, now=now)


def mark_not_ready(
    conds: Conditions, reason: str, message: str, *, generation: int, now: datetime | None = None
) -> bool:
    """Ready=False."""
    return mark_false(conds, READY_CONDITION, reason, message, generation=generation, now=now)


def mark_ready_unknown(
    conds: Conditions,
    message: str,
    reason: str = PROGRESSING_REASON,
    *,
    generation: int,
    now: datetime | None = None,
) -> bool:
    """Ready=Unknown (work in progress)."""
    return mark_unknown(conds, READY_CONDITION, reason, message, generation=generation, now=now)


def finalize(conds: Conditions, *, generation: int, now: datetime | None = None) -> bool:
    """End-of-reconcile cleanup used by the appliers (kustomize/helm style).

    Returns True when the generation counts as reconciled (Ready=True): the caller then sets
    ``status.observedGeneration``. If Ready=True, Reconciling and Stalled are removed; if
    Ready=False and Reconciling is still present, its reason becomes ``ProgressingWithRetry``.
    """
    if is_true(conds, READY_CONDITION):
        delete(conds, RECONCILING_CONDITION)
        delete(conds, STALLED_CONDITION)
        return True
    if is_false(conds, READY_CONDITION):
        reconciling = get(conds, RECONCILING_CONDITION)
        if reconciling is not None:
            set_condition(
                conds,
                RECONCILING_CONDITION,
                TRUE,
                PROGRESSING_WITH_RETRY_REASON,
                str(reconciling.get("message", "")),
                generation=generation,
                now=now,
            )
    return False


# --------------------------------------------------------------------------- summary


def _merge_priority(status: str, negative: bool) -> int:
    # True&negative (an abnormality) > False&positive (a failure) > True&positive > False&negative > Unknown
    if status == TRUE:
        return 0 if negative else 2
    if status == FALSE:
        return 3 if negative else 1
    return 4


def set_summary(
    conds: Conditions,
    target: str = READY_CONDITION,
    *,
    condition_types: Sequence[str] | None = None,
    negative_polarity: Iterable[str] = (),
    generation: int,
    now: datetime | None = None,
) -> bool:
    """Set ``target`` to the merge of the other conditions (Flux ``conditions.SetSummary``).

    The conditions in scope (``condition_types`` if given, else all but ``target``) are grouped
    by status and polarity; the most severe group decides: a True negative-polarity condition
    (e.g. FetchFailed=True) or a False positive one makes the target False; otherwise True
    positive conditions make it True; only Unknown conditions make it Unknown. Reason and
    message come from the first condition of that group in ``condition_types`` order. With no
    condition in scope nothing is written. Returns whether anything changed.
    """
    negatives = frozenset(negative_polarity)
    order = list(condition_types) if condition_types is not None else []
    in_scope = [
        cond
        for cond in conds
        if cond.get("type") != target and (condition_types is None or cond.get("type") in order)
    ]
    if not in_scope:
        return False
    best = min(_merge_priority(str(c.get("status")), c.get("type") in negatives) for c in in_scope)
    group = [c for c in in_scope if _merge_priority(str(c.get("status")), c.get("type") in negatives) == best]
    chosen = group[0]
    if len(group) > 1:
        by_type = {str(c.get("type")): c for c in group}
        chosen = next((by_type[t] for t in order if t in by_type), sorted(group, key=_sort_key)[0])
    group_status = str(chosen.get("status"))
    group_negative = chosen.get("type") in negatives
    target_negative = target in negatives
    status: Status
    if group_status == TRUE:
        status = FALSE if group_negative != target_negative else TRUE
    elif group_status == FALSE:
        status = TRUE if group_negative != target_negative else FALSE
    else:
        status = UNKNOWN
    reason = str(chosen.get("reason", "")) or (
        RECONCILIATION_FAILED_REASON if status == FALSE else SUCCEEDED_REASON
    )
    return set_condition(
        conds, target, status, reason, str(chosen.get("message", "")), generation=generation, now=now
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """What :func:`summarize` concluded.

    ``error`` is what the controller loop should treat as the reconcile error: None for success,
    a Stalled end or a wait; the original error for failures; and a :class:`ReconcileError`
    built from Ready when the reconcile "succeeded" but Ready is not True (so it is retried).
    ``observed`` tells whether ``status.observedGeneration`` may be set to the generation.
    """

    ready: bool
    stalled: bool
    observed: bool
    error: BaseException | None


def summarize(
    conds: Conditions,
    *,
    generation: int,
    condition_types: Sequence[str],
    negative_polarity: Iterable[str] = KSTATUS_NEGATIVE_POLARITY,
    bipolarity: Sequence[str] = (),
    error: BaseException | None = None,
    requeue: bool = False,
    now: datetime | None = None,
) -> Summary:
    """Finish a reconcile the way Flux's source-controller summarize helper does.

    ``error`` is the exception the reconcile ended with (None on success) and ``requeue``
    whether it asked to be re-queued before the work was complete.

    1. Success without requeue removes Reconciling; Reconciling still present means a retry,
       so its reason becomes ``ProgressingWithRetry``.
    2. A :class:`TerminalError` marks Stalled (reason and message from the error) and ends
       retries; any other outcome removes Stalled.
    3. Ready is set to the summary of ``condition_types`` (:func:`set_summary`), then overridden
       by the first False condition among ``bipolarity`` (e.g. SourceVerified).
    4. A non-stalled success whose Ready is not True is turned into an error so it is retried.
    """
    success = error is None and not requeue
    if success:
        delete(conds, RECONCILING_CONDITION)
    reconciling = get(conds, RECONCILING_CONDITION)
    if reconciling is not None and not is_true(conds, STALLED_CONDITION):
        set_condition(
            conds,
            RECONCILING_CONDITION,
            TRUE,
            PROGRESSING_WITH_RETRY_REASON,
            str(reconciling.get("message", "")),
            generation=generation,
            now=now,
        )

    result_error: BaseException | None = error
    observed = False
    if isinstance(error, TerminalError):
        mark_stalled(conds, error.reason, error.message, generation=generation, now=now)
        result_error = None
        observed = True
    else:
        delete(conds, STALLED_CONDITION)
        if isinstance(error, WaitingError):
            result_error = None
            observed = not requeue
        elif error is None:
            observed = not requeue

    set_summary(
        conds,
        READY_CONDITION,
        condition_types=condition_types,
        negative_polarity=negative_polarity,
        generation=generation,
        now=now,
    )
    for cond_type in bipolarity:
        failed = get(conds, cond_type)
        if failed is not None and failed.get("status") == FALSE:
            mark_not_ready(
                conds,
                str(failed.get("reason", "")) or RECONCILIATION_FAILED_REASON,
                str(failed.get("message", "")),
                generation=generation,
                now=now,
            )
            break

    stalled = is_stalled(conds)
    ready = is_ready(conds)
    if not stalled and result_error is None and success and not ready:
        result_error = ReconcileError(
            get_reason(conds, READY_CONDITION) or RECONCILIATION_FAILED_REASON,
            get_message(conds, READY_CONDITION) or "reconciliation did not result in Ready=True",
        )
    return Summary(ready=ready, stalled=stalled, observed=observed, error=result_error)


# --------------------------------------------------------------------------- checks


def kstatus_violations(conds: Sequence[Condition], *, generation: int | None = None) -> list[str]:
    """Human-readable breaches of the kstatus/Flux condition rules (empty when consistent)."""
    problems: list[str] = []
    seen: set[str] = set()
    for cond in conds:
        cond_type = str(cond.get("type", ""))
        if cond_type in seen:
            problems.append(f"duplicate condition type {cond_type}")
        seen.add(cond_type)
        if cond.get("status") not in _STATUSES:
            problems.append(f"{cond_type} has invalid status {cond.get('status')!r}")
        if cond_type in KSTATUS_NEGATIVE_POLARITY and cond.get("status") != TRUE:
            problems.append(
                f"{cond_type} is present with status {cond.get('status')}, must be removed instead"
            )
        if not is_valid_reason(str(cond.get("reason", ""))):
            problems.append(f"{cond_type} has invalid reason {cond.get('reason')!r}")
        if generation is not None and cond.get("observedGeneration") not in (None, generation):
            problems.append(
                f"{cond_type} observedGeneration {cond.get('observedGeneration')} != generation {generation}"
            )
    if is_true(conds, STALLED_CONDITION) and is_true(conds, RECONCILING_CONDITION):
        problems.append("Stalled and Reconciling are both True")
    if is_true(conds, READY_CONDITION) and (
        is_true(conds, STALLED_CONDITION) or is_true(conds, RECONCILING_CONDITION)
    ):
        problems.append("Ready is True while Stalled or Reconciling is True")
    return problems
