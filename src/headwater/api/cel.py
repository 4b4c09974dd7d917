"""A small evaluator for the CEL subset used by Flux's CRD validation rules.

The API server checks ``x-kubernetes-validations`` rules when objects are stored; offline
validation (``headwater build``) should reject the same manifests, but a full CEL engine is
a large dependency for a dozen one-line rules.  Flux's rules only use field selection on
``self``, ``has()``, ``size()``, string/int/bool literals, comparisons, ``!``, ``&&``, ``||``
and parentheses, so that is exactly what this module implements.  Anything else raises
:class:`CelUnsupported` at compile time and the caller skips the rule rather than guess.

Semantics follow CEL where they matter here: selecting an absent field is an error,
``has()`` tests presence, and ``||``/``&&`` absorb an error on one side when the other
side decides the result.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

Evaluator = Callable[[Any], Any]


class CelError(Exception):
    """Evaluation error (e.g. selecting a field that is not set)."""


class CelUnsupported(ValueError):
    """The expression uses CEL features outside the supported subset."""


_TOKEN: Final = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<int>\d+)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\|\||&&|==|!=|<=|>=|[<>!().]))"
)


def _tokenize(source: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    source = source.rstrip()
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            raise CelUnsupported(f"cannot tokenize {source[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise CelUnsupported("unexpected end of expression")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise CelUnsupported(f"expected {expected!r}, found {token[1]!r}")
        self.position += 1
        return token

    def parse(self) -> Evaluator:
        result = self.disjunction()
        if self.position != len(self.tokens):
            raise CelUnsupported(f"unexpected {self.peek()!r}")
        return result

    def disjunction(self) -> Evaluator:
        left = self.conjunction()
        while self.peek() == "||":
            self.take()
            left = _or(left, self.conjunction())
        return left

    def conjunction(self) -> Evaluator:
        left = self.comparison()
        while self.peek() == "&&":
            self.take()
            left = _and(left, self.comparison())
        return left

    def comparison(self) -> Evaluator:
        left = self.unary()
        operator = self.peek()
        if operator in _COMPARISONS:
            self.take()
            return _compare(_COMPARISONS[operator], left, self.unary())
        return left

    def unary(self) -> Evaluator:
        if self.peek() == "!":
            self.take()
            operand = self.unary()
            return lambda self_: not _boolean(operand(self_))
        return self.primary()

    def primary(self) -> Evaluator:
        kind, text = self.take()
        if text == "(":
            inner = self.disjunction()
            self.take(")")
            return inner
        if kind == "string":
            value = bytes(text[1:-1], "utf-8").decode("unicode_escape")
            return lambda self_: value
        if kind == "int":
            number = int(text)
            return lambda self_: number
        if kind != "ident":
            raise CelUnsupported(f"unexpected {text!r}")
        if text in ("true", "false"):
            flag = text == "true"
            return lambda self_: flag
        if text == "has":
            self.take("(")
            path = self.selection_path()
            self.take(")")
            return _has(path)
        if text == "size":
            self.take("(")
            operand = self.disjunction()
            self.take(")")
            return lambda self_: len(operand(self_))
        if text == "self":
            return _select(self.fields())
        raise CelUnsupported(f"unsupported identifier {text!r}")

    def fields(self) -> list[str]:
        names: list[str] = []
        while self.peek() == ".":
            self.take()
            kind, name = self.take()
            if kind != "ident":
                raise CelUnsupported(f"expected a field name, found {name!r}")
            names.append(name)
        return names

    def selection_path(self) -> list[str]:
        self.take("self")
        names = self.fields()
        if not names:
            raise CelUnsupported("has() needs a field selection")
        return names


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise CelError(f"expected a bool, got {value!r}")
    return value


def _select(names: list[str]) -> Evaluator:
    def evaluate(self_: Any) -> Any:
        value = self_
        for name in names:
            if not isinstance(value, Mapping) or name not in value:
                raise CelError(f"no such key: {name}")
            value = value[name]
        return value

    return evaluate


def _has(names: list[str]) -> Evaluator:
    parent = _select(names[:-1])
    last = names[-1]

    def evaluate(self_: Any) -> bool:
        container = parent(self_)
        return isinstance(container, Mapping) and last in container

    return evaluate


def _or(left: Evaluator, right: Evaluator) -> Evaluator:
    def evaluate(self_: Any) -> bool:
        try:
            if _boolean(left(self_)):
                return True
        except CelError:
            if _boolean(right(self_)):
                return True
            raise
        return _boolean(right(self_))

    return evaluate


def _and(left: Evaluator, right: Evaluator) -> Evaluator:
    def evaluate(self_: Any) -> bool:
        try:
            if not _boolean(left(self_)):
                return False
        except CelError:
            if not _boolean(right(self_)):
                return False
            raise
        return _boolean(right(self_))

    return evaluate


_COMPARISONS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _compare(operator: Callable[[Any, Any], bool], left: Evaluator, right: Evaluator) -> Evaluator:
    def evaluate(self_: Any) -> bool:
        a, b = left(self_), right(self_)
        if type(a) is not type(b):
            raise CelError(f"no matching overload for {a!r} and {b!r}")
        return operator(a, b)

    return evaluate


@functools.lru_cache(maxsize=256)
def compile_rule(expression: str) -> Evaluator:
    """Compile a rule; raises :class:`CelUnsupported` outside the supported subset."""
    return _Parser(expression).parse()


def evaluate_rule(expression: str, self_: Any) -> bool:
    """Evaluate a rule against ``self``; raises :class:`CelError` or :class:`CelUnsupported`."""
    return _boolean(compile_rule(expression)(self_))
