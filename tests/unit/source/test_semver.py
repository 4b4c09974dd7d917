"""Unit tests for headwater.source.semver (Masterminds/semver v3.4 behaviour)."""

from __future__ import annotations

import pytest

from headwater.source.semver import (
    MAX_CONSTRAINT_LENGTH,
    InvalidConstraintError,
    InvalidVersionError,
    SemverError,
    Version,
    parse_constraint,
    parse_flux_version,
    parse_strict_version,
    parse_version,
    sort_versions,
)

pytestmark = pytest.mark.unit


# ---------------------------------------------------------------------------------------------
# Parsing versions
# ---------------------------------------------------------------------------------------------

LOOSE_VALID = [
    # text, (major, minor, patch, prerelease, metadata), str()
    ("1.2.3", (1, 2, 3, "", ""), "1.2.3"),
    ("v1.2.3", (1, 2, 3, "", ""), "1.2.3"),
    ("1", (1, 0, 0, "", ""), "1.0.0"),
    ("1.2", (1, 2, 0, "", ""), "1.2.0"),
    ("v1.2", (1, 2, 0, "", ""), "1.2.0"),
    ("1.2-5", (1, 2, 0, "5", ""), "1.2.0-5"),
    ("1.2-beta.5", (1, 2, 0, "beta.5", ""), "1.2.0-beta.5"),
    ("1.2.0-x.Y.0+metadata", (1, 2, 0, "x.Y.0", "metadata"), "1.2.0-x.Y.0+metadata"),
    ("1.2.0-x.Y.0+metadata-width-hyphen", (1, 2, 0, "x.Y.0", "metadata-width-hyphen"), None),
    ("1.2.3-rc1-with-hyphen", (1, 2, 3, "rc1-with-hyphen", ""), None),
    ("1.2.3+build.01", (1, 2, 3, "", "build.01"), None),  # metadata may have leading zeros
    ("01.02.03", (1, 2, 3, "", ""), "1.2.3"),  # CoerceNewVersion (v3.4 default) allows them
    ("0.0.0", (0, 0, 0, "", ""), None),
    ("18446744073709551615.0.0", (2**64 - 1, 0, 0, "", ""), None),
    ("1.2.3-0", (1, 2, 3, "0", ""), None),
    ("1.2.3-de-v.1", (1, 2, 3, "de-v.1", ""), None),
]


@pytest.mark.parametrize(("text", "parts", "normal"), LOOSE_VALID)
def test_parse_version_loose(text: str, parts: tuple[int, int, int, str, str], normal: str | None) -> None:
    version = parse_version(text)
    assert (version.major, version.minor, version.patch, version.prerelease, version.metadata) == parts
    assert version.original == text
    assert str(version) == (normal or text)


LOOSE_INVALID = [
    "",
    "v",
    "V1.2.3",  # only a lowercase v
    "1.2.beta",
    "1.2.3.4",
    "\nv1.2",
    "1.2.3 ",
    " 1.2.3",
    "1.2.3-",
    "1.2.3-dev..1",
    "1.2.3-dev.01",  # numeric pre-release identifier with a leading zero
    "1.2.3-023658",
    "1.2.3+",
    "1.2.3+meta..x",
    "1.2.3-beta_1",
    "18446744073709551616.0.0",  # overflows uint64
    "x.y.z",
    "vv1.2.3",
]


@pytest.mark.parametrize("text", LOOSE_INVALID)
def test_parse_version_loose_rejects(text: str) -> None:
    with pytest.raises(InvalidVersionError) as info:
        parse_version(text)
    assert info.value.text == text
    assert isinstance(info.value, SemverError)
    assert isinstance(info.value, ValueError)


STRICT = [
    ("1.2.3", True),
    ("1.2.3-alpha.01", False),
    ("1.2.3+test.01", True),
    ("1.2.3-alpha.-1", True),
    ("v1.2.3", False),
    ("1.0", False),
    ("1", False),
    ("1.2.beta", False),
    ("1.2-5", False),
    ("1.2-beta.5", False),
    ("\n1.2", False),
    ("1.2.0-x.Y.0+metadata", True),
    ("1.2.0-x.Y.0+metadata-width-hyphen", True),
    ("1.2.3-rc1-with-hyphen", True),
    ("1.2.3.4", False),
    ("1.2.2147483648", True),
    ("1.2147483648.3", True),
    ("2147483648.3.0", True),
    ("01.2.3", False),
    ("1.02.3", False),
    ("1.2.03", False),
    ("", False),
    ("1.2.3-", False),
    ("1.2.3+", False),
    ("1.2.3-a..b", False),
]


