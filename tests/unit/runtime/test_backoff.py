"""Unit tests for headwater.runtime.backoff (retry backoff and interval jitter)."""

from __future__ import annotations

import math
import random

import pytest

from headwater.runtime.backoff import (
    DEFAULT_INTERVAL_JITTER_PERCENTAGE,
    DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_MIN_RETRY_DELAY,
    ExponentialBackoff,
    IntervalJitter,
    jitter_interval,
)
from headwater.runtime.result import Result

pytestmark = pytest.mark.unit


def test_defaults_match_flux_flags() -> None:
    assert DEFAULT_MIN_RETRY_DELAY == 0.75
    assert DEFAULT_MAX_RETRY_DELAY == 15 * 60
    assert DEFAULT_INTERVAL_JITTER_PERCENTAGE == 5


def test_default_sequence_doubles_and_caps_at_15m() -> None:
    backoff: ExponentialBackoff[str] = ExponentialBackoff()
    got = [backoff.when("k") for _ in range(14)]
    assert got == [0.75, 1.5, 3, 6, 12, 24, 48, 96, 192, 384, 768, 900, 900, 900]
    assert backoff.failures("k") == 14


@pytest.mark.parametrize(
    ("min_delay", "max_delay", "failures", "expected"),
    [
        (0.75, 900, 0, 0.75),
        (0.75, 900, 1, 1.5),
        (0.75, 900, 10, 768),
        (0.75, 900, 11, 900),
        (0.75, 900, 63, 900),
        (0.75, 900, 64, 900),
        (0.75, 900, 10_000, 900),  # no float overflow
        (1, 10, 3, 8),
        (1, 10, 4, 10),
        (0, 5, 7, 0),
        (2, 2, 0, 2),
        (2, 2, 5, 2),
    ],
)
def test_delay_for_table(min_delay: float, max_delay: float, failures: int, expected: float) -> None:
    assert ExponentialBackoff(min_delay, max_delay).delay_for(failures) == expected


def test_keys_are_independent_and_forget_resets() -> None:
    backoff: ExponentialBackoff[tuple[str, str]] = ExponentialBackoff()
    a, b = ("ns", "a"), ("ns", "b")
    assert [backoff.when(a) for _ in range(3)] == [0.75, 1.5, 3]
    assert backoff.when(b) == 0.75
    assert backoff.failures(a) == 3
    assert backoff.failures(b) == 1
    assert len(backoff) == 2
    backoff.forget(a)
    assert backoff.failures(a) == 0
    assert backoff.when(a) == 0.75
    backoff.forget(("never", "seen"))  # no error
    assert len(backoff) == 2


@pytest.mark.parametrize(
    ("min_delay", "max_delay"),
    [(-1, 10), (1, -1), (10, 1), (math.inf, math.inf), (math.nan, 1)],
)
def test_invalid_backoff_settings(min_delay: float, max_delay: float) -> None:
    with pytest.raises(ValueError, match="delay"):
        ExponentialBackoff(min_delay, max_delay)


def test_delay_for_negative_failures() -> None:
    with pytest.raises(ValueError, match="negative"):
        ExponentialBackoff().delay_for(-1)


# --------------------------------------------------------------------------- jitter


@pytest.mark.parametrize(
    ("interval", "percentage", "rand", "expected"),
    [
        (600, 5, 0.0, 570),  # lower bound
        (600, 5, 0.5, 600),  # centre
        (600, 5, 0.75, 615),
        (600, 10, 0.0, 540),
        (600, 10, 0.25, 570),
        (60, 0, 0.0, 60),  # jitter disabled
        (0, 5, 0.0, 0),  # nothing to jitter
        (-3, 5, 0.0, -3),
        (1, 99, 0.0, 0.01),
    ],
)
def test_jitter_interval_table(interval: float, percentage: float, rand: float, expected: float) -> None:
    assert jitter_interval(interval, percentage, lambda: rand) == pytest.approx(expected)


@pytest.mark.parametrize("percentage", [100, 150, -1, math.nan])
def test_invalid_jitter_percentage(percentage: float) -> None:
    with pytest.raises(ValueError, match="below 100"):
        IntervalJitter(percentage)
    with pytest.raises(ValueError, match="below 100"):
        jitter_interval(10, percentage, random.random)


@pytest.mark.parametrize(("percentage", "interval"), [(5, 600), (10, 300), (50, 1), (1, 3600)])
def test_jitter_stays_within_bounds(percentage: float, interval: float) -> None:
    jitter = IntervalJitter(percentage, random.Random(42).random)
    low, high = jitter.bounds(interval)
    assert low == pytest.approx(interval * (1 - percentage / 100))
    assert high == pytest.approx(interval * (1 + percentage / 100))
    samples = [jitter(interval) for _ in range(5000)]
    assert all(low <= s < high for s in samples)
    # the draws actually spread over the range (both halves hit)
    assert min(samples) < interval < max(samples)


def test_jitter_default_percentage_and_default_rand() -> None:
    jitter = IntervalJitter()
    assert jitter.percentage == 5
    assert 570 <= jitter(600) < 630


def test_jitter_apply_to_result() -> None:
    jitter = IntervalJitter(10, lambda: 1.0 - 1e-12)
    assert jitter.apply(Result()) == Result()
    assert jitter.apply(Result(requeue_after=0)) == Result(requeue_after=0)
    jittered = jitter.apply(Result(requeue_after=100))
    assert jittered.requeue_after == pytest.approx(110)
    assert jitter.bounds(0) == (0, 0)
