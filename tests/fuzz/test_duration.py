"""Go durations (`headwater.api.duration`): a Duration or DurationError, and what parses prints back the same."""

from __future__ import annotations

from hypothesis import strategies as st

from headwater.api.duration import (
    Duration,
    DurationError,
    is_flux_duration,
    parse_duration,
    parse_positive,
    seconds_or,
)
from tests.fuzz.harness import corpus_lines, fuzz, mutated_text, seeded

TARGET = "duration"
UNITS = ["ns", "us", "µs", "μs", "ms", "s", "m", "h", "", "d", "x", "\u017f"]  # the last: long s, upper() is S

digits = st.one_of(st.text("0123456789", max_size=25), st.integers(1, 6000).map(lambda n: "9" * n))
component = st.tuples(digits, st.one_of(st.just(""), digits.map(lambda d: "." + d)), st.sampled_from(UNITS))
grammar = st.tuples(st.sampled_from(["", "-", "+"]), st.lists(component, max_size=6)).map(
    lambda t: t[0] + "".join(w + f + u for w, f, u in t[1])
)


def check(text: str) -> Duration | None:
    assert isinstance(is_flux_duration(text), bool)
    assert isinstance(is_flux_duration(text, hours=False), bool)
    assert isinstance(seconds_or(text, 1.0), float)
    try:
        parse_positive(text)
    except DurationError as err:
        assert len(str(err)) < 300, "an error message must stay short whatever the input"
    value = parse_duration(text)
    assert parse_duration(str(value)) == value, f"{text!r} -> {value} does not parse back"
    assert parse_duration(value.compact()) == value
    return value


def test_duration() -> None:
    seeds = corpus_lines(TARGET)
    strategy = seeded(seeds, grammar, mutated_text(seeds, UNITS), st.text(max_size=40))
    fuzz(TARGET, strategy, check, allowed=(DurationError,), seeds=seeds, max_examples=200,
         dump=lambda text: (".txt", text.encode("utf-8", "surrogateescape")))
