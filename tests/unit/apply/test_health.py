"""Unit tests for headwater.apply.health: kstatus per-kind rules (table-driven) and the wait helpers.

The cases live in ``health_cases/*.yaml`` (object + expected status + message), one file per
kind family, so that a rule and its realistic objects read side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.apply.health import (
    CURRENT,
    FAILED,
    IN_PROGRESS,
    NOT_FOUND,
    NOT_FOUND_STATUS,
    TERMINATING,
    UNKNOWN,
    Aggregate,
    Status,
    aggregate,
    api_group,
    compute_status,
    format_object_id,
    is_job_with_ttl,
    object_id,
    wait_failure_message,
)

pytestmark = pytest.mark.unit

CASES_DIR = Path(__file__).parent / "health_cases"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _load_cases() -> list[Any]:
    params: list[Any] = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        if path.name == "cel.yaml":
            continue
        for case in yaml.safe_load(path.read_text()):
            params.append(pytest.param(case, id=f"{path.stem}:{case['name']}"))
    return params


CASES = _load_cases()


def _clock(case: Mapping[str, Any]) -> datetime:
    raw = case.get("now")
    if raw is None:
        return NOW
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))


def test_case_table_is_large_and_names_are_unique() -> None:
    names = [param.values[0]["name"] for param in CASES]
    assert len(names) >= 40
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES)
def test_compute_status(case: dict[str, Any]) -> None:
    expected = case["expected"]
    result = compute_status(case["object"], now=_clock(case))
    assert result.status == expected["status"]
    assert result.message == expected.get("message", "")
    if expected.get("error"):
        assert result.error == result.message
    else:
        assert result.error is None


def test_unquoted_yaml_timestamps_are_understood() -> None:
    # PyYAML turns unquoted RFC 3339 values into datetimes; the API server never does, but
    # fixtures and tests do.
    obj = yaml.safe_load(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, creationTimestamp: 2024-05-01T12:00:00Z}
        status:
          phase: Pending
          conditions: [{type: PodScheduled, status: "False", reason: Unschedulable}]
        """
    )
    assert compute_status(obj, now=NOW).status == IN_PROGRESS
    deleted = yaml.safe_load(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, deletionTimestamp: 2024-05-01T12:00:00Z}"
    )
    assert compute_status(deleted).status == TERMINATING


def test_unschedulable_window_boundary() -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "creationTimestamp": "2024-05-01T12:00:00Z"},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
        },
    }
    assert compute_status(pod, now=datetime(2024, 5, 1, 12, 0, 14, tzinfo=UTC)).status == IN_PROGRESS
    assert compute_status(pod, now=datetime(2024, 5, 1, 12, 0, 15, tzinfo=UTC)).status == FAILED
    del pod["metadata"]["creationTimestamp"]  # Go's zero time: long ago
    assert compute_status(pod, now=NOW).status == FAILED


def test_extensions_group_workloads_use_the_same_rules() -> None:
    deployment = {
        "apiVersion": "extensions/v1beta1",
        "kind": "Deployment",
        "metadata": {"name": "old"},
        "spec": {"replicas": 2},
        "status": {"replicas": 1},
    }
    assert compute_status(deployment) == Status(IN_PROGRESS, "Replicas: 1/2")


def test_generic_condition_order_first_match_wins() -> None:
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "status": {
            "conditions": [
                {"type": "Stalled", "status": "True", "message": "broken"},
                {"type": "Reconciling", "status": "True", "message": "working"},
            ]
        },
    }
    assert compute_status(obj) == Status(FAILED, "broken")


class _Reader:
    def __init__(self, result: Status | None) -> None:
        self.result = result
        self.seen: list[Mapping[str, Any]] = []

    def read(self, obj: Mapping[str, Any]) -> Status | None:
        self.seen.append(obj)
        return self.result


def test_custom_reader_takes_precedence_and_can_decline() -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert compute_status(configmap, custom=_Reader(Status(FAILED, "custom"))) == Status(FAILED, "custom")
    declining = _Reader(None)
    assert compute_status(configmap, custom=declining) == Status(CURRENT, "Resource is always ready")
    assert declining.seen == [configmap]


@pytest.mark.parametrize(
    ("api_version", "group"),
    [
        ("v1", ""),
        ("apps/v1", "apps"),
        ("", ""),
        ("kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io"),
        ("a/b/c", None),
    ],
)
def test_api_group(api_version: str, group: str | None) -> None:
    assert api_group(api_version) == group


