"""YAML from untrusted sources (repositories, artifacts, webhooks), parsed within fixed bounds.

Why a module of its own: a repository is hostile input. An alias bomb ("billion laughs") is a few
kilobytes that expand into gigabytes the moment anything walks or serialises the result; deep nesting
makes libyaml's scanner quadratic (200,000 levels of `[` take minutes) and overflows the C stack of
its composer (a segfault, not an exception); a huge file exhausts memory. Every loader of
tenant-controlled YAML goes through here, so the bounds are written once and every refusal names the
file and the limit it broke.

The checks run before anything is constructed and cost next to nothing on ordinary manifests:

- size: the text is at most `Limits.max_bytes`;
- depth: a cheap upper bound from the text (indentation and flow brackets per document) usually
  proves the nesting shallow; only when it does not are the parser's events counted, stopping at the
  first level past `Limits.max_depth` (so the scanner never sees deep input);
- aliases: when the text may hold an alias at all, the composed node graph is measured as if every
  alias were expanded (linear, memoised per node); a graph that would grow past
  `max(Limits.max_alias_nodes, Limits.max_alias_ratio * its own nodes)`, or that refers to itself,
  is refused. go-yaml applies a similar ratio rule; kustomize's own reading does not, which is how the
  kustomize child once grew to 13 GB.

The interface: `load(text, source=...)`, `load_all(text, source=...)`, `compose_all(...)` for callers
that work on nodes (the SOPS tree), each with an optional loader class, and the `YAMLInputError` tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from headwater.api.yamlio import Loader


@dataclass(frozen=True)
class Limits:
    """The bounds of one parse."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 512
    max_alias_nodes: int = 100_000
    max_alias_ratio: int = 10


DEFAULT_LIMITS = Limits()


class YAMLInputError(Exception):
    """A YAML input was refused; `source` names the file (or field), `detail` says why."""

    reason = "InvalidYAML"

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.detail = detail


class InvalidYAML(YAMLInputError):
    """The text is not YAML."""


class YAMLTooLarge(YAMLInputError):
    """The text is longer than `Limits.max_bytes`."""


class YAMLTooDeep(YAMLInputError):
    """Collections nest deeper than `Limits.max_depth`."""


class YAMLAliasBomb(YAMLInputError):
    """Aliases expand past the limit, or refer to the node that holds them."""


LoaderClass = type[yaml.SafeLoader]


def load(text: str, *, source: str, limits: Limits = DEFAULT_LIMITS, loader: LoaderClass = Loader) -> Any:
    """The single document of `text` (None for an empty stream)."""
    documents = load_all(text, source=source, limits=limits, keep_empty=True, loader=loader)
    if len(documents) > 1:
        raise InvalidYAML(source, "expected a single document in the stream")
    return documents[0] if documents else None


def load_all(text: str, *, source: str, limits: Limits = DEFAULT_LIMITS, keep_empty: bool = False,
             loader: LoaderClass = Loader) -> list[Any]:
    """Every document of `text` (empty ones dropped unless `keep_empty`)."""
    documents = []
    for reader, node in _checked_nodes(text, source, limits, loader):
        try:
            documents.append(reader.construct_document(node))
        except yaml.YAMLError as err:
            raise InvalidYAML(source, f"invalid YAML: {_first_line(str(err))}") from err
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError) as err:
            # An explicit tag whose value does not construct (`!!int x`, `!!timestamp x`): PyYAML's
            # constructors raise the builtin error of the conversion they attempted.
            detail = f"a tagged value does not construct ({_first_line(str(err))})"
            raise InvalidYAML(source, f"invalid YAML: {detail}") from err
        except RecursionError as err:  # only reachable with a custom limit above Python's own
            raise YAMLTooDeep(source, f"nested deeper than {limits.max_depth} levels") from err
    return documents if keep_empty else [d for d in documents if d is not None]


def compose_all(text: str, *, source: str, limits: Limits = DEFAULT_LIMITS,
                loader: LoaderClass = Loader) -> list[yaml.Node]:
    """The node tree of every document of `text`, checked as `load_all` checks it."""
    return [node for _, node in _checked_nodes(text, source, limits, loader)]


