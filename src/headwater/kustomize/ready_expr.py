"""`dependsOn[].readyExpr`: a CEL expression deciding whether a dependency is ready.

The expression sees `self` (the dependant Kustomization) and `dep` (the dependency), as in Flux. It
replaces the built-in readiness check, or is ANDed with it when the `AdditiveCELDependencyCheck` feature
gate is on. A compile error stalls the dependant (reason `InvalidCELExpression`); an evaluation error or a
non-boolean result means "not ready".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import celpy
import celpy.celtypes as celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError

from headwater.runtime.result import TerminalError

_ENVIRONMENT = celpy.Environment()


@lru_cache(maxsize=512)
def _program(expression: str) -> Any:
    return _ENVIRONMENT.program(_ENVIRONMENT.compile(expression))


def compile_ready_expr(expression: str) -> Any:
    try:
        return _program(expression)
    except CELParseError as err:
        raise TerminalError("InvalidCELExpression",
                            f"failed to parse dependsOn readyExpr '{expression}': {str(err).splitlines()[0]}") from err


def evaluate_ready_expr(expression: str, dependant: dict[str, Any], dependency: dict[str, Any]) -> bool:
    program = compile_ready_expr(expression)
    try:
        result = program.evaluate({"self": json_to_cel(dependant), "dep": json_to_cel(dependency)})
    except Exception:  # celpy raises its own evaluation errors; any of them means "not ready"
        return False
    return isinstance(result, bool | celtypes.BoolType) and bool(result)
