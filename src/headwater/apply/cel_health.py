"""``spec.healthCheckExprs``: user-defined CEL health rules for custom kinds, as Flux runs them.

kstatus cannot tell when most third-party custom resources are ready, so a Kustomization may
give, per ``apiVersion``/``kind``, CEL expressions that classify an object as ``inProgress``,
``failed`` or ``current`` (``fluxcd/pkg`` ``runtime/cel``: ``status_evaluator.go``,
``expression.go``, ``status_poller.go``). The semantics ported here:

* **Matching** is by API *group* and kind only (``schema.FromAPIVersionAndKind(...).GroupKind()``):
  an entry for ``example.com/v1`` also applies to ``example.com/v2`` objects. If several
  entries name the same group/kind, only the first is used — later ones are not even parsed.
* **Variables** are the object's top-level fields (``apiVersion``, ``kind``, ``metadata``,
  ``spec``, ``status``, ...); there is no ``self``. ``status.phase == 'Ready'`` is how Flux's
  own docs write it; ``self.status...`` fails to evaluate in Flux as it does here.
* **Order**: if ``status.observedGeneration`` exists and differs from ``metadata.generation``
  the object is InProgress; otherwise ``inProgress`` (if set), then ``failed`` (if set), then
  ``current`` are evaluated and the first that is true decides; if none is true, InProgress.
* **Errors**: an expression that does not parse makes the whole Kustomization fail terminally
  with reason ``InvalidCELExpression`` (:class:`InvalidCELExpression`) before anything is
  applied. An evaluation error — typically selecting a field the object does not have yet —
  or a non-boolean result makes the object's status ``Unknown`` with the error, so the wait
  continues until it succeeds or times out (Flux documents exactly this).

Expressions are compiled once per text (an LRU cache shared by all Kustomizations) with
cel-python. Flux's environment has a few extras that cel-python 0.5 lacks: optional field
selection (``a.?b``, ``orValue``) and the ``strings``/``sets``/``encoders`` extension libraries
do not parse or evaluate here. Numeric comparisons across int/uint/double and heterogeneous
equality (``1 == 'a'`` is false, not an error) are added to match cel-go, and ``has()`` on a
bare identifier is rejected at compile time as cel-go rejects it.
"""

from __future__ import annotations

import functools
import operator
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import celpy
import celpy.celtypes as celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from headwater.apply.health import CURRENT, FAILED, IN_PROGRESS, UNKNOWN, Status, StatusValue, api_group
from headwater.runtime.result import TerminalError

__all__ = [
    "INVALID_CEL_EXPRESSION_REASON",
    "CustomHealthChecks",
    "HealthCheckExpressions",
    "InvalidCELExpression",
    "StatusEvaluator",
    "compile_health_checks",
]

INVALID_CEL_EXPRESSION_REASON: Final = "InvalidCELExpression"


class InvalidCELExpression(TerminalError):
    """A ``healthCheckExprs`` entry does not compile: reason ``InvalidCELExpression``, Stalled.

    The message is Flux's (``failed to create custom status evaluator for healthchecks[0]:
    failed to parse the expression Current: failed to parse the CEL expression '<expr>':
    <issue>``); the attributes identify the entry for callers that want more.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int,
        api_version: str,
        kind: str,
        field: str,
        expression: str,
    ) -> None:
        super().__init__(INVALID_CEL_EXPRESSION_REASON, message)
        self.index = index
        self.api_version = api_version
        self.kind = kind
        self.field = field
        self.expression = expression


class _CompileError(Exception):
    """The text is not a valid CEL expression; the message is the parser's issue."""


class _EvaluationError(Exception):
    """Evaluating a compiled expression failed; the message is Flux-shaped."""


# --------------------------------------------------------------------------------------------
# cel-go compatible comparisons.


def _is_number(value: Any) -> bool:
    return isinstance(value, celtypes.IntType | celtypes.UintType | celtypes.DoubleType) and not isinstance(
        value, celtypes.BoolType
    )


def _as_number(value: Any) -> int | float:
    return float(value) if isinstance(value, celtypes.DoubleType) else int(value)


def _equality(negate: bool) -> Callable[[Any, Any], Any]:
    def compare(left: Any, right: Any) -> Any:
        if isinstance(left, CELEvalError):
            return left
        if isinstance(right, CELEvalError):
            return right
        if _is_number(left) and _is_number(right):
            equal = _as_number(left) == _as_number(right)
        elif type(left) is not type(right) and not (isinstance(left, type(right)) or isinstance(right, type(left))):
            equal = False
        else:
            try:
                equal = bool(operator.eq(left, right))
            except TypeError:
                equal = False
        return celtypes.BoolType(equal != negate)

    return compare


