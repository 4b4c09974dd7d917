"""`dependsOn[].readyExpr` evaluation with `self` and `dep`."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.kustomize.ready_expr import evaluate_ready_expr
from headwater.runtime.result import TerminalError

pytestmark = pytest.mark.unit

SELF: dict[str, Any] = {"metadata": {"name": "apps", "labels": {"tier": "web"}}}
DEP: dict[str, Any] = {"metadata": {"name": "infra", "generation": 2},
                       "status": {"observedGeneration": 2, "lastAppliedRevision": "main@sha1:abc",
                                  "conditions": [{"type": "Ready", "status": "True"}]}}


@pytest.mark.parametrize(
    ("expression", "ready"),
    [
        ("dep.status.conditions.filter(c, c.type == 'Ready').all(c, c.status == 'True')", True),
        ("dep.metadata.generation == dep.status.observedGeneration", True),
        ("dep.status.lastAppliedRevision.startsWith('main@')", True),
        ("self.metadata.labels.tier == 'web' && dep.metadata.name == 'infra'", True),
        ("dep.metadata.name == 'other'", False),
        ("dep.status.missing == 1", False),  # evaluation error: not ready
        ("dep.metadata.name", False),  # not a boolean: not ready
    ],
)
def test_ready_expressions(expression: str, ready: bool) -> None:
    assert evaluate_ready_expr(expression, SELF, DEP) is ready


def test_a_malformed_expression_is_terminal() -> None:
    with pytest.raises(TerminalError) as error:
        evaluate_ready_expr("dep.status ===", SELF, DEP)
    assert error.value.reason == "InvalidCELExpression"
    assert "dep.status ===" in str(error.value)
