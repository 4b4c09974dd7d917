"""The CEL engine (`headwater.api.cel`): the shared table, the CRD-rule front-end, and the cache."""

from __future__ import annotations

import threading

import pytest

from headwater.api.cel import (
    CelError,
    CelEvaluationError,
    CelSyntaxError,
    Variables,
    compile_expression,
    evaluate_bool,
    evaluate_rule,
)
from headwater.api.kinds import ALL_KINDS
from headwater.api.schema import Schema
from tests.unit.api.cel_table import CelCase, cases_for

pytestmark = pytest.mark.unit

ERRORS: dict[str, type[CelError]] = {"syntax": CelSyntaxError, "evaluation": CelEvaluationError}


@pytest.mark.parametrize("case", cases_for())
def test_the_engine_computes_the_table(case: CelCase) -> None:
    if case.error is None:
        assert compile_expression(case.expr).evaluate(case.vars) == case.value
        return
    with pytest.raises(ERRORS[case.error]) as raised:
        compile_expression(case.expr).evaluate(case.vars)
    assert case.message in str(raised.value)
    assert raised.value.expression == case.expr


@pytest.mark.parametrize("case", cases_for({"self"}))
def test_crd_rules_read_the_table_with_self(case: CelCase) -> None:
    if case.error is None and isinstance(case.value, bool):
        assert evaluate_rule(case.expr, case.vars.get("self", {})) is case.value
        return
    expected = ERRORS[case.error or "evaluation"]  # a rule must be a boolean
    with pytest.raises(expected):
        evaluate_rule(case.expr, case.vars.get("self", {}))


def _rules(schema: Schema) -> list[str]:
    found = [rule.rule for rule in schema.validations]
    for child in schema.properties.values():
        found += _rules(child)
    if schema.items is not None:
        found += _rules(schema.items)
    return found


@pytest.mark.parametrize("rule", sorted({r for kind in ALL_KINDS for r in _rules(kind.schema)}))
def test_every_flux_rule_compiles(rule: str) -> None:
    compile_expression(rule)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("'yes'", "failed to evaluate CEL expression as boolean: ''yes''"),
        ("a.b", "failed to evaluate the CEL expression 'a.b': no such member in mapping: 'b'"),
    ],
)
def test_boolean_evaluation_messages_are_fluxs(expr: str, message: str) -> None:
    with pytest.raises(CelEvaluationError) as raised:
        evaluate_bool(expr, {"a": {}})
    assert str(raised.value) == message


def test_one_compile_cache_for_every_user() -> None:
    text = "self.cached == 'once' || dep.cached == 'once'"
    first = compile_expression(text)
    hits = compile_expression.cache_info().hits
    assert compile_expression(text) is first
    assert evaluate_bool(text, {"self": {"cached": "once"}, "dep": {}})
    assert compile_expression.cache_info().hits == hits + 2


def test_variables_convert_once_and_serve_several_programs() -> None:
    variables = Variables({"status": {"phase": "Ready", "replicas": 2}})
    assert compile_expression("status.phase == 'Ready'").evaluate_bool(variables)
    assert compile_expression("status.replicas == 2.0").evaluate_bool(variables)


def test_a_program_is_safe_to_share_between_threads() -> None:
    program = compile_expression("x.n * 2 == x.twice")
    failures: list[int] = []

    def run(n: int) -> None:
        for _ in range(50):
            if not program.evaluate_bool({"x": {"n": n, "twice": 2 * n}}):
                failures.append(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_importing_the_api_does_not_import_cel_python() -> None:
    import subprocess
    import sys

    probe = "import sys, headwater.api, headwater.api.cel; print('celpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
