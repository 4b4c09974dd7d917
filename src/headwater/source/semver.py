"""Semantic versions and version constraints, behaving like Masterminds/semver v3.4.

Flux does not use a generic SemVer library: every place where it reads a version range
(``GitRepository.spec.ref.semver``, ``ImagePolicy`` semver policies, ``HelmChart.spec.version``)
goes through ``github.com/Masterminds/semver/v3`` (v3.4.0 in current source-controller). Its
range language and, above all, its pre-release rule differ from npm, Cargo and PEP 440 in
small ways that decide which tag gets deployed, so a drop-in replacement has to reproduce them
rather than pick a "standard" implementation. This module is a from-scratch Python rendition of
that behaviour:

Versions
    :func:`parse_version` is Masterminds' ``NewVersion``: it coerces SemVer-ish input, accepting
    a leading ``v``, missing minor/patch (``1`` -> 1.0.0, ``1.2`` -> 1.2.0) and leading zeros in
    the numeric parts (``CoerceNewVersion`` is on by default since v3.4). Pre-release identifiers
    are still validated (no empty identifier, no leading zero in a numeric one).
    :func:`parse_strict_version` is ``StrictNewVersion``: exactly ``X.Y.Z[-pre][+build]``.
    :func:`parse_flux_version` is fluxcd/pkg ``version.ParseVersion``, used for Git tags: strict,
    except that one leading ``v`` is allowed (``v1.2.3`` yes, ``v1.2``/``1.2`` no).

Ordering
    SemVer 2.0 precedence: major, minor, patch numerically; a pre-release sorts before its
    release; pre-release identifiers compare numerically when both are numbers, numbers sort
    before alphanumerics, otherwise ASCII order, and a shorter identifier list sorts first.
    Build metadata is ignored, so ``1.0.0+a == 1.0.0+b``.

Constraints (:func:`parse_constraint`)
    ``||`` separates alternatives; within one, constraints are ANDed and separated by a comma
    and/or whitespace. Operators: ``=`` (or none), ``!=``, ``>``, ``<``, ``>=``/``=>``,
    ``<=``/``=<``, ``~``/``~>`` (same major+minor, or same major when only the major is given),
    ``^`` (same major; for 0.y same minor; for 0.0.z exact), wildcards ``x``/``X``/``*`` in any
    position or simply omitted parts (``1.2`` means ``1.2.x``), and hyphen ranges ``1.2 - 1.4.5``
    (spaces around the hyphen are required; it becomes ``>= 1.2, <= 1.4.5``).

The pre-release rule (v3.4)
    A version with a pre-release satisfies an AND group only if that group contains at least
    one constraint whose version has a pre-release (``>=1.2.0-0``, ``~1.2-alpha``, ``*-0``) or if
    the constraints were created with ``include_prerelease=True``; in that case the ordinary
    comparisons apply to it across all versions, not only to the same ``X.Y.Z``. Otherwise every
    constraint rejects it, so ``>=1.0`` does not match ``1.5.0-rc.1`` and ``*`` matches only
    releases. (Before v3.4 this was decided per constraint; v3.4 made it per AND group.)

Invalid constraints raise :class:`InvalidConstraintError` whose message is Masterminds' own
(``improper constraint: ...``), because Flux embeds it in conditions as
``semver parse error: <message>``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = [
    "MAX_CONSTRAINT_LENGTH",
    "Constraint",
    "Constraints",
    "InvalidConstraintError",
    "InvalidVersionError",
    "SemverError",
    "Version",
    "parse_constraint",
    "parse_flux_version",
    "parse_strict_version",
    "parse_version",
    "sort_versions",
]

#: Longest constraint text accepted, in bytes (Masterminds ``MaxConstraintLen``).
MAX_CONSTRAINT_LENGTH = 512

_UINT64_MAX = 2**64 - 1
_UINT64_DIGITS = len(str(_UINT64_MAX))
_DIGITS = frozenset("0123456789")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")


class SemverError(ValueError):
    """Base class of the errors raised by this module."""


class InvalidVersionError(SemverError):
    """The text is not a version this parser accepts; ``text`` holds the input."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(reason)
        self.text = text
        self.reason = reason


