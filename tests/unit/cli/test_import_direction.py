"""No package imports the CLI: dependencies point down, from `headwater.cli` to the rest, never back.

The CLI is the outermost layer (click commands, flux's log lines, exit codes). A module below it that
imports it, as `install/sync.py` once imported `cli/generate.py`, drags click commands into controllers
and makes the layers impossible to reason about. The test reads every module's imports with `ast`
(module level and inside functions, relative ones resolved, `importlib.import_module("…")` literals
too) and names each module outside `headwater.cli` that reaches into it.

No exception is needed: the `headwater` console script (`pyproject.toml`) and `python -m
headwater.cli.main` (which `devcluster/demo.py` runs as a subprocess) name the CLI without importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SOURCE = Path(__file__).resolve().parents[3] / "src"
PACKAGE = SOURCE / "headwater"
CLI = "headwater.cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module `path` imports (absolute names)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    return imports_of(path.read_text(), package)


def imports_of(source: str, package: str) -> set[str]:
    """Every module `source`, a module of `package`, imports (absolute names)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    return names


def is_cli(name: str) -> bool:
    return name == CLI or name.startswith(CLI + ".")


def test_no_module_outside_the_cli_imports_it() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 100, "the walk must see the whole package"
    offenders = [f"{module_name(path)} imports {name}" for path in modules if not is_cli(module_name(path))
                 for name in sorted(imported(path)) if is_cli(name)]
    assert offenders == []


@pytest.mark.parametrize(("source", "expected"), [
    ("from headwater.cli.generate import to_yaml", True),
    ("def f():\n    from headwater.cli import common", True),
    ("import headwater.cli.main", True),
    ("import importlib\nimportlib.import_module('headwater.cli.get')", True),
    ("from ..cli import common", True),
    ("from .. import cli", True),
    ("from headwater.client import x", False),
    ("from headwater.manifests import to_yaml", False),
    ("from . import sync", False),
])
def test_the_walk_sees_every_spelling(source: str, expected: bool) -> None:
    assert any(is_cli(name) for name in imports_of(source, "headwater.install")) is expected
