"""Unit tests for headwater.runtime.conditions (metav1.Condition dicts, kstatus rules)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from headwater.runtime import conditions as c
from headwater.runtime.result import ReconcileError, TerminalError, WaitingError

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 1, 12, 0, 0, 987654, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

SOURCE_SUMMARY = [
    c.STORAGE_OPERATION_FAILED_CONDITION,
    c.FETCH_FAILED_CONDITION,
    c.INCLUDE_UNAVAILABLE_CONDITION,
    c.ARTIFACT_OUTDATED_CONDITION,
    c.ARTIFACT_IN_STORAGE_CONDITION,
    c.SOURCE_VERIFIED_CONDITION,
    c.STALLED_CONDITION,
    c.RECONCILING_CONDITION,
]
SOURCE_NEGATIVE = [
    c.STORAGE_OPERATION_FAILED_CONDITION,
    c.FETCH_FAILED_CONDITION,
    c.INCLUDE_UNAVAILABLE_CONDITION,
    c.ARTIFACT_OUTDATED_CONDITION,
    c.STALLED_CONDITION,
    c.RECONCILING_CONDITION,
]


def cond(
    type_: str, status: str, reason: str = "R", message: str = "", generation: int = 1
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "observedGeneration": generation,
        "lastTransitionTime": "2020-01-01T00:00:00Z",
        "reason": reason,
        "message": message,
    }


# --------------------------------------------------------------------------- constants


@pytest.mark.parametrize(
    ("constant", "value"),
    [
        (c.READY_CONDITION, "Ready"),
        (c.RECONCILING_CONDITION, "Reconciling"),
        (c.STALLED_CONDITION, "Stalled"),
        (c.HEALTHY_CONDITION, "Healthy"),
        (c.ARTIFACT_IN_STORAGE_CONDITION, "ArtifactInStorage"),
        (c.ARTIFACT_OUTDATED_CONDITION, "ArtifactOutdated"),
        (c.SOURCE_VERIFIED_CONDITION, "SourceVerified"),
        (c.FETCH_FAILED_CONDITION, "FetchFailed"),
        (c.INCLUDE_UNAVAILABLE_CONDITION, "IncludeUnavailable"),
        (c.STORAGE_OPERATION_FAILED_CONDITION, "StorageOperationFailed"),
        (c.PROGRESSING_REASON, "Progressing"),
        (c.PROGRESSING_WITH_RETRY_REASON, "ProgressingWithRetry"),
        (c.RECONCILIATION_SUCCEEDED_REASON, "ReconciliationSucceeded"),
        (c.RECONCILIATION_FAILED_REASON, "ReconciliationFailed"),
        (c.DEPENDENCY_NOT_READY_REASON, "DependencyNotReady"),
        (c.ARTIFACT_FAILED_REASON, "ArtifactFailed"),
        (c.BUILD_FAILED_REASON, "BuildFailed"),
        (c.HEALTH_CHECK_FAILED_REASON, "HealthCheckFailed"),
        (c.PRUNE_FAILED_REASON, "PruneFailed"),
        (c.AUTHENTICATION_FAILED_REASON, "AuthenticationFailed"),
        (c.SUCCEEDED_REASON, "Succeeded"),
        (c.FAILED_REASON, "Failed"),
        (c.SUSPENDED_REASON, "Suspended"),
        (c.ACCESS_DENIED_REASON, "AccessDenied"),
    ],
)
def test_constants(constant: str, value: str) -> None:
    assert constant == value


# --------------------------------------------------------------------------- set / get


def test_set_creates_full_condition() -> None:
    conds: list[dict[str, Any]] = []
    assert c.set_condition(conds, "Ready", "True", "Succeeded", "all good", generation=3, now=T0) is True
    assert conds == [
        {
            "type": "Ready",
            "status": "True",
            "observedGeneration": 3,
            "lastTransitionTime": "2024-05-01T12:00:00Z",
            "reason": "Succeeded",
            "message": "all good",
        }
    ]
    assert RFC3339.match(conds[0]["lastTransitionTime"])


def test_set_uses_current_time_by_default() -> None:
    conds: list[dict[str, Any]] = []
    c.mark_ready(conds, "ok", generation=1)
    assert RFC3339.match(conds[0]["lastTransitionTime"])


@pytest.mark.parametrize(
    ("before", "after", "reason", "message", "generation", "transition"),
    [
        pytest.param("True", "True", "Succeeded", "same", 1, False, id="no-change"),
        pytest.param("True", "True", "Other", "same", 1, True, id="reason-only"),
        pytest.param("True", "True", "Succeeded", "new msg", 1, True, id="message-only"),
        pytest.param("True", "True", "Succeeded", "same", 2, False, id="generation-only"),
        pytest.param("True", "False", "Failed", "x", 1, True, id="true-to-false"),
        pytest.param("False", "Unknown", "Progressing", "x", 1, True, id="false-to-unknown"),
        pytest.param("Unknown", "True", "Succeeded", "x", 2, True, id="unknown-to-true"),
    ],
)
def test_last_transition_time_changes_with_status_reason_or_message(
    before: str, after: str, reason: str, message: str, generation: int, transition: bool
) -> None:
    conds: list[dict[str, Any]] = []
    c.set_condition(conds, "Ready", before, "Succeeded", "same", generation=1, now=T0)  # type: ignore[arg-type]
    c.set_condition(conds, "Ready", after, reason, message, generation=generation, now=T1)  # type: ignore[arg-type]
    ready = c.get(conds, "Ready")
    assert ready is not None
    expected = c.format_time(T1 if transition else T0)
    assert ready["lastTransitionTime"] == expected
    assert ready["status"] == after
    assert ready["reason"] == reason
    assert ready["message"] == message
    assert ready["observedGeneration"] == generation


def test_set_reports_whether_anything_changed() -> None:
    conds: list[dict[str, Any]] = []
    assert c.mark_ready(conds, "ok", generation=1, now=T0)
    assert not c.mark_ready(conds, "ok", generation=1, now=T1)
    assert c.mark_ready(conds, "ok", generation=2, now=T1)
    assert c.mark_ready(conds, "changed", generation=2, now=T1)


def test_set_repairs_missing_transition_time() -> None:
    conds = [cond("Ready", "True", "Succeeded", "ok")]
    del conds[0]["lastTransitionTime"]
    assert c.mark_ready(conds, "ok", "Succeeded", generation=1, now=T0)
    assert conds[0]["lastTransitionTime"] == "2024-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cond_type": "bad type"}, "type"),
        ({"cond_type": ""}, "type"),
        ({"status": "Yes"}, "status"),
        ({"reason": "bad reason"}, "reason"),
        ({"reason": ""}, "reason"),
        ({"generation": -1}, "generation"),
    ],
)
def test_set_validates(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "cond_type": "Ready",
        "status": "True",
        "reason": "Succeeded",
        "message": "",
        "generation": 1,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        c.set_condition([], **args)


def test_domain_prefixed_type_allowed() -> None:
    conds: list[dict[str, Any]] = []
    c.mark_true(conds, "example.com/Custom", "Ok", "", generation=1)
    assert c.is_true(conds, "example.com/Custom")


def test_message_truncated() -> None:
    conds: list[dict[str, Any]] = []
    c.mark_not_ready(conds, "BuildFailed", "x" * 50_000, generation=1)
    message = c.get_message(conds, "Ready")
    assert len(message) == c.MAX_MESSAGE_LENGTH
    assert message.endswith("...")
    assert c.truncate_message("short") == "short"
    assert c.truncate_message("abcdef", 2) == "ab"


def test_format_time_normalises_to_utc_seconds() -> None:
    assert c.format_time(datetime(2024, 1, 2, 3, 4, 5, 999999)) == "2024-01-02T03:04:05Z"
    plus_two = timezone(timedelta(hours=2))
    assert c.format_time(datetime(2024, 1, 2, 5, 4, 5, tzinfo=plus_two)) == "2024-01-02T03:04:05Z"


def test_getters_and_delete() -> None:
    conds = [cond("Ready", "False", "BuildFailed", "kustomize build failed"), cond("Healthy", "True")]
    assert c.has(conds, "Ready")
    assert c.is_false(conds, "Ready")
    assert not c.is_true(conds, "Ready")
    assert c.is_true(conds, "Healthy")
    assert c.is_unknown(conds, "Missing")
    assert not c.is_false(conds, "Missing")
    assert c.get_reason(conds, "Ready") == "BuildFailed"
    assert c.get_message(conds, "Ready") == "kustomize build failed"
    assert c.get_reason(conds, "Missing") == ""
    assert c.get_message(conds, "Missing") == ""
    assert c.delete(conds, "Healthy") is True
    assert c.delete(conds, "Healthy") is False
    assert [x["type"] for x in conds] == ["Ready"]


def test_conditions_of_creates_list_in_object() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "x"}}
    conds = c.conditions_of(obj)
    c.mark_ready(conds, "ok", generation=1)
    assert obj["status"]["conditions"][0]["type"] == "Ready"
    assert c.conditions_of(obj) is conds
    obj2: dict[str, Any] = {"status": None}
    assert c.conditions_of(obj2) == []


def test_conditions_sorted_like_flux() -> None:
    conds: list[dict[str, Any]] = []
    c.mark_true(conds, "ArtifactInStorage", "Succeeded", "", generation=2)
    c.mark_true(conds, "FetchFailed", "AuthenticationFailed", "", generation=2)
    c.mark_true(conds, "Alpha", "X", "", generation=1)
    c.mark_not_ready(conds, "AuthenticationFailed", "", generation=2)
    c.mark_reconciling(conds, "Progressing", "", generation=2)
    assert [x["type"] for x in conds] == ["Reconciling", "Ready", "ArtifactInStorage", "FetchFailed", "Alpha"]
    c.mark_stalled(conds, "InvalidURL", "", generation=2)
    assert [x["type"] for x in conds][:2] == ["Stalled", "Ready"]


# --------------------------------------------------------------------------- kstatus polarity


@pytest.mark.parametrize("cond_type", ["Reconciling", "Stalled"])
@pytest.mark.parametrize("status", ["False", "Unknown"])
def test_negative_polarity_present_only_when_true(cond_type: str, status: str) -> None:
    conds: list[dict[str, Any]] = []
    c.mark_true(conds, cond_type, "Progressing", "working", generation=1)
    assert c.has(conds, cond_type)
    assert c.set_condition(conds, cond_type, status, "Done", "", generation=1) is True  # type: ignore[arg-type]
    assert not c.has(conds, cond_type)
    assert c.set_condition(conds, cond_type, status, "Done", "", generation=1) is False  # type: ignore[arg-type]
    assert c.kstatus_violations(conds) == []


def test_mark_reconciling_removes_stalled_and_vice_versa() -> None:
    conds: list[dict[str, Any]] = []
    c.mark_stalled(conds, "InvalidURL", "bad url", generation=1)
    assert c.is_stalled(conds)
    c.mark_reconciling(conds, "Progressing", "reconciliation in progress", generation=2)
    assert c.is_reconciling(conds)
    assert not c.has(conds, "Stalled")
    c.mark_stalled(conds, "InvalidURL", "bad url", generation=2)
    assert not c.has(conds, "Reconciling")
    assert c.kstatus_violations(conds, generation=2) == []


def test_ready_helpers() -> None:
    conds: list[dict[str, Any]] = []
    c.mark_ready_unknown(conds, "reconciliation in progress", generation=1)
    assert c.get_reason(conds, "Ready") == "Progressing"
    assert c.is_unknown(conds, "Ready")
    c.mark_ready(conds, "Applied revision: main@sha1:abc", generation=1)
    assert c.is_ready(conds)
    assert c.get_reason(conds, "Ready") == "ReconciliationSucceeded"
    c.mark_reconciling(conds, "Progressing", "", generation=2)
    assert not c.is_ready(conds), "Ready=True is not ready while Reconciling"
    c.mark_not_ready(conds, "HealthCheckFailed", "timeout", generation=2)
    assert not c.is_ready(conds)


@pytest.mark.parametrize(
    ("conds", "expected"),
    [
        pytest.param([cond("Ready", "True")], [], id="clean"),
        pytest.param([cond("Reconciling", "False")], ["must be removed"], id="reconciling-false"),
        pytest.param([cond("Stalled", "Unknown")], ["must be removed"], id="stalled-unknown"),
        pytest.param(
            [cond("Stalled", "True"), cond("Reconciling", "True")],
            ["both True"],
            id="stalled-and-reconciling",
        ),
        pytest.param(
            [cond("Ready", "True"), cond("Reconciling", "True")],
            ["Ready is True"],
            id="ready-while-reconciling",
        ),
        pytest.param([cond("Ready", "True"), cond("Ready", "False")], ["duplicate"], id="duplicate"),
        pytest.param([cond("Ready", "Maybe")], ["invalid status"], id="bad-status"),
        pytest.param([cond("Ready", "True", reason="bad reason")], ["invalid reason"], id="bad-reason"),
        pytest.param([cond("Ready", "True", generation=1)], ["observedGeneration"], id="stale-generation"),
    ],
)
def test_kstatus_violations(conds: list[dict[str, Any]], expected: list[str]) -> None:
    generation = 2 if expected == ["observedGeneration"] else 1
    problems = c.kstatus_violations(conds, generation=generation)
    if not expected:
        assert problems == []
    for fragment in expected:
        assert any(fragment in p for p in problems), problems


# --------------------------------------------------------------------------- set_summary


@pytest.mark.parametrize(
    ("present", "status", "reason"),
    [
        pytest.param(
            [
                cond("FetchFailed", "True", "AuthenticationFailed"),
                cond("ArtifactInStorage", "True", "Succeeded"),
            ],
            "False",
            "AuthenticationFailed",
            id="negative-true-wins",
        ),
        pytest.param(
            [cond("ArtifactInStorage", "True", "Succeeded")], "True", "Succeeded", id="positive-true"
        ),
        pytest.param(
            [
                cond("SourceVerified", "False", "VerificationError"),
                cond("ArtifactInStorage", "True", "Succeeded"),
            ],
            "False",
            "VerificationError",
            id="positive-false",
        ),
        pytest.param(
            [
                cond("ArtifactOutdated", "True", "NewRevision"),
                cond("FetchFailed", "True", "GitOperationFailed"),
            ],
            "False",
            "GitOperationFailed",
            id="priority-order-decides",
        ),
        pytest.param(
            [
                cond("Reconciling", "True", "ProgressingWithRetry"),
                cond("ArtifactInStorage", "True", "Succeeded"),
            ],
            "False",
            "ProgressingWithRetry",
            id="reconciling-makes-not-ready",
        ),
        pytest.param(
            [
                cond("StorageOperationFailed", "True", "ArchiveOperationFailed"),
                cond("Stalled", "True", "InvalidURL"),
            ],
            "False",
            "ArchiveOperationFailed",
            id="first-in-order",
        ),
        pytest.param(
            [cond("ArtifactOutdated", "False", "UpToDate")], "True", "UpToDate", id="negative-false-inverts"
        ),
        pytest.param(
            [cond("ArtifactInStorage", "Unknown", "Progressing")], "Unknown", "Progressing", id="unknown"
        ),
    ],
)
def test_set_summary(present: list[dict[str, Any]], status: str, reason: str) -> None:
    conds = list(present)
    assert c.set_summary(
        conds, condition_types=SOURCE_SUMMARY, negative_polarity=SOURCE_NEGATIVE, generation=1, now=T0
    )
    assert c.get(conds, "Ready") is not None
    assert c.get(conds, "Ready")["status"] == status  # type: ignore[index]
    assert c.get_reason(conds, "Ready") == reason


def test_set_summary_copies_message_and_ignores_out_of_scope() -> None:
    conds = [
        cond("FetchFailed", "True", "AuthenticationFailed", "bad creds"),
        cond("Custom", "False", "Nope"),
    ]
    c.set_summary(conds, condition_types=SOURCE_SUMMARY, negative_polarity=SOURCE_NEGATIVE, generation=1)
    assert c.get_message(conds, "Ready") == "bad creds"
    only_custom = [cond("Custom", "False", "Nope")]
    assert not c.set_summary(only_custom, condition_types=SOURCE_SUMMARY, generation=1)
    assert not c.has(only_custom, "Ready")


def test_set_summary_without_types_uses_all_but_target() -> None:
    conds = [cond("Ready", "True", "Old"), cond("Healthy", "False", "HealthCheckFailed", "deploy not ready")]
    c.set_summary(conds, generation=1)
    assert c.is_false(conds, "Ready")
    assert c.get_reason(conds, "Ready") == "HealthCheckFailed"


# --------------------------------------------------------------------------- summarize


def start_reconcile(conds: list[dict[str, Any]], generation: int) -> None:
    c.mark_reconciling(conds, "Progressing", "building artifact", generation=generation, now=T0)
    c.mark_ready_unknown(conds, "building artifact", generation=generation, now=T0)


def run_summarize(
    conds: list[dict[str, Any]], error: BaseException | None = None, requeue: bool = False
) -> c.Summary:
    return c.summarize(
        conds,
        generation=2,
        condition_types=SOURCE_SUMMARY,
        negative_polarity=SOURCE_NEGATIVE,
        bipolarity=[c.SOURCE_VERIFIED_CONDITION],
        error=error,
        requeue=requeue,
        now=T1,
    )


def test_summarize_success() -> None:
    conds: list[dict[str, Any]] = [cond("Stalled", "True", "InvalidURL", generation=1)]
    start_reconcile(conds, 2)
    c.mark_true(
        conds, "ArtifactInStorage", "Succeeded", "stored artifact for revision 'main@sha1:abc'", generation=2
    )
    summary = run_summarize(conds)
    assert summary == c.Summary(ready=True, stalled=False, observed=True, error=None)
    assert [x["type"] for x in conds] == ["Ready", "ArtifactInStorage"]
    assert c.get_message(conds, "Ready") == "stored artifact for revision 'main@sha1:abc'"
    assert c.kstatus_violations(conds, generation=2) == []


def test_summarize_retryable_error() -> None:
    conds: list[dict[str, Any]] = []
    start_reconcile(conds, 2)
    c.mark_true(conds, "FetchFailed", "AuthenticationFailed", "failed to authenticate", generation=2)
    error = ReconcileError("AuthenticationFailed", "failed to authenticate")
    summary = run_summarize(conds, error)
    assert summary.error is error
    assert not summary.ready
    assert not summary.stalled
    assert not summary.observed
    assert c.get_reason(conds, "Reconciling") == "ProgressingWithRetry"
    assert c.is_false(conds, "Ready")
    assert c.get_reason(conds, "Ready") == "AuthenticationFailed"
    assert c.kstatus_violations(conds, generation=2) == []


def test_summarize_terminal_error_stalls() -> None:
    conds: list[dict[str, Any]] = []
    start_reconcile(conds, 2)
    summary = run_summarize(conds, TerminalError("InvalidURL", "scheme 'ftp' is not supported"))
    assert summary.error is None, "a terminal error must not be retried"
    assert summary.stalled
    assert summary.observed
    assert not summary.ready
    assert not c.has(conds, "Reconciling")
    assert c.get_reason(conds, "Stalled") == "InvalidURL"
    assert c.is_false(conds, "Ready")
    assert c.get_reason(conds, "Ready") == "InvalidURL"
    assert c.kstatus_violations(conds, generation=2) == []


def test_summarize_waiting() -> None:
    conds: list[dict[str, Any]] = [cond("Stalled", "True", "InvalidURL")]
    summary = run_summarize(conds, WaitingError("DependencyNotReady", "dependency not ready", 30))
    assert summary.error is None
    assert summary.observed
    assert not c.has(conds, "Stalled")


def test_summarize_requeue_keeps_reconciling_with_retry() -> None:
    conds: list[dict[str, Any]] = []
    start_reconcile(conds, 2)
    summary = run_summarize(conds, requeue=True)
    assert summary.error is None
    assert not summary.observed
    assert c.get_reason(conds, "Reconciling") == "ProgressingWithRetry"
    assert c.is_false(conds, "Ready")


def test_summarize_bipolarity_overrides_ready_and_turns_success_into_error() -> None:
    conds: list[dict[str, Any]] = []
    start_reconcile(conds, 2)
    c.mark_true(conds, "ArtifactInStorage", "Succeeded", "stored", generation=2)
    c.mark_false(conds, "SourceVerified", "VerificationError", "signature verification failed", generation=2)
    summary = run_summarize(conds)
    assert c.is_false(conds, "Ready")
    assert c.get_reason(conds, "Ready") == "VerificationError"
    assert isinstance(summary.error, ReconcileError)
    assert summary.error.reason == "VerificationError"
    assert str(summary.error) == "signature verification failed"


def test_summarize_generic_exception_is_kept() -> None:
    conds: list[dict[str, Any]] = [cond("Stalled", "True", "InvalidURL")]
    boom = RuntimeError("boom")
    summary = run_summarize(conds, boom)
    assert summary.error is boom
    assert not c.has(conds, "Stalled")


# --------------------------------------------------------------------------- finalize


def test_finalize_ready_true_removes_reconciling() -> None:
    conds: list[dict[str, Any]] = []
    c.mark_reconciling(conds, "Progressing", "", generation=3)
    c.mark_ready(conds, "Applied revision: main@sha1:abc", generation=3)
    assert c.finalize(conds, generation=3) is True
    assert [x["type"] for x in conds] == ["Ready"]


def test_finalize_ready_false_sets_retry_reason() -> None:
    conds: list[dict[str, Any]] = []
    c.mark_reconciling(conds, "Progressing", "applying", generation=3)
    c.mark_not_ready(conds, "BuildFailed", "kustomize build failed", generation=3)
    assert c.finalize(conds, generation=3) is False
    assert c.get_reason(conds, "Reconciling") == "ProgressingWithRetry"
    assert c.get_message(conds, "Reconciling") == "applying"


def test_finalize_without_ready() -> None:
    conds: list[dict[str, Any]] = []
    assert c.finalize(conds, generation=1) is False
    assert conds == []
