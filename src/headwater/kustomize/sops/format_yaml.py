"""The YAML format, typed the way go-yaml v3 (and therefore SOPS) types it.

PyYAML alone would read YAML 1.1 (`yes` as true, `0777` as 511, timestamps as datetimes, `1e5` as a
string) and the MAC of an untouched file would not match. So documents are only *composed* with PyYAML
(nodes, no construction) and every scalar is typed here by go-yaml's rules; mappings stay ordered lists of
items, and merge keys (`<<`) stay ordinary keys, as in SOPS. Output quotes any string that either YAML 1.1
or go-yaml would read as something else, so what kustomize and Kubernetes read back is what was decrypted.
Comments are not kept (SOPS keeps them, but nothing downstream of Flux's decryption reads them).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from headwater.api import safeyaml
from headwater.kustomize.sops.errors import FormatError
from headwater.kustomize.sops.goscalars import (
    GoTime,
    YamlScalar,
    go_yaml_float,
    parse_yaml_timestamp,
    yaml_resolve_plain,
)
from headwater.kustomize.sops.tree import Branch, Comment, TreeItem, Value, bytes_to_str

_PLAIN = "tag:headwater.dev,2025:plain"
_T = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, TIMESTAMP, BINARY = (_T + n for n in ("str", "int", "float", "bool", "null",
                                                                 "timestamp", "binary"))
MAX_DEPTH = 200
MAX_NODES = 1_000_000  # aliases can multiply a small file into a huge tree ("billion laughs")


class _Loader(yaml.SafeLoader):
    """Composes nodes only; every untagged plain scalar gets the `_PLAIN` tag, to be typed by go-yaml rules."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}


_Loader.add_implicit_resolver(_PLAIN, re.compile(r".*", re.DOTALL), None)


def _tag_of(value: YamlScalar) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, GoTime):
        return TIMESTAMP
    return STR


def _explicit(node: ScalarNode) -> Value:
    """A scalar with an explicit standard tag (`!!int "3"`), resolved like go-yaml resolves tagged scalars."""
    tag, text = node.tag, node.value
    if tag == BINARY:
        try:
            return bytes_to_str(base64.b64decode("".join(text.split()), validate=True))
        except (binascii.Error, ValueError):
            raise FormatError(f"line {node.start_mark.line + 1}: invalid !!binary value") from None
    resolved = yaml_resolve_plain(text) if text else None
    if tag == FLOAT and isinstance(resolved, int) and not isinstance(resolved, bool):
        return float(resolved)
    if tag == TIMESTAMP and isinstance(resolved, str):
        stamp = parse_yaml_timestamp(resolved)
        if stamp is not None:
            return stamp
    if _tag_of(resolved) != tag:
        raise FormatError(f"line {node.start_mark.line + 1}: cannot decode the scalar as {tag.rsplit(':', 1)[-1]}")
    return resolved


class _Converter:
    def __init__(self) -> None:
        self.count = 0

    def scalar(self, node: ScalarNode) -> Value:
        if node.tag == _PLAIN:
            return yaml_resolve_plain(node.value)
        if node.tag in (INT, FLOAT, BOOL, NULL, TIMESTAMP, BINARY):
            return _explicit(node)
        return str(node.value)  # quoted, block, `!!str`, or a custom tag: a string, as in go-yaml

    def value(self, node: Node, depth: int) -> Value:
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_NODES:
            raise FormatError("the YAML document is nested too deeply or expands to too many nodes")
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            return [self.value(child, depth + 1) for child in node.value]
        if isinstance(node, MappingNode):
            branch = Branch()
            for key_node, value_node in node.value:
                key = self.value(key_node, depth + 1)
                if not isinstance(key, str):
                    raise FormatError(f"line {key_node.start_mark.line + 1}: the mapping key is a "
                                      f"{type(key).__name__}, SOPS supports string keys only")
                branch.append(TreeItem(key, self.value(value_node, depth + 1)))
            return branch
        raise FormatError(f"unsupported YAML node {type(node).__name__}")


