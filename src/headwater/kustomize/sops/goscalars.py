"""Scalars exactly as the Go implementation of SOPS reads and writes them.

The MAC is a hash over the text of every value, and that text is what Go's `strconv`/`time` produce
(`1.5`, `-0`, `True`, `2001-12-14T00:00:00Z`). YAML scalars are typed by go-yaml v3's rules, not YAML 1.1
(`yes` is a string, `0o17` an int, `1e5` a float, timestamps are times). Getting either wrong makes the MAC
of an untouched file mismatch, or changes a value's type, so both are reimplemented here from the Go rules.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

# ---------------------------------------------------------------------------------------------------------
# Times (time.Time): kept as fields with nanoseconds, formatted like Go's RFC3339 / RFC3339Nano layouts.


@dataclass(frozen=True, slots=True)
class GoTime:
    """A point in time with Go's precision (nanoseconds) and the UTC offset it was written with."""

    year: int
    month: int
    day: int
    hour: int = 0
    minute: int = 0
    second: int = 0
    nanosecond: int = 0
    offset_seconds: int = 0

    def _zone(self) -> str:
        if self.offset_seconds == 0:
            return "Z"
        sign = "-" if self.offset_seconds < 0 else "+"
        minutes = abs(self.offset_seconds) // 60
        return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def _base(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}T{self.hour:02d}:{self.minute:02d}:{self.second:02d}"

    def rfc3339(self) -> str:
        """Go's `time.RFC3339` layout: no fractional seconds."""
        return self._base() + self._zone()

    def rfc3339nano(self) -> str:
        """Go's `time.RFC3339Nano` layout: fractional seconds without trailing zeros."""
        fraction = ""
        if self.nanosecond:
            fraction = "." + f"{self.nanosecond:09d}".rstrip("0")
        return self._base() + fraction + self._zone()

    def __str__(self) -> str:
        return self.rfc3339nano()


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_YAML_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:([Tt ])(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))?)?\Z"
)


def _build_time(fields: tuple[str | None, ...], sign: str | None, oh: str | None, om: str | None) -> GoTime | None:
    year, month, day, hour, minute, second, fraction = fields
    y, mo, d = int(year or 0), int(month or 0), int(day or 0)
    h, mi, s = int(hour or 0), int(minute or 0), int(second or 0)
    if not 1 <= mo <= 12 or not 1 <= d <= calendar.monthrange(y, mo)[1]:
        return None
    if h > 23 or mi > 59 or s > 59:
        return None
    nanos = int((fraction or "")[:9].ljust(9, "0")) if fraction else 0
    offset = 0
    if sign is not None:
        ohours, omins = int(oh or 0), int(om or 0)
        if ohours > 23 or omins > 59:
            return None
        offset = (ohours * 3600 + omins * 60) * (-1 if sign == "-" else 1)
    return GoTime(y, mo, d, h, mi, s, nanos, offset)


def parse_rfc3339(text: str) -> GoTime | None:
    """Parse like Go's `time.Parse(time.RFC3339, text)` (fractional seconds accepted); None if invalid."""
    m = _RFC3339.match(text)
    if m is None:
        return None
    return _build_time(m.groups()[:7], m.group(9), m.group(10), m.group(11))


def parse_yaml_timestamp(text: str) -> GoTime | None:
    """go-yaml v3's timestamp forms: `2006-1-2T15:4:5.999999999Z07:00` (or `t`), `2006-1-2 15:4:5.9`, `2006-1-2`."""
    m = _YAML_TIMESTAMP.match(text)
    if m is None:
        return None
    sep, zulu, sign = m.group(4), m.group(9), m.group(10)
    has_zone = zulu is not None or sign is not None
    if sep in ("T", "t") and not has_zone:
        return None
    if sep == " " and has_zone:
        return None
    groups = (m.group(1), m.group(2), m.group(3), m.group(5), m.group(6), m.group(7), m.group(8))
    return _build_time(groups, sign, m.group(11), m.group(12))


# ---------------------------------------------------------------------------------------------------------
# Floats: strconv.FormatFloat(x, 'f'|'e'|'g', -1, 64) and encoding/json's float encoding.


def _shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-tripping decimal digits of |x| and the point position: |x| = 0.DIGITS * 10**point."""
    _, digit_tuple, exponent = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(exponent, int)  # finite numbers only
    digits = "".join(str(d) for d in digit_tuple)
    point = len(digits) + exponent
    digits = digits.rstrip("0")
    return (digits, point) if digits else ("", 0)


def _exp_form(digits: str, point: int, letter: str) -> str:
    if not digits:
        return f"0{letter}+00"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = point - 1
    sign = "-" if exp < 0 else "+"
    return f"{mantissa}{letter}{sign}{abs(exp):02d}"


def _fixed_form(digits: str, point: int) -> str:
    if not digits:
        return "0"
    if point <= 0:
        return "0." + "0" * (-point) + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def go_format_float(x: float, fmt: Literal["f", "e", "E", "g", "G"]) -> str:
    """`strconv.FormatFloat(x, fmt, -1, 64)`."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    neg = "-" if math.copysign(1.0, x) < 0 else ""
    digits, point = _shortest_digits(x)
    if fmt == "f":
        body = _fixed_form(digits, point)
    elif fmt in ("e", "E"):
        body = _exp_form(digits, point, fmt)
    else:
        exp = point - 1 if digits else 0
        use_exponent = exp < -4 or exp >= 6
        body = _exp_form(digits, point, "e" if fmt == "g" else "E") if use_exponent else _fixed_form(digits, point)
    return neg + body


