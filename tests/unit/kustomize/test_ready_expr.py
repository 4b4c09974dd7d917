"""`dependsOn[].readyExpr` evaluation with `self` and `dep`: the shared CEL table, as readiness."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.kustomize.ready_expr import evaluate_ready_expr
from headwater.runtime.result import TerminalError
from tests.unit.api.cel_table import CelCase, cases_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("case", cases_for({"self", "dep"}))
def test_the_shared_table_as_readiness(case: CelCase) -> None:
    dependant: dict[str, Any] = case.vars.get("self", {})
    dependency: dict[str, Any] = case.vars.get("dep", {})
    if case.error == "syntax":  # a malformed expression stalls the dependant
        with pytest.raises(TerminalError) as error:
            evaluate_ready_expr(case.expr, dependant, dependency)
        assert error.value.reason == "InvalidCELExpression"
        assert error.value.message.startswith(f"failed to parse dependsOn readyExpr '{case.expr}': ")
        return
    # true is ready; false, an evaluation error or a value that is not a boolean is "not ready"
    assert evaluate_ready_expr(case.expr, dependant, dependency) is case.is_true
