"""Go duration parsing and formatting, table-driven."""

from __future__ import annotations

import datetime

import pytest

from headwater.api.duration import (
    HOUR,
    MICROSECOND,
    MILLISECOND,
    MINUTE,
    SECOND,
    Duration,
    DurationError,
    format_compact,
    format_go,
    is_flux_duration,
    parse_duration,
)

pytestmark = pytest.mark.unit

VALID = [
    ("0", 0),
    ("+0", 0),
    ("-0", 0),
    ("0s", 0),
    ("1ns", 1),
    ("1us", MICROSECOND),
    ("1\u00b5s", MICROSECOND),
    ("1\u03bcs", MICROSECOND),
    ("500ms", 500 * MILLISECOND),
    ("1s", SECOND),
    ("60s", MINUTE),
    ("1m", MINUTE),
    ("1m30s", 90 * SECOND),
    ("90s", 90 * SECOND),
    ("1h", HOUR),
    ("1h0m0s", HOUR),
    ("2h45m", 2 * HOUR + 45 * MINUTE),
    ("1.5h", 90 * MINUTE),
    ("1.5s", 1500 * MILLISECOND),
    (".5s", 500 * MILLISECOND),
    ("1.s", SECOND),
    ("0.000000001s", 1),
    ("1.0000000001s", SECOND),  # below nanosecond precision: truncated
    ("-1m", -MINUTE),
    ("+5m", 5 * MINUTE),
    ("1h1m1s1ms1us1ns", HOUR + MINUTE + SECOND + MILLISECOND + MICROSECOND + 1),
    ("10m10m", 20 * MINUTE),
    ("2562047h47m16.854775807s", (1 << 63) - 1),
    ("-2562047h47m16.854775808s", -(1 << 63)),
]

INVALID = [
    "",
    " ",
    "1",
    "10",
    "m",
    "-",
    "+",
    ".s",
    "1x",
    "1d",
    "1 m",
    "1m ",
    "m1",
    "1..5s",
    "1.5.5s",
    "1e3s",
    "one",
    "--1s",
    "2562047h47m16.854775808s",
    "9999999999999h",
]


@pytest.mark.parametrize(("text", "nanoseconds"), VALID)
def test_parse_valid(text: str, nanoseconds: int) -> None:
    assert Duration.parse(text).nanoseconds == nanoseconds
    assert parse_duration(text) == Duration(nanoseconds)


@pytest.mark.parametrize("text", INVALID)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(DurationError):
        Duration.parse(text)


@pytest.mark.parametrize("value", [None, 60, 1.5, ["1m"]])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(value)  # type: ignore[arg-type]


GO_FORMAT = [
    (0, "0s"),
    (1, "1ns"),
    (999, "999ns"),
    (MICROSECOND, "1\u00b5s"),
    (1500, "1.5\u00b5s"),
    (MILLISECOND, "1ms"),
    (1_500_000, "1.5ms"),
    (500 * MILLISECOND, "500ms"),
    (SECOND, "1s"),
    (1500 * MILLISECOND, "1.5s"),
    (SECOND + 1, "1.000000001s"),
    (59 * SECOND, "59s"),
    (MINUTE, "1m0s"),
    (90 * SECOND, "1m30s"),
    (HOUR, "1h0m0s"),
    (HOUR + 500 * MILLISECOND, "1h0m0.5s"),
    (100 * HOUR + 2 * MINUTE + 3 * SECOND, "100h2m3s"),
    (-90 * SECOND, "-1m30s"),
    (-1, "-1ns"),
    ((1 << 63) - 1, "2562047h47m16.854775807s"),
]


@pytest.mark.parametrize(("nanoseconds", "text"), GO_FORMAT)
def test_format_like_go(nanoseconds: int, text: str) -> None:
    assert format_go(nanoseconds) == text
    assert str(Duration(nanoseconds)) == text
    assert Duration.parse(text).nanoseconds == nanoseconds  # formatting round-trips


COMPACT = [
    (0, "0s"),
    (HOUR, "1h"),
    (90 * MINUTE, "1h30m"),
    (HOUR + 5 * SECOND, "1h5s"),
    (MINUTE, "1m"),
    (90 * SECOND, "1m30s"),
    (30 * SECOND, "30s"),
    (500 * MILLISECOND, "500ms"),
    (HOUR + 500 * MILLISECOND, "1h0.5s"),
    (-2 * HOUR, "-2h"),
]


@pytest.mark.parametrize(("nanoseconds", "text"), COMPACT)
def test_format_compact(nanoseconds: int, text: str) -> None:
    assert format_compact(nanoseconds) == text
    assert Duration(nanoseconds).compact() == text
    assert Duration.parse(text).nanoseconds == nanoseconds


FLUX_PATTERN = [
    ("1m", True, True),
    ("1h", True, False),
    ("1m30s", True, True),
    ("1.5h", True, False),
    ("500ms", True, True),
    ("0s", True, True),
    ("0", False, False),
    ("1us", False, False),
    ("-1m", False, False),
    ("1h0m0s", True, False),
    ("", False, False),
]


@pytest.mark.parametrize(("text", "interval_ok", "timeout_ok"), FLUX_PATTERN)
def test_flux_patterns(text: str, interval_ok: bool, timeout_ok: bool) -> None:
    assert is_flux_duration(text) is interval_ok
    assert is_flux_duration(text, hours=False) is timeout_ok


def test_conversions() -> None:
    duration = Duration.parse("1m30s")
    assert duration.seconds == 90.0
    assert duration.total_seconds() == 90.0
    assert duration.timedelta == datetime.timedelta(seconds=90)
    assert Duration.from_seconds(1.5) == Duration.parse("1.5s")
    assert Duration.from_timedelta(datetime.timedelta(days=1, microseconds=3)).nanoseconds == 24 * HOUR + 3000
    assert Duration.parse("250ms").timedelta == datetime.timedelta(milliseconds=250)


def test_value_semantics() -> None:
    a, b = Duration.parse("1m"), Duration.parse("60s")
    assert a == b
    assert hash(a) == hash(b)
    assert Duration.parse("1s") < a <= b
    assert max(a, Duration.parse("2m")) == Duration.parse("2m")
    assert a + b == Duration.parse("2m")
    assert a - Duration.parse("90s") == Duration.parse("-30s")
    assert a * 3 == Duration.parse("3m")
    assert -a == Duration.parse("-1m")
    assert not Duration(0)
    assert Duration(1)
    assert repr(a) == "Duration('1m0s')"
    assert a != "1m"
    with pytest.raises(AttributeError):
        a.nanoseconds = 5


def test_out_of_range_construction() -> None:
    with pytest.raises(DurationError):
        Duration(1 << 63)
    with pytest.raises(DurationError):
        Duration(1 << 62) * 2