def go_json_float(x: float) -> str:
    """encoding/json's float64 text: `f` form in [1e-6, 1e21), else `e` form with `e-07` shortened to `e-7`."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError("JSON cannot represent NaN or infinity")
    magnitude = abs(x)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = go_format_float(x, "e")
        if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
            text = text[:-2] + text[-1]
        return text
    return go_format_float(x, "f")


def go_yaml_float(x: float) -> str:
    """go-yaml v3's float text: `g` form, with `.inf`, `-.inf`, `.nan`."""
    if math.isnan(x):
        return ".nan"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    return go_format_float(x, "g")


# ---------------------------------------------------------------------------------------------------------
# strconv parsing (the decrypted text of typed values).

_DECIMAL_INT = re.compile(r"[+-]?[0-9]+\Z")
_GO_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\Z")
_GO_FLOAT_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)\Z", re.IGNORECASE)
_GO_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+\Z")
INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_DIGITS_OF_BASE = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def go_atoi(text: str) -> int | None:
    """`strconv.Atoi` on a 64-bit platform."""
    if not _DECIMAL_INT.match(text) or len(text.lstrip("+-0")) > 19:  # int() refuses 4300+ digits
        return None
    value = int(text[0] + (text[1:].lstrip("0") or "0") if text[0] in "+-" else text.lstrip("0") or "0")
    return value if INT64_MIN <= value <= INT64_MAX else None


def go_parse_float(text: str) -> float | None:
    """`strconv.ParseFloat(text, 64)`; None when Go would return an error (including out of range)."""
    if _GO_FLOAT_SPECIAL.match(text):
        return float(text.lower().replace("infinity", "inf"))
    if _GO_HEX_FLOAT.match(text):
        try:
            value = float.fromhex(text)
        except OverflowError:
            return None
        return value
    if not _GO_FLOAT.match(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def go_parse_bool(text: str) -> bool | None:
    """`strconv.ParseBool`."""
    return _GO_BOOLS.get(text)


def go_parse_int_base0(text: str) -> int | None:
    """`strconv.ParseInt(text, 0, 64)`, falling back to `ParseUint(text, 0, 64)` like go-yaml does."""
    body, negative = text, False
    if body[:1] in ("+", "-"):
        negative = body[0] == "-"
        body = body[1:]
    base, digits = 10, body
    lowered = body[:2].lower()
    if lowered == "0x":
        base, digits = 16, body[2:]
    elif lowered == "0b":
        base, digits = 2, body[2:]
    elif lowered == "0o":
        base, digits = 8, body[2:]
    elif len(body) > 1 and body[0] == "0":
        base, digits = 8, body[1:]
    if not digits or any(ch not in _DIGITS_OF_BASE[base] for ch in digits):
        return None
    if len(digits.lstrip("0")) > 64:  # beyond 64 bits in any base; int() refuses 4300+ decimal digits
        return None
    value = int(digits.lstrip("0") or "0", base)
    if negative:
        value = -value
        return value if value >= INT64_MIN else None
    if text.startswith("+") and value > INT64_MAX:
        return None  # ParseUint takes no sign
    return value if value <= UINT64_MAX else None


# ---------------------------------------------------------------------------------------------------------
# go-yaml v3 typing of plain (unquoted, untagged) scalars.

_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUES = {"true", "True", "TRUE"}
_FALSES = {"false", "False", "FALSE"}
_NANS = {".nan", ".NaN", ".NAN"}
_INFS = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NEG_INFS = {"-.inf", "-.Inf", "-.INF"}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")

YamlScalar = str | int | float | bool | GoTime | None


def yaml_resolve_plain(text: str) -> YamlScalar:
    """The value go-yaml v3 gives a plain scalar decoded into `interface{}` (as SOPS does)."""
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    if text in _NANS:
        return math.nan
    if text in _INFS:
        return math.inf
    if text in _NEG_INFS:
        return -math.inf
    first = text[0]
    if first == ".":
        return float(text) if _DOT_FLOAT.match(text) else text
    if not (first.isascii() and (first.isdigit() or first in "+-")):
        return text
    stamp = parse_yaml_timestamp(text)
    if stamp is not None:
        return stamp
    plain = text.replace("_", "")
    integer = go_parse_int_base0(plain) if plain else None
    if integer is not None:
        return integer
    if _YAML_STYLE_FLOAT.match(plain):
        value = float(plain)
        if not math.isinf(value):
            return value
    return text


def yaml_plain_is_string(text: str) -> bool:
    """True when go-yaml would read `text`, written as a plain scalar, back as the same string."""
    resolved = yaml_resolve_plain(text) if text else None
    return isinstance(resolved, str) and text != "<<"
