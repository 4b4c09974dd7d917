"""YAML from untrusted sources (`headwater.api.safeyaml`), through its public interface only.

`load(text, source=...)` and `load_all(text, source=...)` give documents or a `YAMLInputError` whose
message starts with the source; never another exception, a hang or a crash.

`test_safeyaml_documented_limits` checks the bounds safeyaml documents, each in a child process so a
crash of libyaml's C composer would show as a failure instead of ending the run: `Limits.max_depth`
(also at a depth that overflows the composer's C stack when unchecked), `Limits.max_alias_nodes`, and
explicit tags whose value does not construct (`!!int x`), which are refused as InvalidYAML.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import strategies as st

from headwater.api import safeyaml
from tests.fuzz.harness import FuzzFailure, corpus_text, fuzz, mutated_text, run_isolated, seeded

TARGET = "safeyaml"
TOKENS = ["---", "...", "&a", "*a", "<<:", "!!", "!!binary", "? ", ": ", "- ", "[", "]", "{", "}", ",", "|", ">",
          "'", '"', "#", "%YAML 1.1", "%TAG", "\t", "\ufeff", "\x00", "\\x"]
SOURCE = "repo/apps/deployment.yaml"
MAX_NESTING = 50_000  # far past Limits.max_depth; refused from the text before the scanner sees it

scalar = st.one_of(st.sampled_from(["a", "1", "0x1F", "yes", "~", "'q'", '"d"', "2024-01-01", ".nan", "!!int 3"]),
                   st.text(max_size=6))
nested = st.tuples(st.integers(1, MAX_NESTING), st.sampled_from([("[", "]"), ("{a: ", "}")])).map(
    lambda t: "k: " + t[1][0] * t[0] + "x" + t[1][1] * t[0])
bomb = st.integers(2, 12).map(
    lambda n: "a0: &a0 [x, x, x, x, x, x, x, x]\n"
    + "\n".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 8)}]" for i in range(1, n)))
lines = st.lists(st.tuples(st.sampled_from(["", "  ", "    ", "- ", "  - "]), st.sampled_from(["k", "k2", "<<"]),
                           st.sampled_from([": ", ":", " "]), scalar).map("".join), max_size=10).map("\n".join)


def check(text: str) -> str:
    outcomes = []
    for load in (lambda: [safeyaml.load(text, source=SOURCE)], lambda: safeyaml.load_all(text, source=SOURCE),
                 lambda: safeyaml.load_all(text, source=SOURCE, loader=yaml.SafeLoader)):  # the pure-Python one
        try:
            documents = load()
            assert isinstance(documents, list)
        except safeyaml.YAMLInputError as err:
            assert str(err).startswith(f"{SOURCE}: "), f"the error does not name the source: {err}"
            assert err.source == SOURCE
            assert err.detail
            outcome = type(err).__name__
        else:
            outcome = "documents"
        outcomes.append(outcome)
    return "/".join(outcomes)


def test_safeyaml() -> None:
    seeds = corpus_text(TARGET)
    strategy = seeded(seeds, lines, nested, bomb, mutated_text(seeds, TOKENS))
    fuzz(TARGET, strategy, check, allowed=(), seeds=seeds, max_examples=120,
         dump=lambda text: (".yaml", text.encode("utf-8", "surrogateescape")))


def _refused(text: str, error: type[safeyaml.YAMLInputError]) -> str:
    try:
        safeyaml.load(text, source=SOURCE)
    except error:
        return "refused"
    raise AssertionError(f"not refused with {error.__name__}")


@pytest.mark.parametrize(("name", "text", "error"), [
    ("deeper than max_depth", "a: " + "[" * 600 + "]" * 600, safeyaml.YAMLTooDeep),
    ("deep enough to crash libyaml's composer", "a: " + "[" * 200_000 + "]" * 200_000, safeyaml.YAMLTooDeep),
    ("!!int that is not an integer", "a: !!int x", safeyaml.InvalidYAML),
    ("!!float that is not a float", "a: !!float x", safeyaml.InvalidYAML),
    ("!!bool that is not a boolean", "a: !!bool maybe", safeyaml.InvalidYAML),
    ("!!timestamp that is not a time", "a: !!timestamp x", safeyaml.InvalidYAML),
    ("aliases expanding past max_alias_nodes", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "\n".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)), safeyaml.YAMLAliasBomb),
])
def test_safeyaml_documented_limits(name: str, text: str, error: type[safeyaml.YAMLInputError]) -> None:
    try:
        run_isolated(lambda t: _refused(t, error), text, ())
    except FuzzFailure as failure:
        raise AssertionError(f"{name}: {str(failure)[-300:]}") from None
