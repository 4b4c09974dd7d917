"""Reconcile outcomes: the value a reconciler returns and the errors it raises.

The controller loop (``headwater.runtime`` manager) needs to tell apart four outcomes of one
``reconcile(obj)`` call, the same way controller-runtime and Flux's ``serror`` package do:

* success, optionally with ``Result(requeue_after=...)`` (Flux: ``spec.interval`` ± jitter);
* a retryable failure — any exception; the key is re-queued with per-key exponential backoff.
  :class:`ReconcileError` carries a condition *reason* (e.g. ``AuthenticationFailed``) so that
  the status and the event can say why;
* a terminal failure — :class:`TerminalError`; the object is marked ``Stalled`` and is not
  retried until it changes (new generation);
* waiting — :class:`WaitingError`; not a failure (no backoff, no error count) but a request to
  look again after a fixed delay, e.g. ``DependencyNotReady`` with ``--requeue-dependency``.

This module is pure data: no I/O, no global state.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_FAILURE_REASON",
    "REASON_PATTERN",
    "ReconcileError",
    "Result",
    "TerminalError",
    "WaitingError",
    "error_reason",
    "is_terminal",
    "is_valid_reason",
]

#: Reason used when an arbitrary exception (not a :class:`ReconcileError`) ends a reconcile.
DEFAULT_FAILURE_REASON = "ReconciliationFailed"

#: The pattern metav1.Condition enforces on ``reason`` (CRD validation), max 1024 characters.
REASON_PATTERN = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
_REASON_MAX_LENGTH = 1024


def is_valid_reason(reason: str) -> bool:
    """Whether ``reason`` is accepted by the API server as a metav1.Condition reason."""
    return 0 < len(reason) <= _REASON_MAX_LENGTH and REASON_PATTERN.match(reason) is not None


@dataclass(frozen=True, slots=True)
class Result:
    """What a successful reconcile asks of the controller loop.

    ``requeue_after=None`` means "nothing scheduled; wait for a watch event". A positive value
    schedules the key again after that many seconds (not rate limited, and not counted as a
    retry). ``0`` asks for an immediate re-queue.
    """

    requeue_after: float | None = None

    def __post_init__(self) -> None:
        if self.requeue_after is not None and (
            math.isnan(self.requeue_after) or math.isinf(self.requeue_after) or self.requeue_after < 0
        ):
            raise ValueError(
                f"requeue_after must be a finite, non-negative number, got {self.requeue_after!r}"
            )

    @property
    def requeue(self) -> bool:
        """Whether the key should be processed again later."""
        return self.requeue_after is not None


class ReconcileError(Exception):
    """A retryable reconcile failure with a condition reason.

    ``raise ReconcileError("AuthenticationFailed", "failed to fetch credentials: ...")``: the key
    is retried with backoff, and ``reason``/``message`` end up in ``Ready=False`` and in the
    warning event.
    """

    def __init__(self, reason: str, message: str) -> None:
        if not is_valid_reason(reason):
            raise ValueError(f"invalid condition reason {reason!r}")
        super().__init__(reason, message)
        self.reason: str = reason
        self.message: str = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {self.message!r})"


class TerminalError(ReconcileError):
    """A failure that retrying cannot fix (invalid spec, access denied by policy, ...).

    The object is marked ``Stalled=True`` with this reason and is not re-queued until its
    generation changes (or a new watch event arrives).
    """


class WaitingError(ReconcileError):
    """Not a failure: the reconciler must wait for something outside its control.

    The key is re-queued after ``requeue_after`` seconds without backoff and without counting
    as an error (Flux's ``serror.Waiting``, e.g. ``DependencyNotReady``).
    """

    def __init__(self, reason: str, message: str, requeue_after: float) -> None:
        super().__init__(reason, message)
        if math.isnan(requeue_after) or math.isinf(requeue_after) or requeue_after < 0:
            raise ValueError(f"requeue_after must be a finite, non-negative number, got {requeue_after!r}")
        self.requeue_after: float = requeue_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {self.message!r}, {self.requeue_after!r})"


def error_reason(error: BaseException) -> str:
    """The condition reason for an exception raised by a reconciler."""
    if isinstance(error, ReconcileError):
        return error.reason
    return DEFAULT_FAILURE_REASON


def is_terminal(error: BaseException) -> bool:
    """Whether ``error`` means Stalled / no retry until the object changes."""
    return isinstance(error, TerminalError)
