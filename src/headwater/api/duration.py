"""Go ``time.Duration`` values: parsing (``1m30s``), formatting and arithmetic — the one duration module.

Flux stores every interval and timeout as a Go duration string.  :class:`Duration` keeps an
exact integer count of nanoseconds, like Go, so that parsing and formatting agree with the
controllers bit for bit (``str(Duration.parse("90s")) == "1m30s"``, like Go's
``Duration.String``).  Parsing accepts everything Go's ``time.ParseDuration`` accepts
(signs, fractions, ``ns``/``us``/``µs``); :func:`is_flux_duration` additionally applies the
stricter pattern Flux's CRDs enforce.  Parsing is memoised because controllers re-read the
same few interval strings on every reconcile.

Every other place that reads or prints a duration goes through the helpers at the end of this module:
:func:`parse_seconds` (flags), :func:`parse_positive` and :func:`stored_form` (command-line values, the
form Flux's CLI writes), :func:`seconds_or` (a field of an object nobody validated), :func:`format_seconds`
(Go's ``String`` of a float, as Flux prints elapsed times) and :func:`format_human` (kubectl's ages).
Typed views of Flux objects parse their duration fields with :class:`Duration` directly.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import re
from typing import Final

from headwater.api.schema import DURATION_PATTERN, TIMEOUT_PATTERN

NANOSECOND: Final = 1
MICROSECOND: Final = 1_000
MILLISECOND: Final = 1_000_000
SECOND: Final = 1_000_000_000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE

_UNITS: Final = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # micro sign
    "\u03bcs": MICROSECOND,  # Greek small letter mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_MAX_NS: Final = (1 << 63) - 1
_MAX_WHOLE_DIGITS: Final = 19  # 10**19 ns is out of range whatever the unit
_SHOWN_CHARS: Final = 64
_COMPONENT: Final = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]+)")
_FLUX: Final = re.compile(DURATION_PATTERN)
_FLUX_TIMEOUT: Final = re.compile(TIMEOUT_PATTERN)


class DurationError(ValueError):
    """Raised for strings that are not Go durations."""


class NonPositiveDurationError(DurationError):
    """A valid duration where only a positive one makes sense (a timeout, an interval)."""


@functools.total_ordering
class Duration:
    """An exact Go duration (signed 64-bit nanoseconds)."""

    __slots__ = ("nanoseconds",)

    nanoseconds: int

    def __init__(self, nanoseconds: int = 0) -> None:
        if not -_MAX_NS - 1 <= nanoseconds <= _MAX_NS:
            raise DurationError(f"duration out of range: {nanoseconds}ns")
        object.__setattr__(self, "nanoseconds", nanoseconds)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Duration is immutable")

    # -- construction -----------------------------------------------------------------
    @staticmethod
    def parse(text: str) -> Duration:
        """Parse a Go duration such as ``1h30m``, ``1.5s`` or ``500ms``."""
        return parse_duration(text)

    @classmethod
    def from_seconds(cls, seconds: float) -> Duration:
        return cls(round(seconds * SECOND))

    @classmethod
    def from_timedelta(cls, delta: datetime.timedelta) -> Duration:
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return cls(micros * MICROSECOND)

    # -- conversion -------------------------------------------------------------------
    @property
    def seconds(self) -> float:
        """The duration in (fractional) seconds."""
        return self.nanoseconds / SECOND

    def total_seconds(self) -> float:
        """Same as :attr:`seconds`, spelled like :meth:`datetime.timedelta.total_seconds`."""
        return self.nanoseconds / SECOND

    @property
    def timedelta(self) -> datetime.timedelta:
        """As a :class:`datetime.timedelta` (truncated to microseconds)."""
        return datetime.timedelta(microseconds=int(self.nanoseconds / MICROSECOND))

    def __str__(self) -> str:
        return format_go(self.nanoseconds)

    def compact(self) -> str:
        """Shortest form without zero components, e.g. ``1h`` instead of ``1h0m0s``."""
        return format_compact(self.nanoseconds)

    def __repr__(self) -> str:
        return f"Duration({format_go(self.nanoseconds)!r})"

    # -- value semantics --------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return self.nanoseconds == other.nanoseconds
        return NotImplemented

    def __lt__(self, other: Duration) -> bool:
        return self.nanoseconds < other.nanoseconds

    def __hash__(self) -> int:
        return hash(self.nanoseconds)

    def __bool__(self) -> bool:
        return self.nanoseconds != 0

    def __add__(self, other: Duration) -> Duration:
        return Duration(self.nanoseconds + other.nanoseconds)

    def __sub__(self, other: Duration) -> Duration:
        return Duration(self.nanoseconds - other.nanoseconds)

    def __mul__(self, factor: int) -> Duration:
        return Duration(self.nanoseconds * factor)

    def __neg__(self) -> Duration:
        return Duration(-self.nanoseconds)


def _shown(text: str) -> str:
    """The input as an error names it: quoted, and cut when it is long (a message ends up in a condition)."""
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return f"{text[:_SHOWN_CHARS]!r}... ({len(text)} characters)"


def _fraction_of(fraction: str, unit: int) -> int:
    """``floor(0.<fraction> * unit)``, exact for any number of digits (``int()`` refuses 4300 or more)."""
    fraction = fraction.rstrip("0")
    if len(fraction) <= _MAX_WHOLE_DIGITS:
        scale: int = 10 ** len(fraction)
        return int(fraction or "0") * unit // scale
    with decimal.localcontext() as context:
        context.prec = len(fraction) + 20  # unit has at most 13 digits: the product is exact
        product = decimal.Decimal(f"0.{fraction}") * unit
        floor: int = int(product.to_integral_value(rounding=decimal.ROUND_FLOOR))
        return floor


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> Duration:
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return Duration(0)
    if not rest:
        raise DurationError(f"invalid duration {_shown(text)}")
    total = 0
    position = 0
    while position < len(rest):
        match = _COMPONENT.match(rest, position)
        if match is None:
            raise DurationError(f"invalid duration {_shown(text)}")
        whole, fraction, unit_name = match.groups()
        if not whole and not fraction:
            raise DurationError(f"invalid duration {_shown(text)}")
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise DurationError(f"unknown unit {_shown(unit_name)} in duration {_shown(text)}")
        whole = whole.lstrip("0")
        if len(whole) > _MAX_WHOLE_DIGITS:  # Go's leadingInt overflows too; int() would refuse 4300+ digits
            raise DurationError(f"invalid duration {_shown(text)}: out of range")
        total += int(whole or "0") * unit
        if fraction:
            total += _fraction_of(fraction, unit)
        if total > _MAX_NS + (1 if negative else 0):
            raise DurationError(f"invalid duration {_shown(text)}: out of range")
        position = match.end()
    return Duration(-total if negative else total)


def parse_duration(text: str) -> Duration:
    """Parse a Go duration string; raises :class:`DurationError`."""
    if not isinstance(text, str):
        raise DurationError(f"invalid duration {text!r}: not a string")
    return _parse(text)


def is_flux_duration(text: str, *, hours: bool = True) -> bool:
    """Whether ``text`` passes Flux's CRD pattern (``hours=False``: the timeout pattern)."""
    return bool((_FLUX if hours else _FLUX_TIMEOUT).match(text))


