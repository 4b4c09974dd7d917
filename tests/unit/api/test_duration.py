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
    NonPositiveDurationError,
    format_compact,
    format_go,
    format_human,
    format_seconds,
    is_flux_duration,
    parse_duration,
    parse_positive,
    parse_seconds,
    seconds_or,
    stored_form,
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


# -- the shared helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("750ms", 0.75), (" 1h30m ", 5400.0), ("-1.5s", -1.5), ("0", 0.0), ("15m", 900.0)],
)
def test_parse_seconds_reads_flag_values(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize(
    ("text", "stored", "error"),
    [
        ("1m", "1m0s", None),
        (" 90s", "1m30s", None),
        ("1h", "1h0m0s", None),
        ("500ms", "500ms", None),
        ("0s", None, NonPositiveDurationError),
        ("-1m", None, NonPositiveDurationError),
        ("1x", None, DurationError),
        ("", None, DurationError),
    ],
)
def test_positive_durations_and_their_stored_form(text: str, stored: str | None, error: type[Exception] | None) -> None:
    if error is None:
        assert stored_form(text) == stored
        assert parse_positive(text) == Duration.parse(stored or "")
        return
    with pytest.raises(error):
        stored_form(text)
    with pytest.raises(error):
        parse_positive(text)


def test_a_non_positive_duration_says_so() -> None:
    with pytest.raises(DurationError, match=r"^must be positive, got '0s'$"):
        parse_positive("0s")


@pytest.mark.parametrize(
    ("value", "default", "seconds"),
    [("1m", 5.0, 60.0), (None, 5.0, 5.0), ("", 5.0, 5.0), ("bogus", 5.0, 5.0), (0, 7.0, 7.0), ("2h", 0.0, 7200.0)],
)
def test_seconds_or_falls_back_on_unset_or_invalid(value: object, default: float, seconds: float) -> None:
    assert seconds_or(value, default) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (4.25, "4.25s"), (30, "30s"), (330, "5m30s"), (3600, "1h0m0s"), (0.0005, "500µs"), (-3, "-3s")],
)
def test_format_seconds_is_go(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-2, "<invalid>"), (59.9, "59s"), (121, "2m1s"), (540, "9m"), (7260, "121m"), (5 * 3600 + 60, "5h1m"),
     (30 * 3600, "30h"), (2 * 86400, "2d"), (400 * 86400, "400d"), (3 * 365 * 86400 + 86400, "3y1d")],
)
def test_format_human_is_kubectl_age(seconds: float, text: str) -> None:
    assert format_human(seconds) == text
