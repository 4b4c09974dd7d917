"""safeyaml: every bound of hostile YAML is refused by the right error, naming the source; ordinary
manifests (anchors and all) load exactly as the unbounded loader loads them."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from headwater.api import safeyaml
from headwater.api.safeyaml import Limits

pytestmark = pytest.mark.unit


def laughs(levels: int, fan_out: int = 9) -> str:
    """The classic alias bomb: each level refers `fan_out` times to the one before."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * fan_out)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan_out)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    """Each level merges the one before under many keys: `<<` is an alias like any other."""
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: [x, x, x]" for i in range(10)) + "}"]
    for level in range(1, 7):
        keys = ", ".join(f"k{i}: {{<<: *m{level - 1}}}" for i in range(12))
        lines.append(f"m{level}: &m{level} {{{keys}}}")
    return "\n".join(lines) + "\n"


REFUSED = [
    # (name, text, limits, error, message fragment)
    ("alias bomb", laughs(9), Limits(), safeyaml.YAMLAliasBomb, "aliases expand"),
    ("alias bomb through merge keys", merge_bomb(), Limits(), safeyaml.YAMLAliasBomb, "more than the limit"),
    ("self-referring alias", "a: &a [1, *a]\n", Limits(), safeyaml.YAMLAliasBomb, "refers to the collection"),
    ("deep flow nesting", "[" * 200_000 + "]" * 200_000, Limits(), safeyaml.YAMLTooDeep, "deeper than 512"),
    ("deep flow mappings", "{a: " * 20_000 + "1" + "}" * 20_000, Limits(), safeyaml.YAMLTooDeep, "deeper than 512"),
    ("deep block nesting", "".join(" " * i + "a:\n" for i in range(2000)) + " " * 2000 + "b: 1\n",
     Limits(), safeyaml.YAMLTooDeep, "deeper than 512"),
    ("compact nested sequences", "- " * 2000 + "x\n", Limits(), safeyaml.YAMLTooDeep, "deeper than 512"),
    ("custom depth", "a: {b: {c: {d: 1}}}\n", Limits(max_depth=3), safeyaml.YAMLTooDeep, "deeper than 3"),
    ("too large", "a: " + "x" * 2000 + "\n", Limits(max_bytes=1000), safeyaml.YAMLTooLarge, "1000 byte limit"),
    ("too large in UTF-8", "a: " + "é" * 600 + "\n", Limits(max_bytes=1000), safeyaml.YAMLTooLarge, "byte limit"),
    ("not YAML", "a: [1, 2\n", Limits(), safeyaml.InvalidYAML, "invalid YAML"),
    ("undefined alias", "a: *nowhere\n", Limits(), safeyaml.InvalidYAML, "invalid YAML"),
]


@pytest.mark.parametrize(("text", "limits", "error", "fragment"),
                         [pytest.param(*case[1:], id=case[0]) for case in REFUSED])
def test_hostile_yaml_is_refused_quickly_naming_the_source(
        text: str, limits: Limits, error: type[safeyaml.YAMLInputError], fragment: str) -> None:
    started = time.monotonic()
    with pytest.raises(error, match=fragment) as caught:
        safeyaml.load_all(text, source="apps/evil.yaml", limits=limits)
    assert str(caught.value).startswith("apps/evil.yaml: ")
    assert caught.value.source == "apps/evil.yaml"
    assert time.monotonic() - started < 5, "a refusal must not cost what the attack wanted"


ACCEPTED = [
    ("plain manifest", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"),
    ("anchors for shared labels", "x: &labels {app: web, tier: front}\na: {labels: *labels}\nb: {labels: *labels}\n"),
    ("merge keys", "base: &base {a: 1, b: 2}\nderived: {<<: *base, c: 3}\n"),
    ("asterisks that are not aliases", "verbs: ['*']\ncron: '*/5 * * * *'\nglob: \"*.yaml\"\n# *comment\n"),
    ("several documents", "a: 1\n---\nb: 2\n---\n"),
    ("timestamps stay strings", "created: 2024-01-01T00:00:00Z\n"),
    ("deep but within the limit", "[" * 300 + "]" * 300),
    ("many small documents with flow", "---\n".join("m: {a: [1, {b: 2}]}\n" for _ in range(2000))),
    ("a modest fan-out of aliases", laughs(3)),
]


@pytest.mark.parametrize("text", [pytest.param(text, id=name) for name, text in ACCEPTED])
def test_ordinary_yaml_loads_as_the_unbounded_loader_loads_it(text: str) -> None:
    expected = [d for d in yaml.load_all(text, Loader=safeyaml.Loader) if d is not None]
    assert safeyaml.load_all(text, source="ok.yaml") == expected


@pytest.mark.parametrize(("text", "bound_at_least"), [
    ("a: 1\n", 1), ("[" * 40 + "]" * 40, 40), ("- " * 30 + "x\n", 30),
    ("".join(" " * i + "k:\n" for i in range(50)), 50), ("a:\n- b:\n  - c: 1\n", 4),
])
def test_the_textual_depth_bound_never_underestimates(text: str, bound_at_least: int) -> None:
    assert safeyaml.depth_bound(text) >= bound_at_least


def test_the_depth_bound_keeps_ordinary_multi_document_output_on_the_fast_path() -> None:
    output = "---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  labels: {{a: b}}\n"
                          "data: {}\n" for i in range(5000))
    assert safeyaml.depth_bound(output) < Limits().max_depth


@pytest.mark.parametrize(("text", "expanded", "distinct"), [
    ("a: 1\n", 3, 3), ("a: &x [1, 2]\nb: *x\n", 9, 6), (laughs(3, fan_out=2), 1 + 3 + 3 + 7 + 15, 9),
])
def test_expanded_size_counts_aliases_as_copies(text: str, expanded: int, distinct: int) -> None:
    [node] = yaml.compose_all(text, Loader=safeyaml.Loader)
    assert safeyaml.expanded_size(node) == (expanded, distinct)


def test_load_refuses_several_documents_and_returns_none_for_empty() -> None:
    assert safeyaml.load("", source="empty.yaml") is None
    with pytest.raises(safeyaml.InvalidYAML, match="single document"):
        safeyaml.load("a: 1\n---\nb: 2\n", source="two.yaml")


def test_compose_all_checks_like_load_all_and_keeps_the_loader() -> None:
    nodes = safeyaml.compose_all("a: 1\n---\nb: [2]\n", source="n.yaml", loader=yaml.SafeLoader)
    assert [type(n).__name__ for n in nodes] == ["MappingNode", "MappingNode"]
    with pytest.raises(safeyaml.YAMLAliasBomb):
        safeyaml.compose_all(laughs(9), source="n.yaml", loader=yaml.SafeLoader)


@pytest.mark.parametrize("loader", [yaml.SafeLoader, safeyaml.Loader], ids=["pure-python", "default"])
@pytest.mark.parametrize("text", ["\x00", "a: \x07", "- \ufffe"], ids=["nul", "bell", "noncharacter"])
def test_unprintable_characters_are_invalid_yaml_with_every_loader(loader: Any, text: str) -> None:
    # Found by the 10-minute substitution fuzz run: the pure-Python loader refuses these while it is
    # built, before the first node, which was outside the error handling.
    with pytest.raises(safeyaml.InvalidYAML, match=r"odd\.yaml: invalid YAML: unacceptable character"):
        safeyaml.load_all(text, source="odd.yaml", loader=loader)
    with pytest.raises(safeyaml.InvalidYAML):
        safeyaml.compose_all(text, source="odd.yaml", loader=loader)


@pytest.mark.parametrize("loader", [yaml.SafeLoader, safeyaml.Loader], ids=["pure-python", "default"])
def test_deep_flow_nesting_is_refused_quickly_with_every_loader(loader: Any) -> None:
    # Found by the 10-minute fuzz run: PyYAML's pure-Python scanner (SOPS files and typed substitution use
    # it) is quadratic in flow nesting, so the depth check runs on libyaml's events for every loader.
    text = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"
    started = time.monotonic()
    with pytest.raises(safeyaml.YAMLTooDeep, match=r"nested deeper than 512 levels \(line 1\)"):
        safeyaml.load_all(text, source="deep.yaml", loader=loader)
    assert time.monotonic() - started < 5
