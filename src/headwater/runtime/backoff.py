"""Retry backoff and interval jitter, as the Flux controllers configure them.

Two timing policies decide when an object is reconciled again:

* after a **failure**: a per-key exponential backoff (client-go's item exponential failure rate
  limiter, which is what Flux installs): the n-th consecutive failure of a key waits
  ``min_delay * 2**n`` seconds, capped at ``max_delay`` (``--min-retry-delay`` 750ms,
  ``--max-retry-delay`` 15m). A success calls :meth:`ExponentialBackoff.forget`.
* after a **success**: ``spec.interval`` with jitter: the interval is scaled by a uniformly
  drawn factor in ``[1 - p, 1 + p)`` where ``p`` is ``--interval-jitter-percentage`` / 100
  (5 by default), so that objects sharing an interval spread out over time.

The random source is injectable so tests can pin it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Generic, TypeVar

from headwater.runtime.result import Result

__all__ = [
    "DEFAULT_INTERVAL_JITTER_PERCENTAGE",
    "DEFAULT_MAX_RETRY_DELAY",
    "DEFAULT_MIN_RETRY_DELAY",
    "ExponentialBackoff",
    "IntervalJitter",
    "jitter_interval",
]

K = TypeVar("K", bound=Hashable)

#: ``--min-retry-delay`` default, seconds.
DEFAULT_MIN_RETRY_DELAY = 0.75
#: ``--max-retry-delay`` default, seconds (15m).
DEFAULT_MAX_RETRY_DELAY = 900.0
#: ``--interval-jitter-percentage`` default of the Flux controllers (reference §4.2).
DEFAULT_INTERVAL_JITTER_PERCENTAGE = 5.0

# 2**64 * 0.75s is far beyond any sane max delay; stop doubling there to avoid float overflow.
_MAX_EXPONENT = 64


class ExponentialBackoff(Generic[K]):
    """Per-key exponential failure backoff.

    :meth:`when` returns the delay for the next retry of ``key`` and counts one more failure:
    with the defaults the sequence is 0.75, 1.5, 3, 6, ... seconds, capped at 900.
    """

    def __init__(
        self, min_delay: float = DEFAULT_MIN_RETRY_DELAY, max_delay: float = DEFAULT_MAX_RETRY_DELAY
    ) -> None:
        if not (math.isfinite(min_delay) and math.isfinite(max_delay)):
            raise ValueError("retry delays must be finite")
        if min_delay < 0 or max_delay < 0:
            raise ValueError("retry delays must not be negative")
        if max_delay < min_delay:
            raise ValueError(f"max delay {max_delay} is smaller than min delay {min_delay}")
        self.min_delay = min_delay
        self.max_delay = max_delay
        self._failures: dict[K, int] = {}

    def delay_for(self, failures: int) -> float:
        """The delay after ``failures`` earlier consecutive failures (pure, no bookkeeping)."""
        if failures < 0:
            raise ValueError("failures must not be negative")
        if failures >= _MAX_EXPONENT:
            return self.max_delay
        return min(self.min_delay * (2.0**failures), self.max_delay)

    def when(self, key: K) -> float:
        """Count a failure of ``key`` and return how long to wait before retrying it."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return self.delay_for(failures)

    def failures(self, key: K) -> int:
        """How many consecutive failures ``key`` has had since it was last forgotten."""
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        """Reset ``key`` after a success (or when the object is gone)."""
        self._failures.pop(key, None)

    def __len__(self) -> int:
        """Number of keys currently backing off."""
        return len(self._failures)


def _validate_percentage(percentage: float) -> None:
    if math.isnan(percentage) or percentage < 0 or percentage >= 100:
        raise ValueError(
            f"the interval jitter percentage must be a non-negative value below 100, got {percentage!r}"
        )


def jitter_interval(interval: float, percentage: float, rand: Callable[[], float]) -> float:
    """Scale ``interval`` by a random factor in ``[1 - p, 1 + p)``, ``p = percentage / 100``.

    ``rand`` returns a float in ``[0, 1)`` (like :func:`random.random`). A percentage of 0, or a
    non-positive interval, returns ``interval`` unchanged.
    """
    _validate_percentage(percentage)
    if percentage == 0 or interval <= 0:
        return interval
    p = percentage / 100.0
    return interval * (1.0 + p * (2.0 * rand() - 1.0))


class IntervalJitter:
    """The ``--interval-jitter-percentage`` policy bound to a random source.

    ``IntervalJitter(5)(600)`` returns a value in ``[570, 630)``.
    """

    def __init__(
        self,
        percentage: float = DEFAULT_INTERVAL_JITTER_PERCENTAGE,
        rand: Callable[[], float] | None = None,
    ) -> None:
        _validate_percentage(percentage)
        self.percentage = percentage
        self._rand: Callable[[], float] = rand if rand is not None else random.Random().random

    def bounds(self, interval: float) -> tuple[float, float]:
        """The smallest and (exclusive) largest value :meth:`__call__` can return."""
        p = self.percentage / 100.0
        if interval <= 0:
            return interval, interval
        return interval * (1.0 - p), interval * (1.0 + p)

    def __call__(self, interval: float) -> float:
        return jitter_interval(interval, self.percentage, self._rand)

    def apply(self, result: Result) -> Result:
        """Jitter ``result.requeue_after``; results without a positive requeue are unchanged."""
        if result.requeue_after is None or result.requeue_after <= 0:
            return result
        return replace(result, requeue_after=self(result.requeue_after))
