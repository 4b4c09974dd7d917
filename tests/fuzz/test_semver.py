"""Semantic versions and ranges (`headwater.source.semver`): a value or a SemverError, never anything else.

A parsed version must print and parse back to an equal version, compare with any other, and every parsed
range must answer `check` with a bool for any version (with and without `include_prerelease`).
"""

from __future__ import annotations

from hypothesis import strategies as st

from headwater.source.semver import (
    SemverError,
    Version,
    parse_constraint,
    parse_flux_version,
    parse_strict_version,
    parse_version,
)
from tests.fuzz.harness import corpus_lines, fuzz, mutated_text, seeded

TARGET = "semver"
TOKENS = ["v", ".", "-", "+", "x", "*", "||", ">=", "<=", "~", "^", "!=", " - ", ",", "0", "18446744073709551616"]

number = st.one_of(st.integers(0, 2**70).map(str), st.integers(1, 6000).map(lambda n: "7" * n), st.sampled_from("xX*"))
ident = st.text("abz0129-", min_size=0, max_size=8)
version = st.tuples(
    st.sampled_from(["", "v"]),
    st.lists(number, min_size=1, max_size=4).map(".".join),
    st.lists(ident, max_size=3).map(lambda ids: "-" + ".".join(ids) if ids else ""),
    st.lists(ident, max_size=2).map(lambda ids: "+" + ".".join(ids) if ids else ""),
).map("".join)
operator = st.sampled_from(["", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^"])
constraint = st.lists(st.lists(st.tuples(operator, st.sampled_from(["", " "]), version).map("".join), min_size=1,
                               max_size=3).map(" ".join), min_size=1, max_size=3).map(" || ".join)


def _versions(text: str) -> list[Version]:
    parsed = []
    for parse in (parse_version, parse_strict_version, parse_flux_version):
        try:
            value = parse(text)
        except SemverError as err:
            assert len(str(err)) < 300, "an error message must stay short whatever the input"
            continue
        assert parse_version(str(value)) == value, f"{text!r} -> {value} does not parse back"
        parsed.append(value)
    return parsed


def check(pair: tuple[str, str]) -> bool:
    text, other = pair
    versions = _versions(text) + _versions(other) + [parse_version("1.2.3"), parse_version("1.2.3-rc.1")]
    for left in versions:
        for right in versions:
            assert (left < right) + (left == right) + (left > right) == 1
    ranges = parse_constraint(text)
    for include in (False, True):
        again = parse_constraint(text, include_prerelease=include)
        for candidate in versions:
            assert isinstance(again.check(candidate), bool)
    return bool(ranges.groups)


def test_semver() -> None:
    seeds = corpus_lines(TARGET)
    texts = seeded(seeds, version, constraint, mutated_text(seeds, TOKENS), st.text(max_size=30))
    fuzz(TARGET, st.tuples(texts, texts), check, allowed=(SemverError,),
         seeds=[(s, "1.0.0") for s in seeds], max_examples=150,
         dump=lambda pair: (".txt", pair[0].encode("utf-8", "surrogateescape")))
