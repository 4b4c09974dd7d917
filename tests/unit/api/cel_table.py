"""The shared table of CEL expressions (`cel_cases.yaml`), for the engine and its three front-ends.

Each front-end binds variables its own way; `cases_for` picks the cases a front-end can express (see the
table's header) so that the same expression is checked to mean the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

TABLE = Path(__file__).with_name("cel_cases.yaml")


@dataclass(frozen=True)
class CelCase:
    expr: str
    vars: dict[str, Any]
    value: Any = None
    error: str | None = None  # "syntax" | "evaluation"
    message: str = ""

    @property
    def is_true(self) -> bool:
        return self.error is None and self.value is True


def load() -> list[CelCase]:
    cases = [CelCase(**entry) for entry in yaml.safe_load(TABLE.read_text())]
    assert all(case.error in (None, "syntax", "evaluation") for case in cases)
    return cases


def cases_for(variables: Collection[str] | None = None) -> list[Any]:
    """pytest params of the cases whose variables are all in `variables` (None: every case)."""
    return [pytest.param(case, id=case.expr) for case in load()
            if variables is None or set(case.vars) <= set(variables)]
