"""Post-build substitution: Flux's envsubst dialect, strict mode, opt-outs, types through YAML, variable sources.

The cases live in substitute_cases.yaml (one entry per behaviour, data-driven like black's test data);
the few tests below them cover what a table cannot express (no YAML round-trip, error attributes).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.kustomize.substitute import (
    EnvsubstError,
    SubstitutionError,
    envsubst,
    resolve_variables,
    substitute_from_refs,
    substitute_object,
)

pytestmark = pytest.mark.unit

CASES: list[dict[str, Any]] = yaml.safe_load(Path(__file__).with_name("substitute_cases.yaml").read_text())


def run(case: dict[str, Any]) -> Any:
    mode = case.get("mode", "text")
    variables: dict[str, str] = case.get("vars") or {}
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items()), "quote vars in the data"
    strict = bool(case.get("strict", False))
    if mode == "text":
        return envsubst(case["input"], variables, strict)
    if mode == "object":
        return substitute_object(case["input"], variables, strict, always=bool(case.get("always", False)),
                                 manifest=case.get("manifest"))
    if mode == "variables":
        fetched = {(f["kind"], f["name"]): f.get("object") for f in case["input"].get("fetched") or []}
        return resolve_variables(case["input"].get("postBuild"), fetched)
    raise AssertionError(f"unknown mode {mode!r}")


def canonical(value: Any) -> str:
    """JSON text, so 3 and 3.0, or True and 1, do not compare equal."""
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    outcomes = {"expected", "error", "unchanged"} & case.keys()
    assert len(outcomes) == 1, f"{case['name']}: give exactly one of expected, error, unchanged"
    original = copy.deepcopy(case["input"])
    if "error" in case:
        with pytest.raises((EnvsubstError, SubstitutionError)) as caught:
            run(case)
        assert case["error"] in str(caught.value)
    elif case.get("unchanged"):
        assert run(case) is case["input"]
    else:
        assert canonical(run(case)) == canonical(case["expected"])
    assert case["input"] == original, "the input was modified"


def test_the_table_is_large_and_names_are_unique() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 40
    assert {c.get("mode", "text") for c in CASES} == {"text", "object", "variables"}


def test_objects_without_a_dollar_skip_the_yaml_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_yaml(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("YAML round-trip on an object without '$'")

    monkeypatch.setattr(yaml, "dump", no_yaml)
    monkeypatch.setattr(yaml, "load", no_yaml)
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "namespace": "apps"},
                "data": {"key": "value", "n": 3}} for i in range(1000)]
    assert all(substitute_object(o, {"X": "1"}, True) is o for o in objects)


def test_substitution_error_carries_object_variable_and_reason() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
           "spec": {"replicas": "${REPLICAS}"}}
    with pytest.raises(SubstitutionError) as caught:
        substitute_object(obj, {"OTHER": "x"}, True)
    assert caught.value.object_ref == "Deployment/apps/web"
    assert caught.value.variable == "REPLICAS"
    assert caught.value.reason == "BuildFailed"


def test_substitute_from_refs_lists_what_to_fetch_in_order() -> None:
    post_build = {"substituteFrom": [{"kind": "ConfigMap", "name": "a", "optional": True},
                                     {"kind": "Secret", "name": "b"}]}
    refs = substitute_from_refs(post_build)
    assert [(r.kind, r.name, r.optional) for r in refs] == [("ConfigMap", "a", True), ("Secret", "b", False)]
