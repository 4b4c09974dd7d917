"""Post-build variable substitution, as kustomize-controller does it (`spec.postBuild`).

Why this module exists: Flux templates built manifests with its own fork of drone/envsubst (fluxcd/pkg
`envsubst`), run over each object's YAML *text*. Users' repositories depend on that dialect's exact quirks,
so a generic shell-style expander would silently render different manifests. What is reproduced here:

* Only `${...}` is an expression. `$var` (no braces) is left alone, and `$$` always becomes `$` (so
  `$${var}` prints a literal `${var}`).
* Operators: `${var}`, `${#var}` (length in UTF-8 bytes), `${var^}`, `${var^^}`, `${var,}`, `${var,,}`,
  `${var:offset}`, `${var:offset:length}` (negative lengths count from the end; a negative offset only
  reaches the parser through a nested `${...}`, because `:-` is the default operator), `${var#glob}`,
  `${var##glob}`, `${var%glob}`, `${var%%glob}`, `${var/pat/rep}`, `${var//pat/rep}`, `${var/#pat/rep}`,
  `${var/%pat/rep}` (`\\/` and `\\\\` escape inside these), and the defaults `${var:-x}`, `${var=x}`,
  `${var:=x}`, all of which use `x` when the value is unset *or empty*. `${var:?x}` and `${var:+x}` parse but
  behave like `${var:-x}` (the fork has no bash meaning for them); `${var-x}` and `${var+x}` are errors
  ("missing closing brace"). Defaults may nest expressions: `${a:=${b}-suffix}`.
* Strict mode (kustomize-controller's `StrictPostBuildSubstitutions` gate): a variable that is not set and
  not read through a default operator fails with `variable not set (strict mode): "NAME"`; otherwise it is
  the empty string. Set-but-empty variables are fine in strict mode.
* Variable names given in `substitute`/`substituteFrom` must match
  `^[_[:alpha:]][_[:alpha:][:digit:]]*$` (ASCII); the check runs per substituted object, as in Flux.
* Objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are skipped, and with the
  default `substituteStrategy` (`WithVariables`) nothing is substituted when no variable is defined.
* The object is printed as YAML, substituted as text and parsed back, so `replicas: ${REPLICAS}` becomes an
  integer. Parsing back follows Go's yaml.v2 as used by `sigs.k8s.io/yaml` (YAML 1.1 booleans including
  `y`/`n`, Go integer syntax, no sexagesimals, timestamps stay strings) and then JSON (keys become strings,
  integral floats integers), because that is the path Flux's result takes.

Variables come from `resolve_variables`, a pure function over already-fetched ConfigMaps and Secrets (the
controller fetches them), with Flux's precedence: `substituteFrom` in order, later entries overriding
earlier ones, and inline `substitute` overriding all; newlines are removed from every value.

Known differences, all outside what manifests normally contain: offsets, lengths and glob matching of
non-ASCII text work on characters where Go works on bytes (a cut inside a character yields U+FFFD), and
case mapping of the few characters whose Unicode upper/lower case is longer than one character is
approximated. When an object reaches us as a dict its source quoting is gone, so strings are printed plain
where YAML allows (as kustomize prints them); pass `manifest=` (the object's YAML as kustomize printed it)
to substitute the original text instead and keep `"${VAR}"` a string exactly as Flux does.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from headwater.api import safeyaml
from headwater.api.models.kustomize import PostBuild, SubstituteReference

__all__ = [
    "DISABLED_VALUE",
    "MAX_NESTING",
    "SUBSTITUTE_KEY",
    "VAR_NAME_PATTERN",
    "EnvsubstError",
    "SubstitutionError",
    "envsubst",
    "is_substitution_disabled",
    "object_ref",
    "resolve_variables",
    "substitute_from_refs",
    "substitute_object",
    "substitute_objects",
    "validate_variable_names",
]

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
DISABLED_VALUE = "disabled"
# Flux's own spelling of the rule (quoted in its error message); RE2's [:alpha:] is ASCII-only.
VAR_NAME_PATTERN = "^[_[:alpha:]][_[:alpha:][:digit:]]*$"
_VAR_NAME_RE = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
# Operators that supply their own value when the variable is unset, so strict mode leaves them alone.
_DEFAULT_OPS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


class EnvsubstError(ValueError):
    """The text cannot be substituted: a malformed `${...}` or (strict mode) an unset variable."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class SubstitutionError(Exception):
    """Post-build substitution failed; the message names the object (`Kind/namespace/name`) and the cause."""

    reason = "BuildFailed"

    def __init__(self, message: str, *, object_ref: str | None = None, variable: str | None = None) -> None:
        super().__init__(message)
        self.object_ref = object_ref
        self.variable = variable