def _document_branch(node: Node | None, converter: _Converter) -> Branch:
    if node is None:
        return Branch()
    if isinstance(node, MappingNode):
        converted = converter.value(node, 0)
        assert isinstance(converted, Branch)
        return converted
    if isinstance(node, ScalarNode) and node.tag in (_PLAIN, NULL) and yaml_resolve_plain(node.value) is None:
        return Branch()
    if isinstance(node, SequenceNode):
        raise FormatError("YAML documents that are sequences are not supported by SOPS")
    raise FormatError("YAML documents that are single values are not supported by SOPS")


def _metadata_plain(value: Value) -> object:
    if isinstance(value, Branch):
        return {str(item.key): _metadata_plain(item.value) for item in value if isinstance(item.key, str)}
    if isinstance(value, list):
        return [_metadata_plain(element) for element in value]
    return value


def _describe(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or "malformed YAML"
    return f"invalid YAML{where}: {problem}"


def load_yaml(data: bytes) -> tuple[list[Branch], object]:
    """Every document's branch (without `sops`) and the raw `sops` metadata of the first document."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("the YAML document is not valid UTF-8") from None
    converter = _Converter()
    try:
        nodes = safeyaml.compose_all(text, source="the encrypted file", loader=_Loader)
        branches = [_document_branch(node, converter) for node in nodes]
    except safeyaml.YAMLInputError as error:
        parse_error = error.__cause__
        if not isinstance(parse_error, yaml.YAMLError):
            raise FormatError(error.detail) from None  # a bound broken: too large, deep, or an alias bomb
        raise FormatError(_describe(parse_error)) from None
    except yaml.YAMLError as error:
        raise FormatError(_describe(error)) from None
    metadata: object = None
    if branches:
        for item in branches[0]:
            if item.key == "sops":
                metadata = _metadata_plain(item.value)
                break
    documents = [Branch(item for item in branch if item.key != "sops") for branch in branches]
    return documents, metadata


# ---------------------------------------------------------------------------------------------------------
# Output


# YAML 1.1 booleans go-yaml quotes on output (other YAML 1.1 readers would take them for booleans).
_OLD_BOOLS = frozenset(["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                        "on", "On", "ON", "off", "Off", "OFF"])


class _Dumper(yaml.SafeDumper):
    """Plain style only for strings that both YAML 1.1 and go-yaml read back as the same string."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            go_tag = _plain_tag(value)
            if go_tag != STR:
                return go_tag
            if value in _OLD_BOOLS:
                return BOOL
        return cast(str, super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]


def _plain_tag(text: str) -> str:
    return _tag_of(yaml_resolve_plain(text)) if text else NULL


def _str_node(text: str) -> ScalarNode:
    style = "|" if "\n" in text.rstrip("\n") else None
    return ScalarNode(STR, text, style=style)


def _node(value: Value) -> Node:
    if isinstance(value, Branch):
        pairs = [(_str_node(item.key), _node(item.value)) for item in value
                 if isinstance(item.key, str)]
        return MappingNode(_T + "map", pairs)
    if isinstance(value, list):
        return SequenceNode(_T + "seq", [_node(element) for element in value if not isinstance(element, Comment)])
    if value is None:
        return ScalarNode(NULL, "null")
    if isinstance(value, bool):
        return ScalarNode(BOOL, "true" if value else "false")
    if isinstance(value, int):
        return ScalarNode(INT, str(value))
    if isinstance(value, float):
        text = go_yaml_float(value)
        return ScalarNode(_plain_tag(text), text)
    if isinstance(value, GoTime):
        return ScalarNode(TIMESTAMP, value.rfc3339nano())
    if isinstance(value, bytes):
        try:
            return _str_node(value.decode("utf-8"))
        except UnicodeDecodeError:
            return ScalarNode(BINARY, base64.b64encode(value).decode(), style="|")
    if isinstance(value, str):
        if any(0xDC80 <= ord(char) <= 0xDCFF for char in value):  # bytes that are not UTF-8
            return _node(value.encode("utf-8", "surrogateescape"))
        return _str_node(value)
    raise FormatError(f"cannot write a {type(value).__name__} value as YAML")


def emit_yaml(branches: list[Branch]) -> bytes:
    """Every document, block style, `---` between documents."""
    nodes = [_node(branch) for branch in branches]
    text = yaml.serialize_all(nodes, Dumper=_Dumper, allow_unicode=True, indent=4,
                              width=1 << 20, explicit_start=False)
    assert isinstance(text, str)
    return text.encode("utf-8")
