"""No import cycles between the modules of `src/headwater`.

A cycle makes import order matter (the module imported second sees the first half-initialised) and makes
the layers meaningless: `api` at the bottom, `runtime`/`artifact`/`apply` above it, the controllers above
those, `cli` on top. The graph is read from the source with `ast`, so the test needs nothing imported:

* every `import a.b` and `from a import b` counts, at module level and inside functions alike (a lazy
  import still closes the cycle; it only hides it from the interpreter until the function runs);
* imports under `if TYPE_CHECKING:` do not count (they never run);
* `from pkg import name` points at `pkg.name` when that is a module, else at `pkg`; relative imports are
  resolved; the implicit import of parent packages (`a/__init__.py` for `a.b`) is not an edge, as in
  import-linter and pydeps.

A known cycle outside the author's files may be listed in `ALLOWED` with the owner who removes it; the
test fails both on a new cycle and on an allowed edge that no longer exists, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "headwater"

# (importer, imported): edges known to close a cycle, each with the owner fixing it. Keep empty.
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of `if TYPE_CHECKING:` (their `else:` runs)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_modules(tree: ast.AST, importer: str, is_package: bool, known: Collection[str]) -> set[str]:
    """The modules of `known` that the module `importer` (parsed as `tree`) imports."""
    found: set[str] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            module = _absolute(importer, is_package, node)
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        found |= {target for target in targets if target in known and target != importer}
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (see the module docstring)."""
    files = {module_name(path): path for path in (SRC / PACKAGE).rglob("*.py")}
    return {name: imported_modules(ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py", files)
            for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (`a -> b -> ... -> a`) per strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan; the graph is a few hundred modules, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_path_through(graph, component) for component in components]


def _path_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle from the component's first module back to itself (breadth-first)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"not a cycle: {component}")


def test_the_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    assert "headwater.api.duration" in graph["headwater.api.models.base"]
    assert "headwater.runtime.controller" in graph["headwater.kustomize.reconciler"]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b", "a"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}, [["a", "b", "c", "a"]]),
        ({"a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, [["a", "c", "a"]]),
    ],
)
def test_cycles_are_found_and_shown_as_paths(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


KNOWN = ("p", "p.a", "p.b", "p.c", "p.sub", "p.sub.d", "x", "y")


@pytest.mark.parametrize(
    ("source", "importer", "expected"),
    [
        ("import p.a\nfrom p import b\nfrom p.sub import d, VALUE", "p.c", {"p.a", "p.b", "p.sub.d", "p.sub"}),
        ("def f():\n    import p.a\n", "p.c", {"p.a"}),  # function-level imports count
        ("from . import a\nfrom .sub import d\nfrom .. import y", "p.c", {"p.a", "p.sub.d"}),
        ("from . import d\nfrom .. import b", "p.sub", {"p.sub.d", "p.b"}),  # a package's own level
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\nelse:\n    import y\n", "p.c", {"y"}),
        ("import typing\nif typing.TYPE_CHECKING:\n    import p.a\n", "p.c", set()),
        ("import p.c\nimport os", "p.c", set()),  # itself and modules outside the project
    ],
)
def test_imports_are_read_from_the_syntax(source: str, importer: str, expected: set[str]) -> None:
    assert imported_modules(ast.parse(source), importer, importer == "p.sub", KNOWN) == expected


def test_no_import_cycles() -> None:
    graph = import_graph()
    for (importer, imported), owner in ALLOWED.items():
        assert imported in graph.get(importer, set()), f"{importer} -> {imported} ({owner}) is gone: unlist it"
        graph[importer].discard(imported)
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)