def _checked_nodes(text: str, source: str, limits: Limits, loader: LoaderClass) -> Iterator[tuple[Any, yaml.Node]]:
    if len(text) > limits.max_bytes or (
            4 * len(text) > limits.max_bytes and len(text.encode("utf-8", errors="replace")) > limits.max_bytes):
        raise YAMLTooLarge(source, f"larger than the {limits.max_bytes} byte limit")
    if depth_bound(text) > limits.max_depth:
        _check_depth_by_events(text, source, limits)
    may_alias = _MAYBE_ALIAS.search(text) is not None
    try:
        reader = loader(text)  # the pure-Python loaders refuse unprintable characters right here
    except yaml.YAMLError as err:
        raise InvalidYAML(source, f"invalid YAML: {_first_line(str(err))}") from err
    try:
        while True:
            try:
                if not reader.check_node():
                    break
                node = reader.get_node()
            except yaml.YAMLError as err:
                raise InvalidYAML(source, f"invalid YAML: {_first_line(str(err))}") from err
            except RecursionError as err:
                raise YAMLTooDeep(source, f"nested deeper than {limits.max_depth} levels") from err
            if node is None:
                continue
            if may_alias:
                _check_aliases(node, source, limits)
            yield reader, node
    finally:
        reader.dispose()


# --- depth ----------------------------------------------------------------------------------------

_LEADING = re.compile(r"^[ \t?:-]*", re.MULTILINE)
_DOCUMENT_START = re.compile(r"^---", re.MULTILINE)


def depth_bound(text: str) -> int:
    """An upper bound of how deep collections in `text` nest, from the text alone.

    Block collections nest only by indenting (a column holds at most a mapping and an indentless
    sequence; compact `- - -` entries and `? ` keys advance the column too), so twice the widest run
    of leading spaces and indicators bounds them. Flow collections nest only by brackets, and no flow
    collection spans a `---` line (libyaml ends or refuses it there), so the most brackets opened
    within one document bounds those.
    """
    widest = max((len(match) for match in _LEADING.findall(text)), default=0)
    opened = max((part.count("[") + part.count("{") for part in _DOCUMENT_START.split(text)), default=0)
    return 2 * (widest + 1) + opened + 1


# Nesting is a property of the event stream, which the parser alone makes (resolvers and constructors,
# where loaders differ, come later), so libyaml counts it for every loader: PyYAML's pure-Python scanner
# is quadratic in the flow nesting (each token re-checks every open level), and 100 KiB of `[` would take
# minutes there; libyaml stops at the first level past the limit in milliseconds.
_EVENT_LOADER: LoaderClass = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_depth_by_events(text: str, source: str, limits: Limits) -> None:
    """Count nesting on the parser's event stream, stopping at the first level past the limit."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_EVENT_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limits.max_depth:
                    line = event.start_mark.line + 1 if event.start_mark is not None else 0
                    raise YAMLTooDeep(source, f"nested deeper than {limits.max_depth} levels (line {line})")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as err:
        raise InvalidYAML(source, f"invalid YAML: {_first_line(str(err))}") from err


# --- aliases --------------------------------------------------------------------------------------

# An alias is `*name` where a node may start: at a line start, after whitespace or a flow indicator.
_MAYBE_ALIAS = re.compile(r"(?:^|[\s\[\]{},:?-])\*[^\s,\[\]{}]", re.MULTILINE)


def expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(nodes with every alias expanded, distinct nodes) of a composed document.

    Raises ValueError when the graph refers to itself (an alias inside the collection it names).
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise ValueError("an alias refers to the collection that holds it")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)], len(sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_aliases(node: yaml.Node, source: str, limits: Limits) -> None:
    try:
        expanded, distinct = expanded_size(node)
    except ValueError as err:
        raise YAMLAliasBomb(source, str(err)) from err
    allowed = max(limits.max_alias_nodes, limits.max_alias_ratio * distinct)
    if expanded > allowed:
        raise YAMLAliasBomb(source, f"aliases expand {distinct} nodes to {expanded}, more than the limit of "
                                    f"{allowed} (max({limits.max_alias_nodes}, {limits.max_alias_ratio} times the "
                                    "document's own nodes))")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