def test_object_ids() -> None:
    assert format_object_id("Deployment", "apps", "podinfo") == "Deployment/apps/podinfo"
    assert format_object_id("Namespace", None, "apps") == "Namespace/apps"
    assert format_object_id("ClusterRole", "", "view") == "ClusterRole/view"
    assert object_id({"kind": "Service", "metadata": {"name": "s", "namespace": "n"}}) == "Service/n/s"
    assert object_id({"kind": "Namespace", "metadata": {"name": "apps"}}) == "Namespace/apps"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"apiVersion": "batch/v1", "kind": "Job", "spec": {"ttlSecondsAfterFinished": 0}}, True),
        ({"apiVersion": "batch/v1", "kind": "Job", "spec": {"ttlSecondsAfterFinished": 300}}, True),
        ({"apiVersion": "batch/v1beta1", "kind": "Job", "spec": {"ttlSecondsAfterFinished": 10}}, True),
        ({"apiVersion": "batch/v1", "kind": "Job", "spec": {}}, False),
        ({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"ttlSecondsAfterFinished": 10}}, False),
        ({"apiVersion": "example.com/v1", "kind": "Job", "spec": {"ttlSecondsAfterFinished": 10}}, False),
    ],
)
def test_is_job_with_ttl(obj: dict[str, Any], expected: bool) -> None:
    assert is_job_with_ttl(obj) is expected


def _st(value: Any) -> Status:
    return Status(value)


def test_aggregate_all_current() -> None:
    result = aggregate({"a": _st(CURRENT), "b": _st(CURRENT)})
    assert result == Aggregate(True, [], [])
    assert result.done()
    assert result.done(fail_fast=False)
    all_current: bool
    failed: list[str]
    in_progress: list[str]
    all_current, failed, in_progress = result  # unpacks like the tuple the wait loop expects
    assert (all_current, failed, in_progress) == (True, [], [])


def test_aggregate_empty_set_is_current() -> None:
    assert aggregate({}) == Aggregate(True, [], [])


def test_aggregate_waits_for_in_progress_unknown_terminating_and_unobserved() -> None:
    statuses = {
        "a": _st(CURRENT),
        "b": _st(IN_PROGRESS),
        "c": _st(UNKNOWN),
        "d": _st(TERMINATING),
        "e": None,
        "f": NOT_FOUND_STATUS,
    }
    result = aggregate(statuses)
    assert result == Aggregate(False, [], ["b", "c", "d", "e", "f"])
    assert not result.done()


def test_aggregate_fail_fast() -> None:
    result = aggregate({"a": _st(FAILED), "b": _st(IN_PROGRESS), "c": _st(CURRENT)})
    assert result == Aggregate(False, ["a"], ["b"])
    assert result.done()  # fail-fast: any Failed stops the wait
    assert not result.done(fail_fast=False)  # DisableFailFastBehavior: keep waiting for "b"


def test_aggregate_only_failed_and_current_is_terminal_without_fail_fast() -> None:
    result = aggregate({"a": _st(FAILED), "b": _st(CURRENT)})
    assert result.done(fail_fast=False)


def test_aggregate_ttl_jobs_not_found_count_as_current() -> None:
    statuses = {"Job/apps/migrate": NOT_FOUND_STATUS, "Job/apps/other": NOT_FOUND_STATUS}
    result = aggregate(statuses, jobs_with_ttl={"Job/apps/migrate"})
    assert result == Aggregate(False, [], ["Job/apps/other"])
    assert aggregate({"Job/apps/migrate": NOT_FOUND_STATUS}, jobs_with_ttl=["Job/apps/migrate"]).all_current


def test_wait_failure_message_success() -> None:
    assert wait_failure_message({"Deployment/apps/a": _st(CURRENT)}, timed_out=False) is None
    assert wait_failure_message({}, timed_out=True) is None


def test_wait_failure_message_timeout() -> None:
    statuses = {
        "Deployment/apps/podinfo": Status(IN_PROGRESS, "Available: 1/3"),
        "ConfigMap/apps/config": Status(CURRENT, "Resource is always ready"),
        "Widget/apps/w": Status(UNKNOWN, "boom", "failed to evaluate the CEL expression 'x': no such member"),
        "Service/apps/gone": NOT_FOUND_STATUS,
    }
    assert wait_failure_message(statuses, timed_out=True) == (
        "timeout waiting for: [Deployment/apps/podinfo status: 'InProgress', "
        "Widget/apps/w status: 'Unknown': failed to evaluate the CEL expression 'x': no such member, "
        "Service/apps/gone status: 'NotFound']"
    )


def test_wait_failure_message_fail_fast() -> None:
    statuses = {
        "Deployment/apps/backend": Status(FAILED, "Progress deadline exceeded"),
        "Deployment/apps/frontend": Status(IN_PROGRESS, "Ready: 0/1"),
    }
    assert wait_failure_message(statuses, timed_out=False) == (
        "failed early due to stalled resources: [Deployment/apps/backend status: 'Failed']"
    )


def test_wait_failure_message_unobserved_and_ttl_jobs() -> None:
    statuses: dict[str, Status | None] = {
        "Deployment/apps/a": None,
        "Job/apps/migrate": NOT_FOUND_STATUS,
        "Job/apps/never-seen": None,
    }
    message = wait_failure_message(statuses, timed_out=True, jobs_with_ttl={"Job/apps/migrate", "Job/apps/never-seen"})
    assert message == "timeout waiting for: [can't determine status for Deployment/apps/a]"


def test_not_found_status() -> None:
    assert Status(NOT_FOUND, "Resource not found") == NOT_FOUND_STATUS