# --------------------------------------------------------------------------------------------------------
# Parsing: a recursive descent that reproduces the fork's scanner, including where it is lenient or strict.
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Func:
    param: str
    op: str = ""
    args: list[_Node] = field(default_factory=list)


_Node = str | _Func

_Accept = Callable[[str, int], bool]
_TEXT, _LBRACK, _RBRACK, _EOF, _ILLEGAL = range(5)

_ERR_BAD = "bad substitution"
_ERR_BRACE = "missing closing brace"
_ERR_NAME = "unable to parse variable name"
_ERR_FUNC = "unable to parse substitution within function"
_ERR_DEFAULT = "unable to parse default function"


def _is_ident(c: str, _i: int) -> bool:
    return c.isalpha() or c.isdecimal() or c == "_"


def _any(_c: str, _i: int) -> bool:
    return True


def _not_closing(c: str, _i: int) -> bool:
    return c != "}"


def _not_colon_or_closing(c: str, _i: int) -> bool:
    return c not in ":}"


def _not_slash(c: str, _i: int) -> bool:
    return c != "/"


def _colons(c: str, _i: int) -> bool:
    return c == ":"


def _slashes(c: str, _i: int) -> bool:
    return c == "/"


def _repeat(chars: str, limit: int) -> _Accept:
    return lambda c, i: c in chars and i <= limit


def _default_op(c: str, i: int) -> bool:
    return (i == 1 and c == ":") or (i == 2 and c in "=-?+")


def _replace_op(c: str, i: int) -> bool:
    return (i == 1 and c == "/") or (i == 2 and c in "/#%")


