"""The CEL subset used by Flux's CRD rules."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.api.cel import CelError, CelUnsupported, evaluate_rule
from headwater.api.kinds import ALL_KINDS
from headwater.api.schema import Schema

pytestmark = pytest.mark.unit

CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("has(self.a)", {"a": 1}, True),
    ("has(self.a)", {}, False),
    ("has(self.a.b)", {"a": {"b": None}}, True),
    ("!has(self.a)", {}, True),
    ("self.a == 'x'", {"a": "x"}, True),
    ("self.a != 'x'", {"a": "y"}, True),
    ('self.a == "x"', {"a": "x"}, True),
    ("self.a.b == 'x'", {"a": {"b": "x"}}, True),
    ("size(self.items) > 0", {"items": [1]}, True),
    ("size(self.items) == 0", {"items": []}, True),
    ("size(self.items) >= 2 && size(self.items) <= 3", {"items": [1, 2]}, True),
    ("self.n < 3", {"n": 2}, True),
    ("true && !false", {}, True),
    ("(has(self.a) && !has(self.b)) || (!has(self.a) && has(self.b))", {"b": 1}, True),
    ("(has(self.a) && !has(self.b)) || (!has(self.a) && has(self.b))", {"a": 1, "b": 1}, False),
    # an error on one side is absorbed when the other side decides
    ("self.missing == 'x' || true", {}, True),
    ("true || self.missing == 'x'", {}, True),
    ("self.missing == 'x' && false", {}, False),
]


@pytest.mark.parametrize(("rule", "value", "expected"), CASES)
def test_evaluate(rule: str, value: dict[str, Any], expected: bool) -> None:
    assert evaluate_rule(rule, value) is expected


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("self.missing == 'x'", {}),
        ("self.missing == 'x' || false", {}),
        ("self.a == 1", {"a": "1"}),
        ("self.a", {"a": "not a bool"}),
    ],
)
def test_evaluation_errors(rule: str, value: dict[str, Any]) -> None:
    with pytest.raises(CelError):
        evaluate_rule(rule, value)


@pytest.mark.parametrize(
    "rule",
    ["self.items.all(x, x > 0)", "self.a in ['x']", "has(a)", "self.a + 1 == 2", "self.a ==", "matches(self.a)", "'"],
)
def test_unsupported(rule: str) -> None:
    with pytest.raises(CelUnsupported):
        evaluate_rule(rule, {"a": 1, "items": []})


def _rules(schema: Schema) -> list[str]:
    found = [rule.rule for rule in schema.validations]
    for child in schema.properties.values():
        found += _rules(child)
    if schema.items is not None:
        found += _rules(schema.items)
    return found


@pytest.mark.parametrize("rule", sorted({r for kind in ALL_KINDS for r in _rules(kind.schema)}))
def test_every_flux_rule_compiles(rule: str) -> None:
    from headwater.api.cel import compile_rule

    compile_rule(rule)
