"""Patch semantics of the fake apiserver: JSON merge patch, JSON patch, and server-side apply as a merge.

Server-side apply is modelled for one field manager at a time: the applied configuration is merged into
the live object (lists are replaced whole, as for atomic lists), and the fields this manager applied
last time but no longer applies are removed, which is what makes a label or a key dropped from a
manifest disappear from the cluster. Not modelled: ownership shared between managers, conflicts
(`force` is accepted and changes nothing), associative lists merged by key, `managedFields`.
A strategic merge patch is treated as a merge patch (lists replaced, not merged by key).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from headwater.runtime.kube.errors import Invalid


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: `null` deletes, objects merge recursively, anything else replaces. Returns a new value."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def drop_unapplied(target: dict[str, Any], previous: Mapping[str, Any], applied: Mapping[str, Any]) -> None:
    """Remove from `target` (in place) the fields set in `previous` that `applied` no longer sets."""
    for key, old in previous.items():
        if key not in applied:
            target.pop(key, None)
        elif isinstance(old, Mapping) and isinstance(applied[key], Mapping) and isinstance(target.get(key), dict):
            drop_unapplied(target[key], old, applied[key])


def apply_patch(live: Mapping[str, Any] | None, applied: Mapping[str, Any],
                previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The object a server-side apply of `applied` gives, `previous` being this manager's last apply."""
    result = copy.deepcopy(dict(live or {}))
    if previous:
        drop_unapplied(result, previous, applied)
    merged: dict[str, Any] = merge_patch(result, applied)
    return merged


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise Invalid(422, "Invalid", f"invalid JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc: Any, tokens: Sequence[str], pointer: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token, pointer)
    return node


def _child(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    raise Invalid(422, "Invalid", f"the JSON patch path {pointer!r} does not exist")


def _remove(doc: Any, pointer: str) -> Any:
    tokens = _tokens(pointer)
    if not tokens:
        raise Invalid(422, "Invalid", "cannot remove the whole document")
    parent, last = _parent(doc, tokens, pointer), tokens[-1]
    value = _child(parent, last, pointer)
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]
    return value


def _add(doc: Any, pointer: str, value: Any, *, replace: bool) -> Any:
    tokens = _tokens(pointer)
    if not tokens:
        return copy.deepcopy(value)
    parent, last = _parent(doc, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise Invalid(422, "Invalid", f"the JSON patch path {pointer!r} does not exist")
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(copy.deepcopy(value))
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = copy.deepcopy(value)
            else:
                parent.insert(int(last), copy.deepcopy(value))
        else:
            raise Invalid(422, "Invalid", f"the JSON patch path {pointer!r} is out of range")
    else:
        raise Invalid(422, "Invalid", f"the JSON patch path {pointer!r} has no container")
    return doc


def json_patch(doc: Any, operations: Sequence[Mapping[str, Any]]) -> Any:
    """RFC 6902 (add, remove, replace, move, copy, test). Returns a new document; `Invalid` on failure."""
    result = copy.deepcopy(doc)
    for op in operations:
        kind, path = op.get("op"), str(op.get("path", ""))
        if kind == "add":
            result = _add(result, path, op.get("value"), replace=False)
        elif kind == "remove":
            _remove(result, path)
        elif kind == "replace":
            result = _add(result, path, op.get("value"), replace=True)
        elif kind in ("move", "copy"):
            source = str(op.get("from", ""))
            tokens = _tokens(source)
            value = _remove(result, source) if kind == "move" else copy.deepcopy(
                _child(_parent(result, tokens, source), tokens[-1], source) if tokens else result)
            result = _add(result, path, value, replace=False)
        elif kind == "test":
            tokens = _tokens(path)
            found = _child(_parent(result, tokens, path), tokens[-1], path) if tokens else result
            if found != op.get("value"):
                raise Invalid(422, "Invalid", f"the JSON patch test at {path!r} failed")
        else:
            raise Invalid(422, "Invalid", f"unknown JSON patch operation {kind!r}")
    return result


__all__ = ["apply_patch", "drop_unapplied", "json_patch", "merge_patch"]