#: Deepest `${a:=${b:=...}}` nesting accepted. The parser and the evaluator recurse once per level, and a
#: template is repository content: without a bound, a few kilobytes of `${a:=` are a RecursionError.
MAX_NESTING = 64
_ERR_NESTING = f"expressions nested deeper than {MAX_NESTING} levels"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _escaped(self, c: str, escapes: str) -> bool:
        nxt = self.text[self.pos + 1] if self.pos + 1 < len(self.text) else ""
        if c == "$" and escapes and nxt == "$":
            return True
        return c == "\\" and escapes == "all" and nxt in ("/", "\\")

    def token(self, accept: _Accept, *, lbrack: bool = False, rbrack: bool = False,
              escapes: str = "") -> tuple[int, str]:
        """One token: `${`, `}`, or a run of accepted characters (with `$$`/`\\/`/`\\\\` unescaped)."""
        text, pos = self.text, self.pos
        if pos >= len(text):
            return _EOF, ""
        c = text[pos]
        if lbrack and c == "$" and text.startswith("{", pos + 1):
            self.pos = pos + 2
            return _LBRACK, ""
        if rbrack and c == "}":
            self.pos = pos + 1
            return _RBRACK, "}"
        out: list[str] = []
        while self.pos < len(text):
            c = text[self.pos]
            if out and lbrack and c == "$" and text.startswith("{", self.pos + 1):
                break
            if self._escaped(c, escapes):
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            if not accept(c, len(out) + 1):
                break
            out.append(c)
            self.pos += 1
        if not out:
            return _ILLEGAL, ""
        return _TEXT, "".join(out)

    def parse(self) -> list[_Node]:
        """The top level: text with `$$` unescaped, and `${...}` expressions. Hot, so it jumps from `$` to `$`."""
        text, nodes, chunk = self.text, list[_Node](), list[str]()
        pos = 0
        while True:
            found = text.find("$", pos)
            if found < 0:
                chunk.append(text[pos:])
                break
            chunk.append(text[pos:found])
            after = text[found + 1: found + 2]
            if after == "{":
                if any(chunk):
                    nodes.append("".join(chunk))
                chunk = []
                self.pos = found + 2
                nodes.append(self.parse_func())
                pos = self.pos
            else:  # `$$` is one `$`; a lone `$` (as in `$var`) is text
                chunk.append("$")
                pos = found + (2 if after == "$" else 1)
        if any(chunk):
            nodes.append("".join(chunk))
        return nodes

    def parse_func(self) -> _Func:
        if self.depth >= MAX_NESTING:
            raise EnvsubstError(_ERR_NESTING)
        self.depth += 1
        try:
            return self._parse_func()
        finally:
            self.depth -= 1

    def _parse_func(self) -> _Func:
        if self.peek() == "#":
            return self.parse_length()
        kind, name = self.token(_is_ident)
        if kind != _TEXT:
            raise EnvsubstError(_ERR_NAME)
        nxt = self.peek()
        if nxt == ":":
            after = self.text[self.pos + 1: self.pos + 2]
            return self.parse_default(name) if after and after in "=-?+" else self.parse_substr(name)
        if nxt == "=":
            return self.parse_default(name)
        if nxt in (",", "^"):
            return self.parse_op_only(name, _repeat(",^", 2))
        if nxt == "/":
            return self.parse_replace(name)
        if nxt == "#" or nxt == "%":
            return self.parse_remove(name, _repeat(nxt, 2))
        if self.token(_is_ident, rbrack=True)[0] != _RBRACK:
            raise EnvsubstError(_ERR_BRACE)
        return _Func(name)

    def param(self, accept: _Accept, escapes: str = "") -> _Node:
        kind, value = self.token(accept, lbrack=True, escapes=escapes)
        if kind == _LBRACK:
            return self.parse_func()
        if kind == _TEXT:
            return value
        raise EnvsubstError(_ERR_FUNC)

    def close(self) -> None:
        if self.token(_any, rbrack=True)[0] != _RBRACK:
            raise EnvsubstError(_ERR_BAD)

    def op(self, accept: _Accept, error: str = _ERR_BAD) -> str:
        kind, value = self.token(accept)
        if kind != _TEXT:
            raise EnvsubstError(error)
        return value

    def parse_length(self) -> _Func:
        self.op(_repeat("#", 1))
        kind, name = self.token(_is_ident)
        if kind != _TEXT:
            raise EnvsubstError(_ERR_BAD)
        self.close()
        return _Func(name, "#")

    def parse_op_only(self, name: str, accept: _Accept) -> _Func:
        node = _Func(name, self.op(accept))
        self.close()
        return node

    def parse_remove(self, name: str, accept: _Accept) -> _Func:
        node = _Func(name, self.op(accept))
        node.args.append(self.param(_not_closing))
        self.close()
        return node

    def parse_substr(self, name: str) -> _Func:
        node = _Func(name, self.op(_repeat(":", 1)))
        node.args.append(self.param(_not_colon_or_closing))
        kind, _ = self.token(_colons, rbrack=True)
        if kind == _RBRACK:
            return node
        if kind != _TEXT:
            raise EnvsubstError(_ERR_BAD)
        node.args.append(self.param(_not_closing))
        self.close()
        return node

    def parse_replace(self, name: str) -> _Func:
        node = _Func(name, self.op(_replace_op))
        if self.peek() == "/":
            node.args.append("")
        else:
            node.args.append(self.param(_not_slash, "all"))
        self.op(_slashes)
        if self.peek() == "}":
            self.close()
            return node
        node.args.append(self.param(_not_closing, "all"))
        self.close()
        return node

    def parse_default(self, name: str) -> _Func:
        accept = _repeat("=", 1) if self.peek() == "=" else _default_op
        node = _Func(name, self.op(accept, _ERR_DEFAULT))
        while self.peek() != "}":
            node.args.append(self.param(_not_closing))
        self.close()
        return node


# --------------------------------------------------------------------------------------------------------
# The functions behind the operators.
# --------------------------------------------------------------------------------------------------------


