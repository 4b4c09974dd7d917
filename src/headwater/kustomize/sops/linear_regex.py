"""The crypt-rule regexes of a SOPS file (`encrypted_regex`, ...), searched in linear time, as Go does.

Why not `re`: the rules come from the file being decrypted, so a tenant writes them, and Python's
backtracking engine takes exponential time on patterns such as `^(a|aa)+$` against a long key: one file
would hang the controller. SOPS compiles them with Go's `regexp` (RE2), which guarantees time linear in
the input. So the pattern is parsed with Python's own parser and run here as a Thompson NFA (the set of
live program positions, advanced one character at a time): `len(text) * len(program)` steps at most.

The language is RE2's, as far as Python's parser reads it: literals, `.`, classes, `\\d \\s \\w` (ASCII,
as in Go), alternation, groups, greedy and lazy repeats (counted ones up to 1000, RE2's limit), `^ $ \\A \\z
\\b \\B`, and the flags `i m s`. `$` is the end of the text (Go), not "before a final newline" (Python).
Back-references and look-arounds, which RE2 does not have, are refused (`UnsupportedRegex`), as Go's
`regexp.Compile` refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from re import _constants as c
from re import _parser as sre
from typing import Any

__all__ = ["LinearRegex", "UnsupportedRegex", "compile_linear"]

MAX_REPEAT = 1000
MAX_PROGRAM = 20_000

_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SPACE = frozenset("\t\n\f\r ")  # Go's \s; \v is not in it
_DIGIT = frozenset("0123456789")


class UnsupportedRegex(ValueError):
    """The pattern is not valid RE2 (or not parseable); the message says which construct."""


Predicate = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class _Char:
    test: Predicate


@dataclass(frozen=True, slots=True)
class _Split:
    first: int
    second: int


@dataclass(frozen=True, slots=True)
class _Jump:
    to: int


@dataclass(frozen=True, slots=True)
class _Assert:
    kind: str  # "^", "$", "A", "z", "b", "B"


class _Match:
    pass


_Instruction = _Char | _Split | _Jump | _Assert | _Match


def _category(name: Any) -> Predicate:
    table = {
        c.CATEGORY_DIGIT: lambda ch: ch in _DIGIT, c.CATEGORY_NOT_DIGIT: lambda ch: ch not in _DIGIT,
        c.CATEGORY_SPACE: lambda ch: ch in _SPACE, c.CATEGORY_NOT_SPACE: lambda ch: ch not in _SPACE,
        c.CATEGORY_WORD: lambda ch: ch in _WORD, c.CATEGORY_NOT_WORD: lambda ch: ch not in _WORD,
    }  # fmt: skip
    if name not in table:
        raise UnsupportedRegex(f"unsupported character category {name}")
    return table[name]


def _between(low: str, high: str) -> Predicate:
    return lambda ch: low <= ch <= high


def _fold(test: Predicate, ignore_case: bool) -> Predicate:
    if not ignore_case:
        return test
    return lambda ch: test(ch) or test(ch.lower()) or test(ch.upper())


class _Compiler:
    def __init__(self) -> None:
        self.program: list[_Instruction] = []

    def emit(self, instruction: _Instruction) -> int:
        if len(self.program) >= MAX_PROGRAM:
            raise UnsupportedRegex(f"the expression compiles to more than {MAX_PROGRAM} instructions")
        self.program.append(instruction)
        return len(self.program) - 1

    def patch(self, at: int, instruction: _Instruction) -> None:
        self.program[at] = instruction

    def sequence(self, items: Any, flags: int) -> None:
        for op, arg in items:
            self.node(op, arg, flags)

    def node(self, op: Any, arg: Any, flags: int) -> None:
        ignore_case = bool(flags & re.IGNORECASE)
        if op is c.LITERAL:
            literal = chr(arg)
            self.emit(_Char(_fold(lambda ch: ch == literal, ignore_case)))
        elif op is c.NOT_LITERAL:
            literal = chr(arg)
            if ignore_case:
                self.emit(_Char(lambda ch: ch.lower() != literal.lower()))
            else:
                self.emit(_Char(lambda ch: ch != literal))
        elif op is c.ANY:
            dotall = bool(flags & re.DOTALL)
            self.emit(_Char(lambda ch: dotall or ch != "\n"))
        elif op is c.IN:
            self.emit(_Char(_fold(self.char_class(arg), ignore_case)))
        elif op is c.CATEGORY:
            self.emit(_Char(_category(arg)))
        elif op is c.BRANCH:
            self.branch(arg[1], flags)
        elif op is c.SUBPATTERN:
            _, add_flags, del_flags, items = arg
            self.sequence(items, (flags | add_flags) & ~del_flags)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, items = arg
            self.repeat(low, high, items, flags, greedy=op is not c.MIN_REPEAT)
        elif op is c.AT:
            self.emit(_Assert(self.anchor(arg, flags)))
        else:  # GROUPREF, ASSERT, ASSERT_NOT, GROUPREF_EXISTS, ATOMIC_GROUP: not RE2
            raise UnsupportedRegex(f"{str(op).lower()} is not supported by RE2")

    @staticmethod
    def anchor(at: Any, flags: int) -> str:
        multiline = bool(flags & re.MULTILINE)
        kinds = {c.AT_BEGINNING: "^" if multiline else "A", c.AT_BEGINNING_STRING: "A",
                 c.AT_END: "$" if multiline else "z", c.AT_END_STRING: "z",
                 c.AT_BOUNDARY: "b", c.AT_NON_BOUNDARY: "B"}  # fmt: skip
        if at not in kinds:
            raise UnsupportedRegex(f"unsupported anchor {at}")
        return kinds[at]

    @staticmethod
    def char_class(items: Any) -> Predicate:
        negated = False
        tests: list[Predicate] = []
        for op, arg in items:
            if op is c.NEGATE:
                negated = True
            elif op is c.LITERAL:
                tests.append(_between(chr(arg), chr(arg)))
            elif op is c.RANGE:
                tests.append(_between(chr(arg[0]), chr(arg[1])))
            elif op is c.CATEGORY:
                tests.append(_category(arg))
            else:
                raise UnsupportedRegex(f"unsupported class item {op}")
        return lambda ch: any(test(ch) for test in tests) != negated

    def branch(self, alternatives: Any, flags: int) -> None:
        jumps: list[int] = []
        for index, alternative in enumerate(alternatives):
            if index < len(alternatives) - 1:
                split = self.emit(_Split(0, 0))
                self.sequence(alternative, flags)
                jumps.append(self.emit(_Jump(0)))
                self.patch(split, _Split(split + 1, len(self.program)))
            else:
                self.sequence(alternative, flags)
        for jump in jumps:
            self.patch(jump, _Jump(len(self.program)))

    def repeat(self, low: int, high: int, items: Any, flags: int, *, greedy: bool) -> None:
        unbounded = high == c.MAXREPEAT
        if low > MAX_REPEAT or (not unbounded and high > MAX_REPEAT):
            raise UnsupportedRegex(f"invalid repeat count: more than {MAX_REPEAT}")
        for _ in range(low):
            self.sequence(items, flags)
        if unbounded:  # L: split(body, out); body; jmp L
            loop = self.emit(_Split(0, 0))
            self.sequence(items, flags)
            self.emit(_Jump(loop))
            out = len(self.program)
            self.patch(loop, _Split(loop + 1, out) if greedy else _Split(out, loop + 1))
            return
        splits: list[int] = []
        for _ in range(high - low):  # each optional copy: split(body, out)
            splits.append(self.emit(_Split(0, 0)))
            self.sequence(items, flags)
        out = len(self.program)
        for split in splits:
            self.patch(split, _Split(split + 1, out) if greedy else _Split(out, split + 1))


def _holds(kind: str, text: str, pos: int) -> bool:
    if kind == "A":
        return pos == 0
    if kind == "z":
        return pos == len(text)
    if kind == "^":
        return pos == 0 or text[pos - 1] == "\n"
    if kind == "$":
        return pos == len(text) or text[pos] == "\n"
    before = pos > 0 and text[pos - 1] in _WORD
    after = pos < len(text) and text[pos] in _WORD
    return (before != after) == (kind == "b")


@dataclass(frozen=True)
class LinearRegex:
    """A compiled pattern; `search(text)` says whether it matches anywhere, in linear time."""

    pattern: str
    program: tuple[_Instruction, ...]

    def _close(self, states: list[int], text: str, pos: int) -> list[int]:
        seen: set[int] = set()
        out: list[int] = []
        stack = list(reversed(states))
        while stack:
            at = stack.pop()
            if at in seen:
                continue
            seen.add(at)
            instruction = self.program[at]
            if isinstance(instruction, _Jump):
                stack.append(instruction.to)
            elif isinstance(instruction, _Split):
                stack.extend((instruction.second, instruction.first))
            elif isinstance(instruction, _Assert):
                if _holds(instruction.kind, text, pos):
                    stack.append(at + 1)
            else:
                out.append(at)
        return out

    def search(self, text: str) -> bool:
        states: list[int] = []
        for pos in range(len(text) + 1):
            states = self._close([*states, 0], text, pos)  # a new attempt starts at every position
            if any(isinstance(self.program[at], _Match) for at in states):
                return True
            if pos == len(text):
                break
            char = text[pos]
            states = [at + 1 for at in states if isinstance(self.program[at], _Char)
                      and self.program[at].test(char)]  # type: ignore[union-attr]
        return False


def compile_linear(pattern: str) -> LinearRegex:
    """Compile `pattern` (RE2 syntax, as Python's parser reads it); UnsupportedRegex when it cannot be."""
    try:
        parsed = sre.parse(pattern)
    except (re.error, RecursionError, OverflowError) as err:
        raise UnsupportedRegex(f"invalid regular expression: {err}") from None
    compiler = _Compiler()
    try:
        compiler.sequence(parsed.data, parsed.state.flags)
    except RecursionError:
        raise UnsupportedRegex("the expression nests too deeply") from None
    compiler.emit(_Match())
    return LinearRegex(pattern, tuple(compiler.program))