class InvalidConstraintError(SemverError):
    """The text is not a valid constraint; ``constraint`` holds the whole input."""

    def __init__(self, constraint: str, reason: str) -> None:
        super().__init__(reason)
        self.constraint = constraint
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------


def _only(text: str, allowed: frozenset[str]) -> bool:
    return all(ch in allowed for ch in text)


def _is_uint(text: str) -> bool:
    """True for what Go's ``strconv.ParseUint(text, 10, 64)`` accepts.

    The length is checked before ``int()``: a uint64 has at most 20 digits, and ``int()`` of 4300 digits or
    more raises a plain ``ValueError`` (and is quadratic below that).
    """
    return (bool(text) and _only(text, _DIGITS) and len(text.lstrip("0")) <= _UINT64_DIGITS
            and _uint(text) <= _UINT64_MAX)


def _uint(digits: str) -> int:
    return int(digits.lstrip("0") or "0")


def _shown(text: str) -> str:
    """Quoted, and cut when long: errors name their input, but a megabyte tag must not become the message."""
    return repr(text) if len(text) <= 64 else f"{text[:64]!r}... ({len(text)} characters)"


def _segment(text: str, raw: str) -> int:
    if not _is_uint(text):
        raise InvalidVersionError(raw, f"error parsing version segment: invalid syntax or out of range: {_shown(text)}")
    return _uint(text)


def _check_prerelease(pre: str, raw: str) -> None:
    for ident in pre.split("."):
        if not ident:
            raise InvalidVersionError(raw, "invalid prerelease string")
        if _only(ident, _DIGITS):
            if len(ident) > 1 and ident[0] == "0":
                raise InvalidVersionError(raw, "version segment starts with 0")
        elif not _only(ident, _IDENT_CHARS):
            raise InvalidVersionError(raw, "invalid prerelease string")


def _check_metadata(meta: str, raw: str) -> None:
    for ident in meta.split("."):
        if not ident or not _only(ident, _IDENT_CHARS):
            raise InvalidVersionError(raw, "invalid metadata string")


def _compare_identifier(mine: str, theirs: str) -> int:
    """One dot-separated pre-release identifier against another (SemVer rule 11.4)."""
    if mine == theirs:
        return 0
    if not mine:
        return -1
    if not theirs:
        return 1
    mine_num, theirs_num = _is_uint(mine), _is_uint(theirs)
    if mine_num and theirs_num:
        return 1 if _uint(mine) > _uint(theirs) else -1
    if mine_num:
        return -1
    if theirs_num:
        return 1
    return 1 if mine > theirs else -1


def _compare_prerelease(mine: str, theirs: str) -> int:
    left, right = mine.split("."), theirs.split(".")
    for index in range(max(len(left), len(right))):
        result = _compare_identifier(
            left[index] if index < len(left) else "",
            right[index] if index < len(right) else "",
        )
        if result:
            return result
    return 0


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A parsed version. Equality, ordering and hashing follow SemVer precedence (metadata ignored).

    ``original`` keeps the text it was parsed from (e.g. ``v1.2``), which is what Flux reports
    as the tag name; ``str()`` gives the normalised ``1.2.0``.
    """

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = ""
    original: str = field(default="")

    def __post_init__(self) -> None:
        if not self.original:
            object.__setattr__(self, "original", str(self))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.metadata:
            text += f"+{self.metadata}"
        return text

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 as ``self`` has lower, equal or higher precedence than ``other``."""
        for mine, theirs in (
            (self.major, other.major),
            (self.minor, other.minor),
            (self.patch, other.patch),
        ):
            if mine != theirs:
                return -1 if mine < theirs else 1
        if self.prerelease == other.prerelease:
            return 0
        if not self.prerelease:
            return 1
        if not other.prerelease:
            return -1
        return _compare_prerelease(self.prerelease, other.prerelease)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.compare(other) == 0

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash((self.major, self.minor, self.patch, self.prerelease))


