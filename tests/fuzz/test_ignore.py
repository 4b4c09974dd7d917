"""`.sourceignore` / `spec.ignore` patterns (`headwater.artifact.ignore`): every input is a matcher, every
question a bool. Nothing in this module may raise on any text: a malformed glob simply never matches."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import strategies as st

from headwater.artifact.ignore import (
    IGNORE_FILE,
    Match,
    go_filepath_match,
    read_patterns,
    source_ignore_matcher,
    tree_matcher,
)
from tests.fuzz.harness import corpus_text, fuzz, mutated_text, seeded

TARGET = "ignore"
TOKENS = ["*", "**", "?", "[", "]", "^", "-", "\\", "/", "!", "#", "a", "b", ".", " ", "\r"]

glob_chars = st.sampled_from(["*", "**", "?", "[a-z]", "[^/]", "[", "]", "\\", "/", "!", "a", "b", ".", "-", "é", " "])
line = st.lists(glob_chars, max_size=12).map("".join)
pattern_text = st.lists(line, max_size=8).map("\n".join)
component = st.one_of(st.sampled_from(["a", "b", "ab", "aaaa" * 20, ".git", "docs", "keep.yaml", "x.jpg", "é", "*"]),
                      st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=12))
paths = st.lists(st.tuples(st.lists(component, min_size=1, max_size=5).map(tuple), st.booleans()), max_size=6)


def check(case: tuple[str, list[tuple[tuple[str, ...], bool]]]) -> int:
    text, questions = case
    patterns = read_patterns(text) + read_patterns(text.encode("utf-8", "surrogateescape"), ("sub",))
    matcher = source_ignore_matcher(patterns)
    for path, is_dir in questions:
        assert isinstance(matcher.excludes(path, is_dir), bool)
        assert matcher.decide(path, is_dir) in Match
        for pattern in patterns[:20]:
            for name in path:
                assert isinstance(go_filepath_match(pattern.source, name), bool)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sub" / ".git").mkdir(parents=True)
        (root / IGNORE_FILE).write_text(text, errors="surrogateescape")
        (root / "sub" / IGNORE_FILE).write_bytes(text.encode("utf-8", "surrogateescape") + b"\xff\n")
        tree = tree_matcher(root, spec_ignore=text)
        for path, is_dir in questions:
            assert isinstance(tree(path, is_dir), bool)
    return len(patterns)


def test_ignore() -> None:
    seeds = corpus_text(TARGET)
    texts = seeded(seeds, pattern_text, mutated_text(seeds, TOKENS))
    seed_paths = [(("a", "b"), False), (("docs", "keep.yaml"), False), (("x", "secrets", "y"), True),
                  (("a" * 80 + "c",), False)]
    fuzz(TARGET, st.tuples(texts, paths), check, allowed=(), seeds=[(s, seed_paths) for s in seeds],
         max_examples=100, dump=lambda case: (".sourceignore", case[0].encode("utf-8", "surrogateescape")))