@pytest.mark.parametrize(("text", "ok"), STRICT)
def test_parse_strict_version(text: str, ok: bool) -> None:
    if ok:
        assert str(parse_strict_version(text)) == text
    else:
        with pytest.raises(InvalidVersionError):
            parse_strict_version(text)


FLUX_TAGS = [
    # fluxcd/pkg version.ParseVersion: strict, but one leading "v" allowed
    ("v1.2.3", True),
    ("1.2.3", True),
    ("v1.0", False),
    ("v1", False),
    ("v1.2.beta", False),
    ("v1.2-5", False),
    ("v1.2-beta.5", False),
    ("\nv1.2", False),
    ("v1.2.0-x.Y.0+metadata", True),
    ("v1.2.0-x.Y.0+metadata-width-hypen", True),
    ("v1.2.3-rc1-with-hypen", True),
    ("v1.2.3.4", False),
    ("vv1.2.3", False),
    ("V1.2.3", False),
    ("v01.2.3", False),
    ("release-1.0.0", False),
]


@pytest.mark.parametrize(("text", "ok"), FLUX_TAGS)
def test_parse_flux_version(text: str, ok: bool) -> None:
    if ok:
        version = parse_flux_version(text)
        assert version.original == text
        assert str(version) == text.removeprefix("v")
    else:
        with pytest.raises(InvalidVersionError):
            parse_flux_version(text)


def test_version_defaults_original_to_normal_form() -> None:
    assert Version(1, 2, 3, "rc.1", "b5").original == "1.2.3-rc.1+b5"
    assert Version(1, 2, 3).is_prerelease is False
    assert Version(1, 2, 3, "rc.1").is_prerelease is True


# ---------------------------------------------------------------------------------------------
# Precedence
# ---------------------------------------------------------------------------------------------

COMPARISONS = [
    ("1.2.3", "1.5.1", -1),
    ("2.2.3", "1.5.1", 1),
    ("2.2.3", "2.2.2", 1),
    ("3.2-beta", "3.2-beta", 0),
    ("1.3", "1.1.4", 1),
    ("4.2", "4.2-beta", 1),
    ("4.2-beta", "4.2", -1),
    ("4.2-alpha", "4.2-beta", -1),
    ("4.2-alpha", "4.2-alpha", 0),
    ("4.2-beta.2", "4.2-beta.1", 1),
    ("4.2-beta2", "4.2-beta1", 1),
    ("4.2-beta", "4.2-beta.2", -1),
    ("4.2-beta", "4.2-beta.foo", -1),
    ("4.2-beta.2", "4.2-beta", 1),
    ("4.2-beta.foo", "4.2-beta", 1),
    ("1.2+bar", "1.2+baz", 0),
    ("1.0.0-beta.4", "1.0.0-beta.-2", -1),
    ("1.0.0-beta.-2", "1.0.0-beta.-3", -1),
    ("1.0.0-beta.-3", "1.0.0-beta.5", 1),
    ("1.0.0-beta.11", "1.0.0-beta.2", 1),  # numeric identifiers compare as numbers
    ("1.0.0-rc.1", "1.0.0-alpha.9", 1),
    ("1.0.0-1", "1.0.0-alpha", -1),  # numeric sorts before alphanumeric
    ("1.0.0-Alpha", "1.0.0-alpha", -1),  # ASCII order
    ("v1.0.0", "1.0.0", 0),
    ("10.0.0", "9.99.99", 1),
]


@pytest.mark.parametrize(("left", "right", "expected"), COMPARISONS)
def test_compare(left: str, right: str, expected: int) -> None:
    a, b = parse_version(left), parse_version(right)
    assert a.compare(b) == expected
    assert b.compare(a) == -expected
    assert (a == b) is (expected == 0)
    assert (a < b) is (expected < 0)
    assert (a > b) is (expected > 0)


def test_semver_spec_example_ordering() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    shuffled = [ordered[i] for i in (5, 0, 10, 3, 8, 1, 7, 9, 2, 6, 4)]
    assert [str(v) for v in sort_versions(parse_version(s) for s in shuffled)] == ordered
    assert [str(v) for v in sort_versions((parse_version(s) for s in shuffled), reverse=True)] == ordered[::-1]


