"""Revision strings (`headwater.artifact.revision`): a Revision or the documented ValueError.

`parse_revision` documents `ValueError`; what it parses must print and parse back the same, and the helpers
that take any stored string (`normalize_revision`, `same_revision`, `extract_hash`) never raise.
"""

from __future__ import annotations

from hypothesis import strategies as st

from headwater.artifact.revision import (
    Revision,
    digest,
    extract_hash,
    has_revision,
    normalize_revision,
    parse_revision,
    same_revision,
)
from tests.fuzz.harness import corpus_lines, fuzz, mutated_text, seeded

TARGET = "revision"
HEX = "0123456789abcdefABCDEF"

hexes = st.one_of(st.text(HEX, min_size=40, max_size=40), st.text(HEX, min_size=64, max_size=64), st.text(HEX))
names = st.one_of(st.just(""), st.sampled_from(["main", "HEAD", "feature/x", "refs/pull/1/head", "a@b"]), st.text())
grammar = st.tuples(names, st.sampled_from(["@", "/", "", "@@"]), st.sampled_from(["sha1:", "sha256:", "", "md5:"]),
                    hexes).map("".join)


def check(text: str) -> Revision:
    normalized = normalize_revision(text)
    assert isinstance(normalized, str)
    assert same_revision(text, text) is True
    assert isinstance(extract_hash(text), str)
    assert has_revision(text, text)
    revision = parse_revision(text)
    assert parse_revision(str(revision)) == Revision(revision.name, revision.algorithm, revision.hex)
    assert digest(revision.hex) == revision.digest
    assert same_revision(text, str(revision)), f"{text!r} and its current form {revision} are not the same"
    return revision


def test_revision() -> None:
    seeds = corpus_lines(TARGET)
    strategy = seeded(seeds, grammar, mutated_text(seeds, ["@", "sha1:", "sha256:", "/", "HEAD/"]))
    fuzz(TARGET, strategy, check, allowed=(ValueError,), seeds=seeds, max_examples=150,
         dump=lambda text: (".txt", text.encode("utf-8", "surrogateescape")))