def _go_atoi(text: str) -> int | None:
    if not re.fullmatch(r"[+-]?[0-9]+", text, flags=re.ASCII) or len(text.lstrip("+-0")) > 19:
        return None
    value = int(text[0] + (text[1:].lstrip("0") or "0") if text[0] in "+-" else text.lstrip("0") or "0")
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _utf8(value: str) -> bytes:
    """The bytes Go's string holds: a lone surrogate (JSON's `"\\ud800"` decodes to one in Python) takes
    three bytes, as the U+FFFD Go's decoder puts there does, instead of failing the encode."""
    return value.encode("utf-8", "surrogatepass")


def _substr(value: str, args: list[str]) -> str:
    raw = _utf8(value)
    pos = _go_atoi(args[0])
    if pos is None:
        return value
    if pos < 0:
        pos = max(len(raw) + pos, 0)
    if len(args) == 1:
        return raw[pos:].decode(errors="replace") if pos < len(raw) else ""
    length = _go_atoi(args[1])
    if length is None:
        return value
    if length < 0:
        end = len(raw) + length
        return "" if end < pos else raw[pos:end].decode(errors="replace")
    if pos + length >= len(raw):
        return raw[pos:].decode(errors="replace") if pos < len(raw) else ""
    return raw[pos:pos + length].decode(errors="replace")


def _upper_char(c: str) -> str:
    u = c.upper()
    return u if len(u) == 1 else c


def _lower_char(c: str) -> str:
    low = c.lower()
    return low if len(low) == 1 else low[0]


def _default(value: str, args: list[str]) -> str:
    return "".join(args) if not value and args else value


def _replace_first(value: str, args: list[str]) -> str:
    if not args:
        return value
    return value.replace(args[0], args[1] if len(args) > 1 else "", 1)


def _replace_all(value: str, args: list[str]) -> str:
    if not args:
        return value
    return value.replace(args[0], args[1] if len(args) > 1 else "")


def _replace_prefix(value: str, args: list[str]) -> str:
    if len(args) != 2 or not value.startswith(args[0]):
        return value
    return args[1] + value[len(args[0]):]


def _replace_suffix(value: str, args: list[str]) -> str:
    if len(args) != 2 or not value.endswith(args[0]):
        return value
    return value[: len(value) - len(args[0])] + args[1]


# A compiled glob: `*`, `?`, a literal character, or a class (negated, ranges).
_GlobToken = tuple[str, str] | tuple[str, bool, tuple[tuple[str, str], ...]]
_STAR, _ANY = ("*", ""), ("?", "")


def _glob_class(pattern: str, i: int) -> tuple[_GlobToken, int] | None:
    """The class whose `[` is just before `pattern[i]`, and the index after its `]`; None when malformed."""
    negated = pattern.startswith("^", i)
    i += negated
    ranges: list[tuple[str, str]] = []
    while not (pattern.startswith("]", i) and ranges):
        bounds = []
        for _ in range(2):
            if i >= len(pattern) or pattern[i] in "-]":
                return None
            if pattern[i] == "\\":
                i += 1
            if i + 1 >= len(pattern):  # the class must still be closed
                return None
            bounds.append(pattern[i])
            i += 1
            if pattern[i] != "-" or len(bounds) == 2:
                break
            i += 1
        ranges.append((bounds[0], bounds[-1]))
    return ("[", negated, tuple(ranges)), i + 1


def _glob_tokens(pattern: str) -> list[_GlobToken] | None:
    """drone/envsubst's variant of Go's `path.Match` pattern, compiled; None when malformed. (A malformed
    pattern can never match in Go's matcher either: it fails on the bad part before the pattern ends.)"""
    tokens: list[_GlobToken] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if not tokens or tokens[-1] != _STAR:
                tokens.append(_STAR)
            i += 1
        elif c == "?":
            tokens.append(_ANY)
            i += 1
        elif c == "[":
            found = _glob_class(pattern, i + 1)
            if found is None:
                return None
            token, i = found
            tokens.append(token)
        elif c == "\\":
            if i + 1 >= len(pattern):
                return None
            tokens.append(("=", pattern[i + 1]))
            i += 2
        else:
            tokens.append(("=", c))
            i += 1
    return tokens


def _step(token: _GlobToken, c: str) -> bool:
    if len(token) == 3:  # a class
        _, negated, ranges = token
        return any(lo <= c <= hi for lo, hi in ranges) != negated
    if token[0] == "=":
        return token[1] == c
    return True  # `?`; `*` matches anything, including `/`, in this variant