def test_collection_sort_like_masterminds() -> None:
    raw = ["1.2.3", "1.0", "1.3", "2", "0.4.2"]
    assert [str(v) for v in sort_versions(parse_version(s) for s in raw)] == [
        "0.4.2",
        "1.0.0",
        "1.2.3",
        "1.3.0",
        "2.0.0",
    ]


def test_metadata_is_ignored_for_equality_and_hash() -> None:
    a, b = parse_version("1.2.3+a"), parse_version("v1.2.3+b")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a.original != b.original


def test_version_is_not_equal_to_other_types() -> None:
    assert parse_version("1.0.0") != "1.0.0"


# ---------------------------------------------------------------------------------------------
# Constraints: matches and non-matches
# ---------------------------------------------------------------------------------------------

CHECKS = [
    # equality and wildcards
    ("=2.0.0", "1.2.3", False),
    ("=2.0.0", "2.0.0", True),
    ("=2.0", "2.0.1", True),
    ("= 2.0", "1.2.3", False),
    ("4.1", "4.1.0", True),
    ("4.1.x", "4.1.3", True),
    ("1.x", "1.4", True),
    ("2.*", "3.4.5", False),
    ("2.1.*", "2.2.1", False),
    ("2", "2.1.1", True),
    ("2", "3.4.5", False),
    ("*", "4.5.6", True),
    ("x", "0.0.1", True),
    ("0.x.x", "1.2.3", False),
    ("0.0.x", "1.2.3", False),
    ("0.0.0", "1.2.3", False),
    ("v1.2.3", "1.2.3", True),
    ("1.2.3+build", "1.2.3", True),
    # not equal
    ("!=4.1.0", "4.1.0", False),
    ("!=4.1.0", "4.1.1", True),
    ("!=4.1", "4.1.1", False),
    ("!=4.1", "5.1.0", True),
    ("!=4.x", "4.1.0", False),
    ("!=4.x", "5.1.0", True),
    ("!=4.1.x", "4.2.0", True),
    ("!=4.2.x", "4.2.3", False),
    ("!=4.1-alpha", "4.1.0", True),
    ("!=4.1-alpha", "4.1.0-alpha", False),
    ("!=4.1-alpha", "4.1.1-alpha", False),
    # less / greater
    ("<11", "0.1.0", True),
    ("<11", "11.1.0", False),
    ("<1.1", "1.1.0", False),
    ("<1.x", "0.1.1", True),
    ("<1.x", "1.1.1", False),
    ("<1.1.x", "1.0.500", True),
    ("<1.1.x", "1.1.500", False),
    ("<=11", "11.2.3", True),
    ("<=11", "12.2.3", False),
    ("<=1.1", "1.1.1", True),
    ("<=1.1", "1.2.3", False),
    ("<=2.x", "3.0.0", False),
    ("<=1.1.x", "1.2.500", False),
    ("=<1.1", "1.1.0", True),
    (">1.1", "4.1.0", True),
    (">1.1", "1.1.0", False),
    (">11", "11.1.0", False),
    (">11.1", "11.1.1", False),
    (">11.1", "11.2.1", True),
    (">0", "1", True),
    (">0", "0", False),
    (">=11.1", "11.0.2", False),
    (">=1.1", "1.1.0", True),
    ("=>1.1", "4.1.0", True),
    (">=0", "0", True),
    # AND (comma or whitespace) and OR
    (">1.1, <2", "1.1.1", False),
    (">1.1, <2", "1.2.1", True),
    (">1.1 <2", "1.2.1", True),
    (">1.1    <3", "4.3.2", False),
    (">= 1.1, <     2, !=1.2.3", "1.2.3", False),
    (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", True),
    (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", False),
    (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", True),
    (">=1.1,<2", "1.5.0", True),
    (">=1.1 , <2", "1.5.0", True),
    ("12.3.34 ~1.2.3", "12.3.34", False),
    # hyphen ranges
    ("1.1 - 2", "1.1.1", True),
    ("1.1 - 2", "2.9.9", True),
    ("1.1 - 2", "3.0.0", False),
    ("1.5.0 - 4.5", "3.7.0", True),
    ("1.2 - 1.4.5", "1.4.5", True),
    ("1.2 - 1.4.5", "1.4.6", False),
    ("1.2 - 1.4.5", "1.1.9", False),
    ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", True),
    ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", True),
    ("2 - 3 || 4.0.0 - 5.1", "5.1.0", True),
    ("1.1-3", "4.3.2", False),  # no spaces: a pre-release, not a range
    # tilde
    ("~1.2.3", "1.2.4", True),
    ("~1.2.3", "1.3.4", False),
    ("~1.2.3", "1.2.2", False),
    ("~1.2", "1.2.4", True),
    ("~1.2", "1.3.4", False),
    ("~1", "1.2.4", True),
    ("~1", "2.3.4", False),
    ("~1.x", "1.3.5", True),
    ("~>1.2", "1.2.9", True),
    ("~0.2.3", "0.2.5", True),
    ("~0.2.3", "0.3.5", False),
    ("~0.0.0", "1.2.3", True),
    ("~*", "2.1.1", True),
    # caret
    ("^1.2.3", "1.8.9", True),
    ("^1.2.3", "2.8.9", False),
    ("^1.2.3", "1.2.1", False),
    ("^1.2", "1.8.9", True),
    ("^1", "1.8.9", True),
    ("^1", "2.8.9", False),
    ("^1.x", "1.1.1", True),
    ("^2.x", "1.1.1", False),
    ("^0.2.3", "0.2.5", True),
    ("^0.2.3", "0.5.6", False),
    ("^0.2", "0.2.5", True),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.3", True),
    ("^0.0", "0.1.4", False),
    ("^0", "0.2.3", True),
    ("^0", "1.1.4", False),
    ("^0.0.0", "1.2.3", False),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), CHECKS)
def test_constraint_check(constraint: str, version: str, expected: bool) -> None:
    assert parse_constraint(constraint).check(parse_version(version)) is expected


PRERELEASE_RULE = [
    # A group considers pre-releases only when one of its constraints names a pre-release.
    ("*", "1.2.3-alpha.1", False),
    ("*-0", "1.2.3-alpha.1", True),
    (">=1.1", "4.1.0-beta", False),
    ("<=1.1", "0.1.0-alpha", False),
    ("<=1.1-a", "0.1.0-alpha", True),
    (">0", "0.0.1-alpha", False),
    (">0-0", "0.0.1-alpha", False),  # 0-0 is 0.0.0-0 with minor dirty: ">0" needs major >= 1
    (">=0-0", "0.0.1-alpha", True),
    (">=0.0.0-0", "3.4.5-beta.1", True),
    (">0.0.0-0", "0.0.0-alpha", True),
    ("<0", "0.0.0-alpha", False),
    ("<0-z", "0.0.0-alpha", True),
    (">1.2.3-alpha.1", "1.2.3-alpha.2", True),
    (">1.2.3-alpha.1", "1.3.3-alpha.2", True),  # any X.Y.Z, unlike npm
    ("~1.1", "1.1.1-alpha", False),
    ("~1.1-alpha", "1.1.1-beta", True),
    ("~1.1.1-beta", "1.1.1-alpha", False),
    ("~1.1.1-beta", "1.1.1", True),
    ("~1.2.3-beta.2", "1.2.4-beta.2", True),
    ("~1.2.3-beta.2", "1.3.4-beta.2", False),
    ("^1.2.0", "1.2.1-alpha.1", False),
    ("^1.2.0-alpha.0", "1.2.1-alpha.1", True),
    ("^1.2.0-alpha.2", "1.2.0-alpha.1", False),
    ("^1.x", "1.1.1-beta1", False),
    ("^1.1.2-alpha", "1.2.1-beta1", True),
    ("^0.2.3-beta.2", "0.2.4-beta.2", True),
    ("^0.2.3-beta.2", "0.3.4-beta.2", False),
    ("!=4.1", "5.1.0-alpha.1", False),
    # v3.4: the pre-release anywhere in an AND group opens the whole group ...
    (">=1.2.0-alpha, <1.3.0", "1.2.5-beta", True),
    (">=1.2.0-alpha <1.3.0", "1.3.0-alpha", True),
    # ... but not other OR groups.
    (">=1.0.0 <2.0.0 || >=3.0.0-rc.1", "1.5.0-rc.1", False),
    (">=1.0.0 <2.0.0 || >=3.0.0-rc.1", "3.0.0-rc.2", True),
    ("1.0.0 - 2.0.0", "1.5.0-rc.1", False),
    ("1.0.0-0 - 2.0.0", "1.5.0-rc.1", True),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), PRERELEASE_RULE)
def test_prerelease_rule(constraint: str, version: str, expected: bool) -> None:
    assert parse_constraint(constraint).check(version) is expected


@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [
        (">=1.0.0", "1.5.0-rc.1", True),
        ("*", "1.2.3-alpha.1", True),
        ("^1.2.0", "1.2.1-alpha.1", True),
        ("^1.2.0", "2.0.0-alpha.1", False),
        ("~1.2", "1.2.0-alpha", False),  # below 1.2.0 in precedence
    ],
)
def test_include_prerelease_switch(constraint: str, version: str, expected: bool) -> None:
    assert parse_constraint(constraint).check(version) is False
    assert parse_constraint(constraint, include_prerelease=True).check(version) is expected


