"""`dependsOn[].readyExpr`: a CEL expression deciding whether a dependency is ready.

The expression sees `self` (the dependant Kustomization) and `dep` (the dependency), as in Flux. It
replaces the built-in readiness check, or is ANDed with it when the `AdditiveCELDependencyCheck` feature
gate is on. A compile error stalls the dependant (reason `InvalidCELExpression`); an evaluation error or a
non-boolean result means "not ready". The expression language and its compile cache are
`headwater.api.cel`'s, the engine of every CEL expression in headwater.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.api.cel import CelEvaluationError, CelSyntaxError, Program, compile_expression
from headwater.runtime.result import TerminalError


def compile_ready_expr(expression: str) -> Program:
    try:
        return compile_expression(expression)
    except CelSyntaxError as err:
        raise TerminalError("InvalidCELExpression",
                            f"failed to parse dependsOn readyExpr '{expression}': {err}") from err


def evaluate_ready_expr(expression: str, dependant: Mapping[str, Any], dependency: Mapping[str, Any]) -> bool:
    program = compile_ready_expr(expression)
    try:
        return program.evaluate_bool({"self": dependant, "dep": dependency})
    except CelEvaluationError:
        return False
