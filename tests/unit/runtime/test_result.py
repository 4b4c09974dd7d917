"""Unit tests for headwater.runtime.result."""

from __future__ import annotations

import math

import pytest

from headwater.runtime.result import (
    DEFAULT_FAILURE_REASON,
    ReconcileError,
    Result,
    TerminalError,
    WaitingError,
    error_reason,
    is_terminal,
    is_valid_reason,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("requeue_after", "requeue"),
    [(None, False), (0, True), (0.5, True), (600, True)],
)
def test_result(requeue_after: float | None, requeue: bool) -> None:
    result = Result(requeue_after=requeue_after)
    assert result.requeue is requeue
    assert result.requeue_after == requeue_after


@pytest.mark.parametrize("bad", [-1, -0.001, math.inf, math.nan])
def test_result_rejects_invalid_requeue(bad: float) -> None:
    with pytest.raises(ValueError, match="requeue_after"):
        Result(requeue_after=bad)


def test_result_is_immutable_value() -> None:
    assert Result() == Result(None)
    assert Result(5) == Result(5)
    with pytest.raises(AttributeError):
        Result().requeue_after = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("reason", "valid"),
    [
        ("AuthenticationFailed", True),
        ("A", True),
        ("Reason_With_Underscores", True),
        ("a:b,c", True),
        ("", False),
        ("1Starts", False),
        ("has space", False),
        ("Ends:", False),
        ("x" * 1024, True),
        ("x" * 1025, False),
    ],
)
def test_is_valid_reason(reason: str, valid: bool) -> None:
    assert is_valid_reason(reason) is valid


def test_reconcile_error_carries_reason_and_message() -> None:
    err = ReconcileError("AuthenticationFailed", "failed to get credentials")
    assert err.reason == "AuthenticationFailed"
    assert err.message == "failed to get credentials"
    assert str(err) == "failed to get credentials"
    assert "AuthenticationFailed" in repr(err)
    with pytest.raises(ReconcileError) as info:
        raise err
    assert info.value is err


def test_reconcile_error_rejects_invalid_reason() -> None:
    with pytest.raises(ValueError, match="invalid condition reason"):
        ReconcileError("not valid", "x")


def test_terminal_and_waiting_errors() -> None:
    terminal = TerminalError("AccessDenied", "cross-namespace references are not allowed")
    assert isinstance(terminal, ReconcileError)
    assert is_terminal(terminal)
    waiting = WaitingError("DependencyNotReady", "dependency 'a/b' is not ready", 30)
    assert waiting.requeue_after == 30
    assert not is_terminal(waiting)
    assert "30" in repr(waiting)
    with pytest.raises(ValueError, match="requeue_after"):
        WaitingError("DependencyNotReady", "x", -1)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ReconcileError("BuildFailed", "x"), "BuildFailed"),
        (TerminalError("InvalidPath", "x"), "InvalidPath"),
        (RuntimeError("boom"), DEFAULT_FAILURE_REASON),
        (ValueError(), "ReconciliationFailed"),
    ],
)
def test_error_reason(error: BaseException, reason: str) -> None:
    assert error_reason(error) == reason