def test_check_accepts_text_and_supports_in() -> None:
    constraints = parse_constraint("^1.2")
    assert constraints.check("v1.9.0")
    assert "1.9.0" in constraints
    assert parse_version("2.0.0") not in constraints
    assert 3 not in constraints


def test_constraints_string_form() -> None:
    assert str(parse_constraint(">= 1.2.3, < 2.0 || => 3.0 < 4")) == ">=1.2.3 <2.0 || =>3.0 <4"
    assert str(parse_constraint("1.2 - 1.4.5")) == ">=1.2 <=1.4.5"
    assert parse_constraint("^1").text == "^1"


STRUCTURE = [
    (">= 1.1", [1]),
    (">40.50.60, < 50.70", [2]),
    ("v2.3.5-20161202202307-sha.e8fc5e5", [1]),
    (">= 1.2.3 < 2.0 || => 3.0 < 4", [2, 2]),
    ("3 - 4 || => 3.0, < 4", [2, 2]),
    ("1.0.0 - 2.0.0, <=2.0.0", [3]),
    ("12.3.34 ~1.2.3", [2]),
]


@pytest.mark.parametrize(("constraint", "sizes"), STRUCTURE)
def test_constraint_groups(constraint: str, sizes: list[int]) -> None:
    assert [len(group) for group in parse_constraint(constraint).groups] == sizes


