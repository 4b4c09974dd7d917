"""Which files of a source tree go into its artifact: Flux's exclusion rules, reproduced exactly.

Flux does not use Git's own ignore engine. It uses a gitignore matcher that came from go-git (now kept in
``fluxcd/pkg/sourceignore``), and that matcher differs from ``git check-ignore`` in ways that change which
files end up in an artifact. Being a drop-in replacement means reproducing those differences, so this
module implements that matcher's rules rather than Git's:

* Patterns are tried from the last to the first; the first one that matches decides (a ``!`` pattern
  re-includes, anything else excludes); no match means "keep".
* A re-inclusion works even inside an excluded directory (Git would not descend): the archiver visits
  every path and asks about each one, so ``dir/`` followed by ``!dir/keep.yaml`` keeps that one file.
* A pattern without ``/`` matches any path component (``foo`` also excludes ``a/foo/b``); ``dir/``
  matches only directories when the directory is the last component, and everything under it.
* A pattern with a ``/`` (other than a trailing one) is anchored at the directory of the file that
  declared it and matches that path and everything below it; a leading ``/`` only anchors.
* ``**`` as a whole component matches zero or more directories; ``**`` inside a component never matches.
* Components are compared with Go's ``path/filepath.Match``: ``*``, ``?``, classes ``[a-z]`` negated
  with ``^`` (not ``!``), ``\\`` escapes; a malformed pattern never matches.

Where the patterns come from (``fluxcd/pkg`` ``sourceignore`` + ``artifact/storage.SourceIgnoreFilter``):

1. ``.sourceignore`` files anywhere in the tree (not inside ``.git`` directories), each scoped to its own
   directory, read depth-first in byte order of names, so deeper and later files win;
2. then ``spec.ignore``, scoped to the root, so it wins over every file;
3. if 1 and 2 gave at least one pattern, the result is the VCS patterns followed by those patterns:
   the other defaults (images, archives, CI files, ...) are dropped. With no pattern at all, the VCS
   patterns and the defaults apply. The VCS patterns are always there, with the lowest priority, so a
   ``!.gitignore`` can still bring them back.

Paths are tuples of components relative to the archive root; names are ``str`` as :func:`os.fsdecode`
gives them. One deliberate difference from Flux: a ``.sourceignore`` that is not a regular file (e.g. a
symlink to something outside the checkout) is not read.
"""

from __future__ import annotations

import enum
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Final

__all__ = [
    "DEFAULT_PATTERNS",
    "IGNORE_FILE",
    "VCS_PATTERNS",
    "Match",
    "Matcher",
    "Pattern",
    "default_matcher",
    "go_filepath_match",
    "load_ignore_patterns",
    "read_patterns",
    "source_ignore_matcher",
    "tree_matcher",
]

IGNORE_FILE: Final = ".sourceignore"
"""Name of the per-directory ignore file, read recursively."""

VCS_PATTERNS: Final[tuple[str, ...]] = (".git/", ".gitignore", ".gitmodules", ".gitattributes")
"""Always excluded (unless re-included explicitly)."""

DEFAULT_PATTERNS: Final[tuple[str, ...]] = (
    # file extensions
    "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
    # CI configuration
    ".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
    "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
    # tool configuration and Flux v1
    "**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
)  # fmt: skip
"""Excluded only when neither ``.sourceignore`` files nor ``spec.ignore`` give a pattern."""

# Go's unicode.IsSpace set, used by strings.TrimSpace when deciding that a line is blank.
_GO_SPACE: Final = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u2028\u2029\u202f\u205f\u3000"


class Match(enum.Enum):
    """What one pattern says about one path."""

    NONE = 0
    EXCLUDE = 1
    INCLUDE = 2


# -- Go's path/filepath.Match ------------------------------------------------------------------------------

