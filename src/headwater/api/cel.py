"""The one CEL engine: every expression headwater compiles or evaluates goes through this module.

Three kinds of expression reach it, and they must accept the same language with the same semantics:

* the ``x-kubernetes-validations`` rules of the CRDs (``self`` is the object node; the API server runs
  them when objects are stored, :mod:`headwater.api.validation` runs them offline);
* ``spec.healthCheckExprs`` of Kustomizations (the variables are the object's top-level fields), via
  :mod:`headwater.apply.cel_health`;
* ``spec.dependsOn[].readyExpr`` (``self`` the dependant, ``dep`` the dependency), via
  :mod:`headwater.kustomize.ready_expr`.

Flux and the API server run cel-go; this module runs cel-python and closes the gaps that matter for
those expressions: numbers compare across int/uint/double and equality between different types is
``false`` (not an error), and ``has()`` accepts only a field selection, both as in cel-go. cel-go
extras that cel-python 0.5 lacks (optional selection ``a.?b``, the ``strings``/``sets`` extension
libraries) do not compile here.

There is one compile cache (by text, shared by every object and every front-end) and one error type,
:class:`CelError`, with two cases: :class:`CelSyntaxError` (the text does not compile; callers stall
the object) and :class:`CelEvaluationError` (evaluating failed, typically selecting a field that is not
set, or a boolean was expected; callers read "not yet"). The messages are those of ``fluxcd/pkg``'s
``runtime/cel``, so front-ends only add their own context.

cel-python costs a tenth of a second to import, so it is imported on the first compile, not with
:mod:`headwater.api`.
"""

from __future__ import annotations

import functools
import operator
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

__all__ = [
    "CelError",
    "CelEvaluationError",
    "CelSyntaxError",
    "Program",
    "Variables",
    "compile_expression",
    "evaluate_bool",
    "evaluate_rule",
]

_CACHE_SIZE: Final = 1024


class CelError(Exception):
    """An expression that did not compile or did not evaluate; ``str()`` is the message."""

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(message)
        self.expression = expression
        self.message = message


class CelSyntaxError(CelError):
    """The text is not an expression this engine accepts; the message is the parser's, cel-go style."""


class CelEvaluationError(CelError):
    """Evaluation failed or gave the wrong type; the message is Flux's."""