def test_parsed_constraint_details() -> None:
    (group,) = parse_constraint(">= 1.2").groups
    (c,) = group
    assert (c.operator, c.written, str(c.version), c.dirty, c.minor_dirty, c.patch_dirty) == (
        ">=",
        "1.2",
        "1.2.0",
        True,
        False,
        True,
    )
    (c,) = parse_constraint("~1").groups[0]
    assert (str(c.version), c.minor_dirty) == ("1.0.0", True)
    (c,) = parse_constraint("*-0").groups[0]
    assert str(c.version) == "0.0.0-0"


# ---------------------------------------------------------------------------------------------
# Constraints: invalid input
# ---------------------------------------------------------------------------------------------

INVALID_CONSTRAINTS = [
    ("", "improper constraint: "),
    ("   ", "improper constraint:    "),
    ("foo", "improper constraint: foo"),
    (">= bar", "improper constraint: >= bar"),
    ("BAR >= 1.2.3", "improper constraint: BAR >= 1.2.3"),
    ("12.3.4.1234", "improper constraint: 12.3.4.1234"),
    ("12.3.34~ 1.2.3", "improper constraint: 12.3.34~ 1.2.3"),
    (">=1.0.0<2.0.0", "improper constraint: >=1.0.0<2.0.0"),
    ("1.0 ||", "improper constraint: "),
    ("|| 1.0", "improper constraint: "),
    (">>1.0", "improper constraint: >>1.0"),
    ("=>=1.0", "improper constraint: =>=1.0"),
    ("V1.2.3", "improper constraint: V1.2.3"),
    ("1.2.3,", "improper constraint: 1.2.3,"),
    ("1.2.3-01", "constraint parser error"),
    ("1x", "constraint parser error"),
    ("1.2.x3", "constraint parser error"),
    ("99999999999999999999", "constraint parser error"),
    ("1|2", "constraint parser error"),
]


@pytest.mark.parametrize(("constraint", "message"), INVALID_CONSTRAINTS)
def test_invalid_constraints(constraint: str, message: str) -> None:
    with pytest.raises(InvalidConstraintError) as info:
        parse_constraint(constraint)
    assert str(info.value) == message
    assert info.value.constraint == constraint
    assert isinstance(info.value, SemverError)


def test_constraint_length_limit() -> None:
    ok = ">=1.0.0" + " " * (MAX_CONSTRAINT_LENGTH - 7)
    assert parse_constraint(ok).check("1.0.0")
    with pytest.raises(InvalidConstraintError, match="too long"):
        parse_constraint(ok + " ")


def test_hostile_input_is_rejected_quickly() -> None:
    # Long whitespace runs between many constraints must not make the parser backtrack forever.
    hostile = ">=1" + "   >=1" * 80 + " !"
    with pytest.raises(InvalidConstraintError):
        parse_constraint(hostile)