class _BadPattern(ValueError):
    pass


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """One (possibly escaped) character of a class at ``pattern[i]``; Go's rules for what is malformed."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise _BadPattern(pattern)
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise _BadPattern(pattern)
    char, i = pattern[i], i + 1
    if i >= len(pattern):  # a class must still be closed
        raise _BadPattern(pattern)
    return char, i


def _translate_class(pattern: str, i: int) -> tuple[str, int]:
    """Translate the class starting after ``[`` at ``pattern[i]``; return a regex and the index after ``]``."""
    negated = i < len(pattern) and pattern[i] == "^"
    if negated:
        i += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        ranges.append((lo, hi))
    # An inverted range (z-a) is valid in Go and matches nothing; Python would reject it, so drop it.
    items = "".join(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in ranges if lo <= hi)
    if negated:
        return (f"[^{items}]" if items else "."), i
    return (f"[{items}]" if items else "(?!)"), i


# A token of a compiled glob: ``*``, ``?``, or a one-character regex (a literal or a class).
_Token = str | re.Pattern[str]
_STAR = "*"
_ANY = "?"


class _Glob:
    """A compiled Go glob, matched by simulating it as an automaton over the set of live positions.

    A regex such as ``[^/]*a[^/]*a...b`` backtracks polynomially (exponentially in the number of stars)
    on a long ``aaaa...`` name, and names and patterns come from untrusted trees; tracking the set of
    pattern positions reachable after each character costs at most ``len(name) * len(pattern)`` steps.
    """

    def __init__(self, tokens: Sequence[_Token]) -> None:
        self._tokens = tuple(tokens)

    def _close(self, states: set[int]) -> set[int]:
        # A star may match the empty string: the position after it is live as well.
        out = set(states)
        for i in sorted(states):
            j = i
            while j < len(self._tokens) and self._tokens[j] == _STAR:
                j += 1
                out.add(j)
        return out

    def fullmatch(self, name: str) -> bool:
        tokens = self._tokens
        states = self._close({0})
        for char in name:
            after: set[int] = set()
            for i in states:
                if i == len(tokens):
                    continue
                token = tokens[i]
                if token == _STAR:
                    if char != "/":
                        after.add(i)
                elif token == _ANY:
                    if char != "/":
                        after.add(i + 1)
                elif isinstance(token, re.Pattern) and token.fullmatch(char):
                    after.add(i + 1)
            if not after:
                return False
            states = self._close(after)
        return len(tokens) in states


@lru_cache(maxsize=4096)
def _compile_go_glob(pattern: str) -> _Glob | None:
    """A matcher equivalent to Go's ``filepath.Match(pattern, name)`` on Unix, or None if malformed."""
    tokens: list[_Token] = []
    i = 0
    try:
        while i < len(pattern):
            c = pattern[i]
            if c == "*":
                if not tokens or tokens[-1] != _STAR:  # consecutive stars are one star
                    tokens.append(_STAR)
                i += 1
            elif c == "?":
                tokens.append(_ANY)
                i += 1
            elif c == "[":
                regex, i = _translate_class(pattern, i + 1)
                tokens.append(re.compile(regex, re.DOTALL))
            elif c == "\\":
                if i + 1 >= len(pattern):
                    raise _BadPattern(pattern)
                tokens.append(re.compile(re.escape(pattern[i + 1]), re.DOTALL))
                i += 2
            else:
                tokens.append(re.compile(re.escape(c), re.DOTALL))
                i += 1
    except _BadPattern:
        return None
    return _Glob(tokens)


def go_filepath_match(pattern: str, name: str) -> bool:
    """Go's ``path/filepath.Match`` on Unix, with a malformed pattern meaning "no match" (as Flux uses it)."""
    glob = _compile_go_glob(pattern)
    return glob is not None and glob.fullmatch(name)


# -- patterns ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pattern:
    """One parsed ignore line, scoped to ``domain`` (the components of the directory that declared it)."""

    source: str
    domain: tuple[str, ...]
    parts: tuple[str, ...]
    inclusion: bool
    dir_only: bool
    is_glob: bool

    @classmethod
    def parse(cls, line: str, domain: Sequence[str] = ()) -> Pattern:
        text = line
        inclusion = text.startswith("!")
        if inclusion:
            text = text[1:]
        if not text.endswith("\\ "):
            text = text.rstrip(" ")
        dir_only = text.endswith("/")
        if dir_only:
            text = text[:-1]
        return cls(
            source=line,
            domain=tuple(domain),
            parts=tuple(text.split("/")),
            inclusion=inclusion,
            dir_only=dir_only,
            is_glob="/" in text,
        )

    def match(self, path: Sequence[str], is_dir: bool) -> Match:
        depth = len(self.domain)
        if len(path) <= depth or tuple(path[:depth]) != self.domain:
            return Match.NONE
        rel = tuple(path[depth:])
        hit = self._glob_match(rel, is_dir) if self.is_glob else self._name_match(rel, is_dir)
        if not hit:
            return Match.NONE
        return Match.INCLUDE if self.inclusion else Match.EXCLUDE

    def _name_match(self, rel: tuple[str, ...], is_dir: bool) -> bool:
        # The first component matching the single-part pattern decides; a directory-only pattern cannot
        # match a file as the last component, but does match everything below a matching directory.
        for i, name in enumerate(rel):
            if go_filepath_match(self.parts[0], name):
                return not (self.dir_only and not is_dir and i == len(rel) - 1)
        return False

    def _glob_match(self, rel: tuple[str, ...], is_dir: bool) -> bool:
        matched = False
        traverse = False
        rest = rel
        last = len(self.parts) - 1
        for i, part in enumerate(self.parts):
            if part == "":
                traverse = False
                continue
            if part == "**":
                if i == last:
                    break
                traverse = True
                continue
            if "**" in part or not rest:
                return False
            regex = _compile_go_glob(part)
            if regex is None:
                return False
            if traverse:
                traverse = False
                while rest:
                    head, rest = rest[0], rest[1:]
                    if regex.fullmatch(head):
                        matched = True
                        break
                    if not rest:
                        matched = False
            else:
                if not regex.fullmatch(rest[0]):
                    return False
                matched = True
                rest = rest[1:]
        if matched and self.dir_only and not is_dir and not rest:
            return False
        return matched


