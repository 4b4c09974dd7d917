"""Unit tests for headwater.apply.cel_health: Flux's healthCheckExprs semantics.

Evaluation cases are data (``health_cases/cel.yaml``); compile errors, caching and matching
rules are tested here directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.api.cel import compile_expression
from headwater.apply.cel_health import (
    INVALID_CEL_EXPRESSION_REASON,
    CustomHealthChecks,
    HealthCheckExpressions,
    InvalidCELExpression,
    compile_health_checks,
)
from headwater.apply.health import CURRENT, IN_PROGRESS, UNKNOWN, Status, compute_status
from headwater.runtime.result import TerminalError, is_terminal
from tests.unit.api.cel_table import CelCase, cases_for

pytestmark = pytest.mark.unit

CASES_FILE = Path(__file__).parent / "health_cases" / "cel.yaml"
CASES = [pytest.param(case, id=case["name"]) for case in yaml.safe_load(CASES_FILE.read_text())]


@pytest.mark.parametrize("case", CASES)
def test_health_check_expressions(case: dict[str, Any]) -> None:
    checks = compile_health_checks(case["healthCheckExprs"])
    expected = case["expected"]
    result = compute_status(case["object"], custom=checks)
    assert result.status == expected["status"]
    if "message" in expected:
        assert result.message == expected["message"]
    if "error" in expected:
        assert result.error is not None
        assert expected["error"] in result.error
        assert result.message == result.error
    else:
        assert result.error is None


def _database(status: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Database",
        "metadata": {"name": "orders", "namespace": "apps", **metadata},
    }
    if status is not None:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    ("field", "key", "expression"),
    [
        ("Current", "current", "status.phase =="),
        ("Failed", "failed", "status.phase == 'Failed' &&"),
        ("InProgress", "inProgress", 'status.phase == "Provisioning'),
    ],
)
def test_compile_error_names_the_field_and_expression(field: str, key: str, expression: str) -> None:
    entry = {"apiVersion": "example.com/v1", "kind": "Database", "current": "true", key: expression}
    with pytest.raises(InvalidCELExpression) as raised:
        compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Other", "current": "true"}, entry])
    err = raised.value
    assert err.reason == INVALID_CEL_EXPRESSION_REASON == "InvalidCELExpression"
    assert isinstance(err, TerminalError)
    assert is_terminal(err)
    assert err.message.startswith(
        f"failed to create custom status evaluator for healthchecks[1]: failed to parse the expression {field}: "
        f"failed to parse the CEL expression '{expression}': ERROR: <input>:1:"
    )
    assert (err.index, err.api_version, err.kind, err.field, err.expression) == (
        1,
        "example.com/v1",
        "Database",
        field,
        expression,
    )


def test_has_on_a_top_level_identifier_is_a_compile_error() -> None:
    # cel-go's has() macro only accepts a field selection; Flux reports it at validation time.
    with pytest.raises(InvalidCELExpression, match=r"invalid argument to has\(\) macro"):
        compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Database", "current": "has(status)"}])
    with pytest.raises(InvalidCELExpression, match=r"invalid argument to has\(\) macro"):
        compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Database", "current": "has(status['phase'])"}])
    compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Database", "current": "has(status.phase)"}])


def test_optional_field_syntax_is_not_supported_by_cel_python() -> None:
    # Flux's cel-go environment enables optional types; cel-python 0.5 cannot parse them.
    with pytest.raises(InvalidCELExpression):
        compile_health_checks(
            [{"apiVersion": "example.com/v1", "kind": "Database", "current": "status.?phase.orValue('') == 'Ready'"}]
        )


def test_current_is_required() -> None:
    with pytest.raises(InvalidCELExpression) as raised:
        compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Database", "failed": "false"}])
    assert raised.value.message == (
        "failed to create custom status evaluator for healthchecks[0]: expression Current not specified"
    )


def test_duplicate_group_kind_is_ignored_without_compiling() -> None:
    checks = compile_health_checks(
        [
            {"apiVersion": "example.com/v1", "kind": "Database", "current": "status.phase == 'Ready'"},
            {"apiVersion": "example.com/v1beta1", "kind": "Database", "current": "this does not parse ((("},
        ]
    )
    assert len(checks) == 1
    assert ("example.com", "Database") in checks


def test_expressions_are_compiled_once_per_text() -> None:
    text = "status.phase == 'Cached' && metadata.name != ''"
    first = compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Database", "current": text}])
    hits = compile_expression.cache_info().hits
    second = compile_health_checks([{"apiVersion": "other.io/v1", "kind": "Thing", "current": text}])
    assert compile_expression.cache_info().hits == hits + 1
    assert first.read(_database({"phase": "Cached"})) == Status(CURRENT)
    assert second.read(
        {"apiVersion": "other.io/v1", "kind": "Thing", "metadata": {"name": "x"}, "status": {"phase": "Cached"}}
    ) == Status(CURRENT)


def test_reader_declines_other_kinds_and_malformed_objects() -> None:
    checks = compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Database", "current": "true"}])
    assert checks.read({"apiVersion": "example.com/v1", "kind": "Table"}) is None
    assert checks.read({"apiVersion": "other.com/v1", "kind": "Database"}) is None
    assert checks.read({"kind": "Database"}) is None
    assert checks.read(_database()) == Status(CURRENT)
    assert len(CustomHealthChecks()) == 0


def test_entries_may_be_dataclasses() -> None:
    entry = HealthCheckExpressions("example.com/v1", "Database", current="status.ready", failed="status.broken")
    assert entry.group_kind == ("example.com", "Database")
    checks = compile_health_checks([entry])
    assert checks.read(_database({"ready": False, "broken": False})) == Status(IN_PROGRESS)
    assert checks.read(_database({"ready": True, "broken": False})) == Status(CURRENT)


def test_from_spec_reads_the_camel_case_fields() -> None:
    entry = HealthCheckExpressions.from_spec(
        {"apiVersion": "a.io/v1", "kind": "K", "current": "c", "inProgress": "i", "failed": "f"}
    )
    assert entry == HealthCheckExpressions("a.io/v1", "K", "c", "i", "f")


def test_generation_check_only_when_observed_generation_is_set() -> None:
    checks = compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Database", "current": "true"}])
    assert checks.read(_database({}, generation=7)) == Status(CURRENT)
    assert checks.read(_database({"observedGeneration": 6}, generation=7)) == Status(IN_PROGRESS)
    assert checks.read(_database({"observedGeneration": 7})) == Status(CURRENT)  # no metadata.generation
    bad = checks.read(_database({"observedGeneration": "7"}, generation=7))
    assert bad is not None
    assert bad.status == UNKNOWN
    assert bad.error is not None


def test_heterogeneous_equality_is_false_not_an_error() -> None:
    checks = compile_health_checks(
        [
            {
                "apiVersion": "example.com/v1",
                "kind": "Database",
                "current": "status.phase != 1 && !(status.phase == null) && status.size == 2u && 2.0 == status.size",
            }
        ]
    )
    assert checks.read(_database({"phase": "Ready", "size": 2})) == Status(CURRENT)


def test_evaluation_errors_do_not_leak_the_activation() -> None:
    checks = compile_health_checks([{"apiVersion": "example.com/v1", "kind": "Database", "current": "spec.size > 1"}])
    result = checks.read(_database({"phase": "Ready"}))
    assert result is not None
    assert result.error == "failed to evaluate the CEL expression 'spec.size > 1': undeclared reference to 'spec'"


def test_expressions_see_all_top_level_fields() -> None:
    current = "has(data.ready) && data.ready == 'yes' && kind == 'ConfigMap'"
    checks = compile_health_checks([{"apiVersion": "v1", "kind": "ConfigMap", "current": current}])
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"ready": "yes"}}
    assert compute_status(configmap, custom=checks) == Status(CURRENT)
    configmap["data"] = {}
    assert compute_status(configmap, custom=checks) == Status(IN_PROGRESS)


CASE_API = "example.com/v1"


@pytest.mark.parametrize("case", cases_for())
def test_the_shared_cel_table_as_health(case: CelCase) -> None:
    """Each expression of the engine's table as `current`, the variables being the object's fields."""
    entry = {"apiVersion": CASE_API, "kind": "Case", "current": case.expr}
    if case.error == "syntax":
        with pytest.raises(InvalidCELExpression) as raised:
            compile_health_checks([entry])
        assert raised.value.message.startswith("failed to create custom status evaluator for healthchecks[0]: "
                                               f"failed to parse the expression Current: "
                                               f"failed to parse the CEL expression '{case.expr}': ")
        return
    status = compile_health_checks([entry]).read({"apiVersion": CASE_API, "kind": "Case", **case.vars})
    assert status is not None
    if case.error is None and isinstance(case.value, bool):
        assert status == Status(CURRENT if case.value else IN_PROGRESS)
    else:  # an evaluation error, or not a boolean: Unknown, and the wait goes on
        assert status.status == UNKNOWN
        assert status.error is not None
        assert case.message in status.error