_LOOSE_VERSION = re.compile(
    r"v?(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?(?:\.(?P<patch>[0-9]+))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<meta>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


def parse_version(text: str) -> Version:
    """Parse like Masterminds ``NewVersion`` (coercing): ``v`` prefix, ``1``, ``1.2``, leading zeros."""
    match = _LOOSE_VERSION.fullmatch(text)
    if match is None:
        raise InvalidVersionError(text, f"invalid semantic version: {_shown(text)}")
    pre = match["pre"] or ""
    if pre:
        _check_prerelease(pre, text)
    return Version(
        major=_segment(match["major"], text),
        minor=_segment(match["minor"], text) if match["minor"] is not None else 0,
        patch=_segment(match["patch"], text) if match["patch"] is not None else 0,
        prerelease=pre,
        metadata=match["meta"] or "",
        original=text,
    )


def parse_strict_version(text: str) -> Version:
    """Parse like Masterminds ``StrictNewVersion``: exactly ``X.Y.Z[-pre][+build]``, no ``v``."""
    if not text:
        raise InvalidVersionError(text, "version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise InvalidVersionError(text, f"invalid semantic version: {_shown(text)}")
    last, meta, pre = parts[2], "", ""
    if "+" in last:
        last, meta = last.split("+", 1)
        _check_metadata(meta, text)
    if "-" in last:
        last, pre = last.split("-", 1)
        _check_prerelease(pre, text)
    numbers = [parts[0], parts[1], last]
    for number in numbers:
        if not _only(number, _DIGITS):
            raise InvalidVersionError(text, "invalid characters in version")
        if len(number) > 1 and number[0] == "0":
            raise InvalidVersionError(text, "version segment starts with 0")
    major, minor, patch = (_segment(number, text) for number in numbers)
    return Version(major, minor, patch, pre, meta, original=text)


def parse_flux_version(text: str) -> Version:
    """Parse a Git tag like fluxcd/pkg ``version.ParseVersion``: strict SemVer, one optional ``v``.

    The returned version's ``original`` is the tag as given (with its ``v``).
    """
    parse_strict_version(text.removeprefix("v"))
    return parse_version(text)


def sort_versions(versions: Iterable[Version], *, reverse: bool = False) -> list[Version]:
    """Versions in ascending precedence (Masterminds ``Collection``); stable for equal versions."""
    return sorted(versions, reverse=reverse)


# --------------------------------------------------------------------------------------------
# Constraints
# --------------------------------------------------------------------------------------------

# Go's ``\s`` (no vertical tab, ASCII only), which the Masterminds grammar is written with.
_WS = r"[ \t\n\f\r]"
# Numeric part of a constraint version: digits or a wildcard. The ``|`` is accepted by the
# grammar (as in Masterminds) and then fails to convert, giving a parser error.
_PART = r"[0-9|xX*]+"
_IDENTS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION_PLAIN = rf"v?{_PART}(?:\.{_PART})?(?:\.{_PART})?(?:-{_IDENTS})?(?:\+{_IDENTS})?"
_VERSION_PARTS = (
    rf"v?(?P<major>{_PART})(?P<minor>\.{_PART})?(?P<patch>\.{_PART})?"
    rf"(?P<pre>-{_IDENTS})?(?:\+{_IDENTS})?"
)
# Non-empty operators; no operator means "=". Whitespace may follow an operator.
_OPS = r"!=|>=|=>|<=|=<|~>|>|<|=|~|\^"

_HYPHEN_RANGE = re.compile(rf"{_WS}*(?P<low>{_VERSION_PLAIN}){_WS}+-{_WS}+(?P<high>{_VERSION_PLAIN}){_WS}*")
# One AND group: constraints separated by whitespace or a comma (with optional whitespace).
# Written so that every character has one parse (no nested ambiguous whitespace runs), which
# keeps Python's backtracking engine linear-ish on hostile input; it accepts the same language
# as Masterminds' ``^(\s*(op)\s*(v)\s*)((?:\s+|,\s*)(op)\s*(v)\s*)*$``.
_ONE = rf"(?:(?:{_OPS}){_WS}*)?{_VERSION_PLAIN}"
_AND_GROUP = re.compile(rf"{_WS}*{_ONE}(?:(?:{_WS}*,{_WS}*|{_WS}+){_ONE})*{_WS}*")
_FIND_ONE = re.compile(rf"(?:(?P<op>{_OPS}){_WS}*)?(?P<version>{_VERSION_PARTS})")


def _is_wildcard(part: str) -> bool:
    return part in ("x", "X", "*")


def _rewrite_hyphen_ranges(text: str) -> str:
    """``A - B`` becomes ``>= A, <= B `` (each match replaced once, left to right, as Masterminds)."""
    if "-" not in text:
        return text
    out = text
    for match in _HYPHEN_RANGE.finditer(text):
        out = out.replace(match[0], f">= {match['low']}, <= {match['high']} ", 1)
    return out


_Check = Callable[["Version", "Constraint", bool], bool]


@dataclass(frozen=True)
class Constraint:
    """One comparison such as ``>=1.2`` (operator ``>=``, written version ``1.2``).

    ``version`` is the written version with wildcards and missing parts set to 0; the ``*_dirty``
    flags remember which parts were wildcards (``dirty``: any; ``minor_dirty``: the minor and
    everything after it; ``patch_dirty``: only the patch).
    """

    operator: str
    written: str
    version: Version
    dirty: bool = False
    minor_dirty: bool = False
    patch_dirty: bool = False

    def __str__(self) -> str:
        return f"{self.operator}{self.written}"

    def check(self, version: Version, include_prerelease: bool = False) -> bool:
        """Whether ``version`` satisfies this constraint alone, under the group's pre-release switch."""
        if version.prerelease and not include_prerelease:
            return False
        return _OPERATORS[self.operator](version, self, include_prerelease)


def _op_equal(v: Version, c: Constraint, include_pre: bool) -> bool:
    if c.dirty:
        return _op_tilde(v, c, include_pre)
    return v == c.version


def _op_not_equal(v: Version, c: Constraint, include_pre: bool) -> bool:
    con = c.version
    if c.dirty:
        if con.major != v.major:
            return True
        if con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.prerelease or con.prerelease:
                return _compare_prerelease(v.prerelease, con.prerelease) != 0
            return False
    return v != con


def _op_greater(v: Version, c: Constraint, include_pre: bool) -> bool:
    con = c.version
    if not c.dirty:
        return v.compare(con) > 0
    if v.major != con.major:
        return v.major > con.major
    if c.minor_dirty:
        # ">11" is not satisfied by 11.1.0; it needs 12 or more.
        return False
    if c.patch_dirty:
        return v.minor > con.minor
    return v.compare(con) > 0


def _op_less(v: Version, c: Constraint, include_pre: bool) -> bool:
    return v.compare(c.version) < 0


def _op_greater_equal(v: Version, c: Constraint, include_pre: bool) -> bool:
    return v.compare(c.version) >= 0


def _op_less_equal(v: Version, c: Constraint, include_pre: bool) -> bool:
    con = c.version
    if not c.dirty:
        return v.compare(con) <= 0
    if v.major > con.major:
        return False
    return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)


def _op_tilde(v: Version, c: Constraint, include_pre: bool) -> bool:
    con = c.version
    if v < con:
        return False
    if (con.major, con.minor, con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True  # "~0.0.0" and "~*" accept everything
    if v.major != con.major:
        return False
    return v.minor == con.minor or c.minor_dirty


def _op_caret(v: Version, c: Constraint, include_pre: bool) -> bool:
    con = c.version
    if v < con:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return v.patch == con.patch


_OPERATORS: dict[str, _Check] = {
    "": _op_equal,
    "=": _op_equal,
    "!=": _op_not_equal,
    ">": _op_greater,
    "<": _op_less,
    ">=": _op_greater_equal,
    "=>": _op_greater_equal,
    "<=": _op_less_equal,
    "=<": _op_less_equal,
    "~": _op_tilde,
    "~>": _op_tilde,
    "^": _op_caret,
}


def _build_constraint(match: re.Match[str], whole: str) -> Constraint:
    major, minor, patch = match["major"], match["minor"], match["patch"]
    pre = match["pre"] or ""
    dirty = minor_dirty = patch_dirty = False
    if _is_wildcard(major):
        dirty, text = True, f"0.0.0{pre}"
    elif minor is None or _is_wildcard(minor[1:]):
        dirty = minor_dirty = True
        text = f"{major}.0.0{pre}"
    elif patch is None or _is_wildcard(patch[1:]):
        dirty = patch_dirty = True
        text = f"{major}{minor}.0{pre}"
    else:
        text = match["version"]
    try:
        version = parse_version(text)
    except InvalidVersionError:
        raise InvalidConstraintError(whole, "constraint parser error") from None
    return Constraint(match["op"] or "", match["version"], version, dirty, minor_dirty, patch_dirty)


@dataclass(frozen=True)
class Constraints:
    """A parsed range: OR of AND groups. Use :meth:`check` to test a version."""

    groups: tuple[tuple[Constraint, ...], ...]
    text: str = ""
    include_prerelease: bool = False

    def __str__(self) -> str:
        return " || ".join(" ".join(str(c) for c in group) for group in self.groups)

    def group_allows_prerelease(self, index: int) -> bool:
        """Whether pre-release versions are considered by the AND group at ``index``."""
        return self.include_prerelease or any(c.version.prerelease for c in self.groups[index])

    def check(self, version: Version | str) -> bool:
        """Whether ``version`` (a :class:`Version` or text for :func:`parse_version`) is in range."""
        if isinstance(version, str):
            version = parse_version(version)
        for index, group in enumerate(self.groups):
            include_pre = self.group_allows_prerelease(index)
            if all(c.check(version, include_pre) for c in group):
                return True
        return False

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, Version | str):
            return False
        return self.check(version)


def parse_constraint(text: str, *, include_prerelease: bool = False) -> Constraints:
    """Parse a Masterminds range such as ``>=1.2.0 <2.0.0 || ~3.1``.

    ``include_prerelease`` is Masterminds' ``Constraints.IncludePrerelease``: consider
    pre-release versions in every group, not only in groups naming a pre-release.
    Raises :class:`InvalidConstraintError` (message ``improper constraint: <part>`` or
    ``constraint parser error``) when the text is not a valid range, or when it is longer than
    :data:`MAX_CONSTRAINT_LENGTH` bytes (Masterminds' own limit since v3.5; v3.4 had none, but no
    real range comes near it and the cap bounds the cost of parsing hostile input).
    """
    if len(text.encode()) > MAX_CONSTRAINT_LENGTH:
        raise InvalidConstraintError(text, f"constraint string is too long (max {MAX_CONSTRAINT_LENGTH} bytes)")
    rewritten = _rewrite_hyphen_ranges(text)
    groups: list[tuple[Constraint, ...]] = []
    for part in rewritten.split("||"):
        if _AND_GROUP.fullmatch(part) is None:
            raise InvalidConstraintError(text, f"improper constraint: {part}")
        groups.append(tuple(_build_constraint(m, text) for m in _FIND_ONE.finditer(part)))
    return Constraints(tuple(groups), text, include_prerelease)