def _prefix_ends(tokens: list[_GlobToken], value: str, *, longest: bool) -> int:
    """The shortest (or longest) non-empty prefix of `value` the glob matches, as its length; 0 for none.

    The glob runs as an automaton over the set of live token positions, so one pass over `value` costs
    `len(value) * len(tokens)`: trying every prefix with a backtracking matcher (what the Go code does)
    is quadratic in the value, and a value is a tenant's ConfigMap entry of up to a MiB.
    """
    final = len(tokens)

    def close(states: set[int]) -> set[int]:
        out = set(states)
        for i in states:
            while i < final and tokens[i] == _STAR:
                i += 1
                out.add(i)
        return out

    states, found = close({0}), 0
    for index, c in enumerate(value):
        after = set()
        for i in states:
            if i == final:
                continue
            token = tokens[i]
            if token == _STAR:
                after.add(i)
            elif _step(token, c):
                after.add(i + 1)
        if not after:
            break
        states = close(after)
        if final in states:
            found = index + 1
            if not longest:
                break
    return found


def _trim_prefix(value: str, pattern: str, *, longest: bool) -> str:
    tokens = _glob_tokens(pattern)
    if tokens is None:
        return value
    return value[_prefix_ends(tokens, value, longest=longest):]


def _trim(value: str, args: list[str], *, longest: bool, suffix: bool) -> str:
    if not args:
        return value
    if not suffix:
        return _trim_prefix(value, args[0], longest=longest)
    return _trim_prefix(value[::-1], args[0][::-1], longest=longest)[::-1]


def _apply(op: str, value: str, args: list[str]) -> str:
    if op == ",":
        return _lower_char(value[0]) + value[1:] if value else value
    if op == ",,":
        return "".join(_lower_char(c) for c in value)
    if op == "^":
        return _upper_char(value[0]) + value[1:] if value else value
    if op == "^^":
        return "".join(_upper_char(c) for c in value)
    if op == "#":
        return str(len(_utf8(value))) if not args else _trim(value, args, longest=False, suffix=False)
    if op == "##":
        return _trim(value, args, longest=True, suffix=False)
    if op == "%":
        return _trim(value, args, longest=False, suffix=True)
    if op == "%%":
        return _trim(value, args, longest=True, suffix=True)
    if op == ":":
        return _substr(value, args)
    if op == "/#":
        return _replace_prefix(value, args)
    if op == "/%":
        return _replace_suffix(value, args)
    if op == "/":
        return _replace_first(value, args)
    if op == "//":
        return _replace_all(value, args)
    return _default(value, args)


#: Longest substituted text, in characters. An object above a few MiB cannot be stored by the apiserver
#: anyway, and `${BIG}` repeated in a template multiplies a 1 MiB ConfigMap value into gigabytes.
MAX_OUTPUT = 16 * 1024 * 1024


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_OUTPUT

    def spend(self, text: str) -> str:
        self.left -= len(text)
        if self.left < 0:
            raise EnvsubstError(f"the substituted text is longer than {MAX_OUTPUT} characters")
        return text


def _evaluate(nodes: Iterable[_Node], variables: Mapping[str, str], strict: bool, out: list[str],
              budget: _Budget) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(budget.spend(node))
            continue
        args: list[str] = []
        for arg in node.args:
            part: list[str] = []
            _evaluate((arg,), variables, strict, part, budget)
            args.append("".join(part))
        value = variables.get(node.param)
        if value is None:
            if strict and node.op not in _DEFAULT_OPS:
                raise EnvsubstError(f'variable not set (strict mode): "{shown_name(node.param)}"', node.param)
            value = ""
        out.append(budget.spend(_apply(node.op, value, args)))


def envsubst(text: str, variables: Mapping[str, str], strict: bool = False) -> str:
    """Expand Flux's `${...}` expressions in `text` (the same as `flux envsubst [--strict]` over a string)."""
    if "$" not in text:
        return text
    out: list[str] = []
    _evaluate(_Parser(text).parse(), variables, strict, out, _Budget())
    return "".join(out)


# --------------------------------------------------------------------------------------------------------
# Variables: names, sources and precedence.
# --------------------------------------------------------------------------------------------------------


