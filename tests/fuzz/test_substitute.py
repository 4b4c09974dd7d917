"""Post-build variable substitution (`headwater.kustomize.substitute`, `typed_substitution`).

Templates come from the repository and variable values from tenant ConfigMaps and Secrets, so both are
hostile: any text, any value. `envsubst` gives a string or an EnvsubstError; `substitute_object` (Flux's
text round trip, with and without the printed manifest) and the schema-typed `substitute` give an object
or a SubstitutionError. Never a RecursionError, a crash in the YAML parser, or an expansion bomb.
"""

from __future__ import annotations

import asyncio
from typing import Any

import yaml
from hypothesis import strategies as st

from headwater.kustomize.substitute import EnvsubstError, SubstitutionError, envsubst, substitute_object
from headwater.kustomize.typed_substitution import substitute
from headwater.runtime.kube.openapi import OpenAPITypes
from headwater.testing.fakekube import FakeKube
from tests.fuzz.harness import corpus_text, fuzz, mutated_text, seeded

TARGET = "substitute"
TOKENS = ["${", "}", "$$", ":=", ":-", "=", ":", "#", "##", "%", "%%", "/", "//", "/#", "/%", "^", "^^", ",", ",,",
          "\\/", "\\\\", "A", "REPLICAS", "[", "*", "?"]
NAMES = ["A", "ENV", "IMAGE", "TAG", "REPLICAS", "PORT", "TARGET_PORT", "PUBLISH", "NAMESPACE", "APP_NAME", "_x",
         "1BAD", "bad-name", ""]
VALUES = ["", "prod", "podinfo", "v1.2.3", "3", "8080", "true", "y", "0x1F", "1e3", "-.inf", ".nan", "1" * 5000,
          "[" * 20000, "{a: " * 3000, "&a [*a, *a]", "x: y", "'quoted", '"', "${A}", "$$", "null", "~", "2024-01-01",
          "a\nb", "\x00", "\ud800", "é" * 10]

template = st.lists(st.one_of(st.sampled_from(TOKENS), st.sampled_from(NAMES), st.text(max_size=4)),
                    max_size=30).map("".join)
values = st.one_of(st.sampled_from(VALUES), st.text(max_size=20),
                   st.integers(1, 200).map(lambda n: "[" * n * 100 + "]" * n * 100),
                   st.integers(2, 30).map(lambda n: "&a [" + ", ".join(["*a"] * n) + "]"))
variables = st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=5)), values, max_size=6)


def _object(text: str) -> dict[str, Any] | None:
    try:
        loaded = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) and all(isinstance(k, str) for k in loaded) else None


def check(case: tuple[str, dict[str, str], bool]) -> str:
    text, variables, strict = case
    try:
        out = envsubst(text, variables, strict)
        assert isinstance(out, str)
    except EnvsubstError as err:
        assert len(str(err)) < 300
    obj = _object(text)
    if obj is None:
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": text}}
    outcomes = []
    for manifest in (text, None):
        try:
            result = substitute_object(obj, variables, strict, always=True, manifest=manifest)
            assert isinstance(result, dict)
            outcomes.append("object")
        except SubstitutionError as err:
            outcomes.append(str(err).split(":")[0][:20])
    try:
        typed = asyncio.run(substitute(obj, variables, strict, OpenAPITypes(FakeKube()), always=True))
        assert isinstance(typed, dict)
        outcomes.append("typed")
    except SubstitutionError:
        outcomes.append("typed error")
    return " ".join(outcomes)


def test_substitute() -> None:
    seeds = corpus_text(TARGET)
    seed_vars = {"ENV": "prod", "IMAGE": "podinfo", "TAG": "v6.5.1", "REPLICAS": "3", "PORT": "8080",
                 "TARGET_PORT": "http", "PUBLISH": "true", "NAMESPACE": "apps"}
    hostile = {"ENV": "[" * 100_000, "IMAGE": "&a [*a, *a]", "TAG": "1" * 5000, "REPLICAS": "0" * 5000 + "1",
               "A": "x" * 4096, "PORT": "{a: " * 5000, "NAMESPACE": "[&a [&b [1, 2], *b, *b], *a, *a]"}
    texts = seeded(seeds, template, mutated_text(seeds, TOKENS))
    fuzz(TARGET, st.tuples(texts, st.one_of(st.sampled_from([seed_vars, hostile]), variables), st.booleans()),
         check, allowed=(), max_examples=100,
         seeds=[(s, v, strict) for s in seeds for v in (seed_vars, hostile) for strict in (False, True)],
         dump=lambda case: (".txt", case[0].encode("utf-8", "surrogateescape")))