class Variables:
    """Named values (plain JSON: dicts, lists, strings, numbers) converted to CEL once.

    Build it once to evaluate several programs against the same object (health checks evaluate up to
    three per object); :meth:`Program.evaluate` also accepts a plain mapping.
    """

    __slots__ = ("values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        from celpy.adapter import json_to_cel

        self.values: dict[str, Any] = {str(name): json_to_cel(_plain(value)) for name, value in values.items()}


class Program:
    """A compiled expression; shared by everyone who compiles the same text (see :func:`compile_expression`)."""

    __slots__ = ("_lock", "_runner", "text")

    def __init__(self, text: str, runner: Any) -> None:
        self.text = text
        self._runner = runner
        self._lock = threading.Lock()  # a cel-python runner keeps its activation while it runs

    def evaluate(self, variables: Variables | Mapping[str, Any]) -> Any:
        """The result as plain Python (bool, int, float, str, list, dict, None); :class:`CelEvaluationError`."""
        from celpy.evaluation import CELEvalError

        bound = variables if isinstance(variables, Variables) else Variables(variables)
        try:
            with self._lock:
                value = self._runner.evaluate(dict(bound.values))
        except CELEvalError as err:
            raise self._failed(_eval_issue(err)) from err
        except Exception as err:  # cel-python raises plain Python errors for some bad inputs
            raise self._failed(str(err)) from err
        if isinstance(value, CELEvalError):
            raise self._failed(_eval_issue(value))
        return _python(value)

    def evaluate_bool(self, variables: Variables | Mapping[str, Any]) -> bool:
        """The boolean result; any other type is a :class:`CelEvaluationError`, as Flux's ``EvaluateBoolean``."""
        value = self.evaluate(variables)
        if not isinstance(value, bool):
            raise CelEvaluationError(self.text, f"failed to evaluate CEL expression as boolean: '{self.text}'")
        return value

    def _failed(self, issue: str) -> CelEvaluationError:
        return CelEvaluationError(self.text, f"failed to evaluate the CEL expression '{self.text}': {issue}")

    def __repr__(self) -> str:
        return f"Program({self.text!r})"


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_expression(text: str) -> Program:
    """Compile ``text`` once (cached by text); raises :class:`CelSyntaxError`."""
    from celpy.celparser import CELParseError

    environment = _environment()
    with _ENVIRONMENT_LOCK:
        try:
            tree = environment.compile(text)
        except CELParseError as err:
            raise CelSyntaxError(text, _parse_issue(err)) from err
        except Exception as err:  # the grammar may also fail in lexing helpers
            raise CelSyntaxError(text, f"ERROR: <input>: {err}") from err
        _check_macros(text, tree)
        runner = environment.program(tree, functions=_functions())
    return Program(text, runner)


def evaluate_bool(text: str, variables: Variables | Mapping[str, Any]) -> bool:
    """Compile (cached) and evaluate ``text`` to a boolean; raises :class:`CelError`."""
    return compile_expression(text).evaluate_bool(variables)


def evaluate_rule(expression: str, self_: Any) -> bool:
    """A CRD validation rule against the object node ``self``; raises :class:`CelError`."""
    return evaluate_bool(expression, {"self": self_})


# --------------------------------------------------------------------------------------------
# The environment: cel-python with cel-go's comparisons.

_ENVIRONMENT_LOCK = threading.Lock()


@functools.cache
def _environment() -> Any:
    import celpy

    return celpy.Environment()


def _is_number(value: Any) -> bool:
    import celpy.celtypes as celtypes

    return isinstance(value, celtypes.IntType | celtypes.UintType | celtypes.DoubleType) and not isinstance(
        value, celtypes.BoolType
    )


def _as_number(value: Any) -> int | float:
    import celpy.celtypes as celtypes

    return float(value) if isinstance(value, celtypes.DoubleType) else int(value)


def _equality(negate: bool) -> Callable[[Any, Any], Any]:
    import celpy.celtypes as celtypes
    from celpy.evaluation import CELEvalError

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
    import celpy.celtypes as celtypes

    def compare(left: Any, right: Any) -> Any:
        if _is_number(left) and _is_number(right):
            return celtypes.BoolType(bool(op(_as_number(left), _as_number(right))))
        return fallback(left, right)

    return compare


@functools.cache
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
# Compile-time checks and messages.


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


def _check_macros(text: str, tree: Any) -> None:
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
                raise CelSyntaxError(text, "ERROR: <input>: invalid argument to has() macro")
        stack.extend(children)


def _parse_issue(err: Exception) -> str:
    line = getattr(err, "line", None)
    column = getattr(err, "column", None)
    detail = str(err.__context__ or err).strip().splitlines()
    first = detail[0] if detail else "syntax error"
    where = f"<input>:{line}:{column}" if line is not None else "<input>"
    return f"ERROR: {where}: Syntax error: {first}"


def _eval_issue(err: Exception) -> str:
    message = str(err.args[0]) if err.args else str(err)
    # cel-python appends the whole activation to "undeclared reference" errors; drop it.
    cut = message.find(" (in activation")
    return message[:cut] if cut >= 0 else message


# --------------------------------------------------------------------------------------------
# Values in and out.


def _plain(value: Any) -> Any:
    """Objects from the API are JSON; YAML fixtures may carry datetimes: keep them strings."""
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


def _python(value: Any) -> Any:
    """A CEL value as plain Python (bool before int: cel-python's BoolType is an int)."""
    import celpy.celtypes as celtypes

    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, Mapping):
        return {_python(key): _python(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_python(item) for item in value]
    return value