def _settings(post_build: PostBuild | Mapping[str, Any] | None) -> PostBuild:
    """`spec.postBuild` as its typed view: the reconciler passes the view, the CLI and tests a dict."""
    return post_build if isinstance(post_build, PostBuild) else PostBuild(dict(post_build or {}))


def substitute_from_refs(post_build: PostBuild | Mapping[str, Any] | None) -> list[SubstituteReference]:
    """The `substituteFrom` entries in order, for the controller to fetch (namespace: the Kustomization's)."""
    return _settings(post_build).substitute_from


def _strip_newlines(value: str) -> str:
    return value.replace("\n", "")


def resolve_variables(post_build: PostBuild | Mapping[str, Any] | None,
                      fetched: Mapping[tuple[str, str], Mapping[str, Any] | None]) -> dict[str, str]:
    """The variables of a Kustomization's `postBuild`, from ConfigMaps/Secrets the caller already fetched.

    `fetched` maps `(kind, name)` of each `substituteFrom` entry to the object as read from the API, or None
    when it does not exist. Entries apply in order (later ones override earlier ones), then inline
    `substitute` overrides everything. Secret `data` is base64-decoded; newlines are removed from all values.
    A missing source fails unless it is `optional: true`; the error names it.
    """
    settings = _settings(post_build)
    variables: dict[str, str] = {}
    for ref in settings.substitute_from:
        if ref.kind not in ("ConfigMap", "Secret"):
            continue
        source = fetched.get((ref.kind, ref.name))
        if source is None:
            if ref.optional:
                continue
            plural = "configmaps" if ref.kind == "ConfigMap" else "secrets"
            raise SubstitutionError(f"substitute from '{ref.kind}/{ref.name}' error: {plural} \"{ref.name}\" not found")
        for key, raw in (source.get("data") or {}).items():
            if ref.kind == "ConfigMap":
                text = raw if isinstance(raw, str) else str(raw)
            else:
                try:
                    text = base64.b64decode(str(raw), validate=True).decode(errors="replace")
                except (binascii.Error, ValueError) as err:
                    raise SubstitutionError(f"substitute from 'Secret/{ref.name}' error: "
                                            f"data key '{key}' is not valid base64") from err
            variables[str(key)] = _strip_newlines(text)
    for key, value in settings.substitute.items():
        if not isinstance(value, str):
            raise SubstitutionError(f"postBuild.substitute.{key}: expected a string, got {type(value).__name__}")
        variables[str(key)] = _strip_newlines(value)
    return variables


MAX_SHOWN_NAME = 100


def shown_name(name: str) -> str:
    """A variable name as messages show it: a hostile 100 KiB name is cut, saying how long it was."""
    if len(name) <= MAX_SHOWN_NAME:
        return name
    return f"{name[:MAX_SHOWN_NAME]}… ({len(name)} characters)"


def validate_variable_names(variables: Iterable[str]) -> None:
    """Flux's name rule; the first invalid name (sorted, Flux's map order is random) is the error."""
    for name in sorted(variables):
        if not _VAR_NAME_RE.fullmatch(name):
            raise SubstitutionError(f"'{shown_name(name)}' var name is invalid, must match '{VAR_NAME_PATTERN}'",
                                    variable=name)


# --------------------------------------------------------------------------------------------------------
# YAML as Flux reads it back: Go yaml.v2 scalar resolution, then JSON.
# --------------------------------------------------------------------------------------------------------