def _fraction(value: int, precision: int) -> str:
    """``value / 10**precision`` printed without trailing zeros (Go's fmtFrac+fmtInt)."""
    whole, frac = divmod(value, 10**precision)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(precision, "0").rstrip("0")
    return f"{whole}.{digits}"


def format_go(nanoseconds: int) -> str:
    """Format like Go's ``Duration.String`` (``1h0m0s``, ``1.5s``, ``500ms``, ``0s``)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < SECOND:
        return sign + _small(value)
    text = _fraction(value % MINUTE, 9) + "s"
    minutes = value // MINUTE
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text


def format_compact(nanoseconds: int) -> str:
    """Like :func:`format_go` but without zero components (``1h``, ``1h30m``, ``2m5s``)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < SECOND:
        return sign + _small(value)
    hours, value = divmod(value, HOUR)
    minutes, value = divmod(value, MINUTE)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if value:
        parts.append(_fraction(value, 9) + "s")
    return sign + "".join(parts)


def _small(value: int) -> str:
    """Sub-second magnitudes, Go style."""
    if value < MICROSECOND:
        return f"{value}ns"
    if value < MILLISECOND:
        return _fraction(value, 3) + "\u00b5s"
    return _fraction(value, 6) + "ms"


# -- the helpers every caller shares -------------------------------------------------------


def parse_seconds(text: str) -> float:
    """A duration typed by a person (a flag value; surrounding spaces ignored), in seconds."""
    return parse_duration(text.strip()).seconds


def parse_positive(text: str) -> Duration:
    """Like :func:`parse_seconds` but the duration must be above zero (:class:`NonPositiveDurationError`)."""
    value = parse_duration(text.strip())
    if value.nanoseconds <= 0:
        raise NonPositiveDurationError(f"must be positive, got {_shown(text)}")
    return value


def stored_form(text: str) -> str:
    """A positive duration given on a command line, as Flux's CLI writes it into an object (``1m`` -> ``1m0s``)."""
    return str(parse_positive(text))


def seconds_or(value: object, default: float) -> float:
    """Seconds of a duration field read from an object nobody validated: ``default`` if unset or invalid."""
    if not value:
        return default
    try:
        return parse_duration(str(value)).seconds
    except DurationError:
        return default


def format_seconds(seconds: float) -> str:
    """Seconds as Go prints a ``time.Duration`` (``15m0s``, ``750ms``, ``4.25s``): Flux's messages and flags."""
    return str(Duration.from_seconds(seconds))


def format_human(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration`` (kubectl's AGE): 45s, 3m12s, 15m, 5h2m, 20h, 3d4h, 40d, 2y30d."""
    total = int(seconds)
    if total < -1:
        return "<invalid>"
    if total < 0:
        return "0s"
    if total < 120:
        return f"{total}s"
    minutes, hours = total // 60, total // 3600
    if minutes < 10:
        return f"{minutes}m{total % 60}s" if total % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"