def _ordering(op: Callable[[Any, Any], Any], fallback: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def compare(left: Any, right: Any) -> Any:
        if _is_number(left) and _is_number(right):
            return celtypes.BoolType(bool(op(_as_number(left), _as_number(right))))
        return fallback(left, right)

    return compare


def _functions() -> dict[str, Any]:
    from celpy import evaluation

    return {
        "_==_": _equality(negate=False),
        "_!=_": _equality(negate=True),
        "_<_": _ordering(operator.lt, evaluation.bool_lt),
        "_<=_": _ordering(operator.le, evaluation.bool_le),
        "_>_": _ordering(operator.gt, evaluation.bool_gt),
        "_>=_": _ordering(operator.ge, evaluation.bool_ge),
    }


# --------------------------------------------------------------------------------------------
# Compilation (cached by text) and evaluation.

_ENVIRONMENT_LOCK = threading.Lock()
_ENVIRONMENT = celpy.Environment()


def _children(node: Any) -> list[Any]:
    children = getattr(node, "children", None)
    return list(children) if isinstance(children, list) else []


def _is_tree(node: Any, data: str | None = None) -> bool:
    return hasattr(node, "data") and hasattr(node, "children") and (data is None or node.data == data)


def _is_field_selection(expr: Any) -> bool:
    """Whether an ``expr`` subtree is a plain field selection ``a.b`` (what ``has()`` accepts)."""
    node = expr
    while _is_tree(node) and node.data != "member_dot":
        children = [child for child in _children(node) if _is_tree(child)]
        if len(children) != 1 or len(_children(node)) != 1:
            return False
        node = children[0]
    return _is_tree(node, "member_dot")


def _check_macros(tree: Any) -> None:
    """Reject ``has(x)`` whose argument is not a field selection, as cel-go's parser does."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if not _is_tree(node):
            continue
        children = _children(node)
        if node.data == "ident_arg" and children and str(children[0]) == "has":
            arguments = [child for child in children[1:] if _is_tree(child, "exprlist")]
            exprs = _children(arguments[0]) if arguments else []
            if len(exprs) != 1 or not _is_field_selection(exprs[0]):
                raise _CompileError("ERROR: <input>: invalid argument to has() macro")
        stack.extend(children)


def _parse_issue(err: Exception) -> str:
    line = getattr(err, "line", None)
    column = getattr(err, "column", None)
    detail = str(err.__context__ or err).strip().splitlines()
    first = detail[0] if detail else "syntax error"
    where = f"<input>:{line}:{column}" if line is not None else "<input>"
    return f"ERROR: {where}: Syntax error: {first}"


@dataclass(frozen=True, eq=False)
class _Program:
    text: str
    runner: Any
    lock: threading.Lock

    def evaluate_boolean(self, activation: Mapping[str, Any]) -> bool:
        try:
            with self.lock:
                value = self.runner.evaluate(dict(activation))
        except CELEvalError as err:
            raise _EvaluationError(f"failed to evaluate the CEL expression '{self.text}': {_eval_issue(err)}") from err
        except Exception as err:  # cel-python raises plain Python errors for some bad inputs
            raise _EvaluationError(f"failed to evaluate the CEL expression '{self.text}': {err}") from err
        if not isinstance(value, celtypes.BoolType):
            raise _EvaluationError(f"failed to evaluate CEL expression as boolean: '{self.text}'")
        return bool(value)


def _eval_issue(err: CELEvalError) -> str:
    message = str(err.args[0]) if err.args else str(err)
    # cel-python appends the whole activation to "undeclared reference" errors; drop it.
    cut = message.find(" (in activation")
    return message[:cut] if cut >= 0 else message


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> _Program:
    """Parse ``text`` once; every Kustomization using the same text shares the program."""
    with _ENVIRONMENT_LOCK:
        try:
            tree = _ENVIRONMENT.compile(text)
        except CELParseError as err:
            raise _CompileError(_parse_issue(err)) from err
        except Exception as err:  # the grammar may also fail in lexing helpers
            raise _CompileError(f"ERROR: <input>: {err}") from err
        _check_macros(tree)
        runner = _ENVIRONMENT.program(tree, functions=_functions())
    return _Program(text, runner, threading.Lock())


def _plain(value: Any) -> Any:
    """Objects from the API are JSON; YAML fixtures may carry datetimes — keep them strings."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _activation(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): json_to_cel(_plain(value)) for key, value in obj.items()}


# --------------------------------------------------------------------------------------------
# Public API.


@dataclass(frozen=True, slots=True)
class HealthCheckExpressions:
    """One ``spec.healthCheckExprs`` entry."""

    api_version: str
    kind: str
    current: str
    in_progress: str = ""
    failed: str = ""

    @classmethod
    def from_spec(cls, entry: Mapping[str, Any]) -> HealthCheckExpressions:
        """From the CRD's camelCase dict (``apiVersion``, ``kind``, ``current``, ``inProgress``, ``failed``)."""

        def text(key: str) -> str:
            value = entry.get(key)
            return value if isinstance(value, str) else ""

        return cls(text("apiVersion"), text("kind"), text("current"), text("inProgress"), text("failed"))

    @property
    def group_kind(self) -> tuple[str, str]:
        """(group, kind) the entry applies to; a malformed apiVersion means the core group."""
        return (api_group(self.api_version) or "", self.kind)


def _nested_int(obj: Mapping[str, Any], *path: str) -> tuple[int | None, str | None]:
    current: Any = obj
    for name in path:
        if not isinstance(current, Mapping) or name not in current:
            return None, None
        current = current[name]
    if isinstance(current, int) and not isinstance(current, bool):
        return current, None
    dotted = ".".join(path)
    return None, f".{dotted} accessor error: {current!r} is of the type {type(current).__name__}, expected int64"


class StatusEvaluator:
    """The compiled expressions of one entry; :meth:`evaluate` is Flux's StatusEvaluator.Evaluate."""

    def __init__(self, current: _Program, failed: _Program | None, in_progress: _Program | None) -> None:
        self._order: tuple[tuple[_Program | None, StatusValue], ...] = (
            (in_progress, IN_PROGRESS),
            (failed, FAILED),
            (current, CURRENT),
        )

    def evaluate(self, obj: Mapping[str, Any]) -> Status:
        observed, error = _nested_int(obj, "status", "observedGeneration")
        if error is not None:
            return Status(UNKNOWN, error, error)
        if observed is not None:
            generation, error = _nested_int(obj, "metadata", "generation")
            if error is not None:
                return Status(UNKNOWN, error, error)
            if generation is not None and generation != observed:
                return Status(IN_PROGRESS)

        activation = _activation(obj)
        for program, status in self._order:
            if program is None:
                continue
            try:
                matched = program.evaluate_boolean(activation)
            except _EvaluationError as err:
                return Status(UNKNOWN, str(err), str(err))
            if matched:
                return Status(status)
        return Status(IN_PROGRESS)


def _field_program(text: str, field: str, index: int, entry: HealthCheckExpressions) -> _Program:
    try:
        return _compile(text)
    except _CompileError as err:
        raise InvalidCELExpression(
            f"failed to create custom status evaluator for healthchecks[{index}]: "
            f"failed to parse the expression {field}: failed to parse the CEL expression '{text}': {err}",
            index=index,
            api_version=entry.api_version,
            kind=entry.kind,
            field=field,
            expression=text,
        ) from err


def _evaluator(index: int, entry: HealthCheckExpressions) -> StatusEvaluator:
    if not entry.current:
        raise InvalidCELExpression(
            f"failed to create custom status evaluator for healthchecks[{index}]: expression Current not specified",
            index=index,
            api_version=entry.api_version,
            kind=entry.kind,
            field="Current",
            expression="",
        )
    current = _field_program(entry.current, "Current", index, entry)
    failed = _field_program(entry.failed, "Failed", index, entry) if entry.failed else None
    in_progress = _field_program(entry.in_progress, "InProgress", index, entry) if entry.in_progress else None
    return StatusEvaluator(current, failed, in_progress)


class CustomHealthChecks:
    """The readers a Kustomization's ``healthCheckExprs`` define, keyed by (group, kind).

    Pass it as ``custom=`` to :func:`headwater.apply.health.compute_status`; it answers for the
    kinds it covers (taking precedence over kstatus, built-in kinds included) and ``None`` for
    the rest.
    """

    def __init__(self, evaluators: Mapping[tuple[str, str], StatusEvaluator] | None = None) -> None:
        self._evaluators: dict[tuple[str, str], StatusEvaluator] = dict(evaluators or {})

    def __len__(self) -> int:
        return len(self._evaluators)

    def __contains__(self, group_kind: object) -> bool:
        return group_kind in self._evaluators

    def read(self, obj: Mapping[str, Any]) -> Status | None:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return None
        evaluator = self._evaluators.get((api_group(api_version) or "", kind))
        return evaluator.evaluate(obj) if evaluator is not None else None


def compile_health_checks(
    entries: Iterable[HealthCheckExpressions | Mapping[str, Any]],
) -> CustomHealthChecks:
    """Compile a Kustomization's ``spec.healthCheckExprs`` (dicts from the spec, or entries).

    Raises :class:`InvalidCELExpression` for the first entry that does not compile; entries
    repeating an earlier group/kind are ignored without being compiled, as in Flux.
    """
    evaluators: dict[tuple[str, str], StatusEvaluator] = {}
    for index, raw in enumerate(entries):
        entry = raw if isinstance(raw, HealthCheckExpressions) else HealthCheckExpressions.from_spec(raw)
        if entry.group_kind in evaluators:
            continue
        evaluators[entry.group_kind] = _evaluator(index, entry)
    return CustomHealthChecks(evaluators)