_STR, _INT, _FLOAT = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_BOOL, _NULL, _MERGE = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:merge"
_SPECIAL: dict[str, tuple[str, Any]] = {
    **{w: (_BOOL, True) for w in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
    **{w: (_BOOL, False) for w in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")},
    **{w: (_NULL, None) for w in ("", "~", "null", "Null", "NULL")},
    **{w: (_FLOAT, math.nan) for w in (".nan", ".NaN", ".NAN")},
    **{w: (_FLOAT, math.inf) for w in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{w: (_FLOAT, -math.inf) for w in ("-.inf", "-.Inf", "-.INF")},
    "<<": (_MERGE, "<<"),
}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", re.ASCII)
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?", re.ASCII)
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def _go_parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), falling back to ParseUint, as yaml.v2 tries them."""
    sign, body = ("", text) if text[:1] not in ("+", "-") else (text[0], text[1:])
    base, digits = 10, body
    if body.startswith("0") and len(body) > 1:
        prefix = body[1].lower()
        if len(body) >= 3 and prefix in "xob":
            base, digits = {"x": 16, "o": 8, "b": 2}[prefix], body[2:]
        else:
            base, digits = 8, body[1:]
    if not digits or any(c not in _DIGITS[base] for c in digits):
        return None
    if len(digits.lstrip("0")) > 64:  # beyond 64 bits in any base; int() refuses 4300+ decimal digits
        return None
    value = int(digits.lstrip("0") or "0", base) * (-1 if sign == "-" else 1)
    if _INT64_MIN <= value <= _INT64_MAX or (not sign and value <= _UINT64_MAX):
        return value
    return None


def _resolve_plain(text: str) -> tuple[str, Any]:
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    first = text[:1]
    if first == ".":
        if _DOT_FLOAT.fullmatch(text):
            return _FLOAT, float(text)
    elif first and first in "0123456789+-":
        plain = text.replace("_", "")
        number = _go_parse_int(plain)
        if number is not None:
            return _INT, number
        if _YAML_FLOAT.fullmatch(plain):
            value = float(plain)
            if not math.isinf(value):
                return _FLOAT, value
    return _STR, text


class _GoResolution:
    """Mixin: plain scalars resolve as Go yaml.v2 resolves them; quoted ones are strings."""

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _resolve_plain(value)[0] if implicit[0] else _STR
        return super().resolve(kind, value, implicit)  # type: ignore[misc, no-any-return]


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_GoResolution, _BaseLoader):  # type: ignore[valid-type, misc]
    pass


def _construct_plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return _resolve_plain(str(node.value))[1]


for _tag in (_INT, _FLOAT, _BOOL, _NULL):
    _Loader.add_constructor(_tag, _construct_plain)


_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_GoResolution, _BaseDumper):  # type: ignore[valid-type, misc]
    """Prints objects for substitution; never uses anchors (each occurrence must be substituted in place)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class _Analysis:
    allow_unicode = True


def _style_for(data: str) -> str | None:
    """How yaml.v3 (kustomize's printer) writes a string holding `${`: plain where possible, else double
    quotes, multi-line as a literal block. This decides what substituted text is embedded in."""
    if "\n" in data:
        return "|"
    if _resolve_plain(data)[0] == _STR:
        analysis = yaml.emitter.Emitter.analyze_scalar(_Analysis, data)  # type: ignore[arg-type]
        if analysis.allow_block_plain and not analysis.empty and not analysis.multiline:
            return None
    return '"'


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Strings without `$` are not touched by substitution, so any faithful style will do.
    return dumper.represent_scalar(_STR, data, style=_style_for(data) if "$" in data else None)


def _represent_time(dumper: yaml.SafeDumper, data: datetime.date) -> yaml.ScalarNode:
    # A plain timestamp in the source is a string to Flux (yaml.v2 into interface{}); PyYAML made it a date.
    text = data.isoformat(" ") if isinstance(data, datetime.datetime) else data.isoformat()
    return dumper.represent_scalar(_STR, text)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(datetime.date, _represent_time)
_Dumper.add_representer(datetime.datetime, _represent_time)


def _go_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, str):
        return key
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return {math.inf: ".inf", -math.inf: "-.inf"}.get(key, ".nan" if math.isnan(key) else f"{key:g}")
    raise ValueError(f"unsupported map key of type: {type(key).__name__}, key: {key!r}")


#: Deepest nesting of a substituted object, and most nodes it may expand to through aliases. libyaml's
#: composer recurses in C (a deep enough flow sequence is a segfault, not an exception) and aliases are
#: copied by the JSON conversion; safeyaml bounds both while loading, the conversion checks them again.
MAX_DEPTH = 200
MAX_NODES = 1_000_000


class _Nodes:
    def __init__(self) -> None:
        self.left = MAX_NODES

    def count(self) -> None:
        self.left -= 1
        if self.left < 0:  # yaml.v2's own words for it
            raise ValueError("document contains excessive aliasing")


def _as_json(value: Any, nodes: _Nodes | None = None, depth: int = 0) -> Any:
    """What survives Flux's YAMLToJSON + UnmarshalJSON: string keys, integral floats as integers."""
    nodes = nodes or _Nodes()
    nodes.count()
    if depth > MAX_DEPTH:  # only an alias inside its own anchor gets here: the events were checked
        raise ValueError(f"the document is nested deeper than {MAX_DEPTH} levels (an anchor contains itself?)")
    if isinstance(value, dict):
        return {_go_key(k): _as_json(v, nodes, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v, nodes, depth + 1) for v in value]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"json: unsupported value: {value!r}")
        if value.is_integer() and _INT64_MIN <= value <= _INT64_MAX:
            return int(value)
    return value