@dataclass(frozen=True)
class Matcher:
    """Patterns in increasing priority; ``excludes(path, is_dir)`` is what the archiver asks."""

    patterns: tuple[Pattern, ...]
    has_inclusions: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_inclusions", any(p.inclusion for p in self.patterns))

    @classmethod
    def of(cls, patterns: Iterable[Pattern]) -> Matcher:
        return cls(tuple(patterns))

    def decide(self, path: Sequence[str], is_dir: bool) -> Match:
        for pattern in reversed(self.patterns):
            result = pattern.match(path, is_dir)
            if result is not Match.NONE:
                return result
        return Match.NONE

    def excludes(self, path: Sequence[str], is_dir: bool) -> bool:
        return self.decide(path, is_dir) is Match.EXCLUDE

    __call__ = excludes


# -- reading patterns --------------------------------------------------------------------------------------

def read_patterns(text: str | bytes, domain: Sequence[str] = ()) -> list[Pattern]:
    """Parse gitignore-format text: one pattern a line, ``#`` comments and blank lines skipped.

    Lines end at ``\\n`` with one trailing ``\\r`` dropped (Go's bufio.ScanLines); only trailing spaces
    are trimmed from a pattern (leading ones are part of it).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    patterns = []
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith("#") or not line.strip(_GO_SPACE):
            continue
        patterns.append(Pattern.parse(line, domain))
    return patterns


def _read_ignore_file(directory: Path, domain: tuple[str, ...]) -> list[Pattern]:
    path = directory / IGNORE_FILE
    try:
        st = path.lstat()
    except FileNotFoundError:
        return []
    if not stat.S_ISREG(st.st_mode):
        return []
    return read_patterns(path.read_bytes(), domain)


def _sorted_names(entries: Iterable[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
    return sorted(entries, key=lambda e: os.fsencode(e.name))


def load_ignore_patterns(root: str | os.PathLike[str]) -> list[Pattern]:
    """All ``.sourceignore`` patterns of the tree at ``root``, in Flux's order (root first, then depth-first
    through subdirectories sorted by name; ``.git`` directories and symlinks are not entered)."""
    patterns: list[Pattern] = []
    # Iterative depth-first walk (deep trees must not hit Python's recursion limit); a stack of
    # iterators keeps the pre-order of the recursive original.
    base = Path(root)
    patterns.extend(_read_ignore_file(base, ()))
    stack: list[tuple[Path, tuple[str, ...], Iterator[os.DirEntry[str]]]] = []

    def children(directory: Path) -> Iterator[os.DirEntry[str]]:
        with os.scandir(directory) as it:
            return iter(_sorted_names(e for e in it if e.name != ".git" and e.is_dir(follow_symlinks=False)))

    stack.append((base, (), children(base)))
    while stack:
        directory, domain, pending = stack[-1]
        entry = next(pending, None)
        if entry is None:
            stack.pop()
            continue
        sub, sub_domain = directory / entry.name, (*domain, entry.name)
        patterns.extend(_read_ignore_file(sub, sub_domain))
        stack.append((sub, sub_domain, children(sub)))
    return patterns


def vcs_patterns() -> list[Pattern]:
    return [Pattern.parse(p) for p in VCS_PATTERNS]


def default_matcher() -> Matcher:
    """The matcher used when no pattern was configured: VCS patterns plus Flux's defaults."""
    return Matcher.of([*vcs_patterns(), *(Pattern.parse(p) for p in DEFAULT_PATTERNS)])


def source_ignore_matcher(patterns: Sequence[Pattern]) -> Matcher:
    """Flux's ``SourceIgnoreFilter``: configured patterns replace the defaults, VCS patterns always stay."""
    if not patterns:
        return default_matcher()
    return Matcher.of([*vcs_patterns(), *patterns])


def tree_matcher(root: str | os.PathLike[str], spec_ignore: str | None = None) -> Matcher:
    """The exclusion matcher for archiving ``root``: its ``.sourceignore`` files, then ``spec.ignore``."""
    patterns = load_ignore_patterns(root)
    if spec_ignore is not None:
        patterns.extend(read_patterns(spec_ignore))
    return source_ignore_matcher(patterns)