# --------------------------------------------------------------------------------------------------------
# Objects.
# --------------------------------------------------------------------------------------------------------


def _mapping_at(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`parent[key]` when it is a mapping, else an empty one (a hostile `metadata: svc` names nothing)."""
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def object_ref(obj: Mapping[str, Any]) -> str:
    """`Kind/namespace/name` (`Kind/name` for cluster-scoped objects), as errors name objects."""
    meta = _mapping_at(obj, "metadata")
    kind, name, namespace = obj.get("kind") or "", meta.get("name") or "", meta.get("namespace") or ""
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def is_substitution_disabled(obj: Mapping[str, Any]) -> bool:
    """True when the label or annotation `kustomize.toolkit.fluxcd.io/substitute` is `disabled`."""
    meta = _mapping_at(obj, "metadata")
    return any(_mapping_at(meta, part).get(SUBSTITUTE_KEY) == DISABLED_VALUE for part in ("labels", "annotations"))


def _contains_dollar(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "$" in item:
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "$" in key:
                    return True
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def substitute_object(obj: dict[str, Any], vars: Mapping[str, str], strict: bool, *,
                      always: bool = False, manifest: str | None = None) -> dict[str, Any]:
    """One built object with its `${...}` expressions substituted, as kustomize-controller does it.

    Returns `obj` itself when Flux would leave it alone: the opt-out label/annotation, no variables at all
    (unless `always`, i.e. `substituteStrategy: Always`), or no `$` anywhere (no YAML round-trip then).
    Otherwise the object's YAML (`manifest` when given, else `obj` printed) is substituted as text and
    parsed back, so a value can change type exactly where Flux's would. Errors are `SubstitutionError`s
    naming the object and, for unset variables in strict mode or invalid names, the variable.
    """
    if is_substitution_disabled(obj) or (not vars and not always):
        return obj
    ref = object_ref(obj)
    prefix = f"post build failed for '{ref}': envsubst error: "
    try:
        validate_variable_names(vars)
    except SubstitutionError as err:
        raise SubstitutionError(prefix + str(err), object_ref=ref, variable=err.variable) from None
    if manifest is not None:
        if "$" not in manifest:
            return obj
        text = manifest
    else:
        if not _contains_dollar(obj):
            return obj
        text = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 30)
    try:
        output = envsubst(text, vars, strict)
    except EnvsubstError as err:
        raise SubstitutionError(f"{prefix}variable substitution failed: {err}", object_ref=ref,
                                variable=err.variable) from None
    try:
        parsed = _as_json(safeyaml.load(output, source=f"'{ref}' after substitution", loader=_Loader))
    except safeyaml.YAMLInputError as err:
        raise SubstitutionError(f"{prefix}YAMLToJSON: {err.detail}", object_ref=ref) from None
    except ValueError as err:
        detail = " ".join(str(err).split())
        raise SubstitutionError(f"{prefix}YAMLToJSON: {detail}", object_ref=ref) from None
    if not isinstance(parsed, dict):
        raise SubstitutionError(f"post build failed for '{ref}': UnmarshalJSON: the substituted object is "
                                f"not a mapping", object_ref=ref)
    return parsed


def substitute_objects(objects: Sequence[dict[str, Any]], vars: Mapping[str, str], strict: bool, *,
                       always: bool = False) -> list[dict[str, Any]]:
    """`substitute_object` over a build's objects; the first error stops, as in the controller."""
    return [substitute_object(o, vars, strict, always=always) for o in objects]
