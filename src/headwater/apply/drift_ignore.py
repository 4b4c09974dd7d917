"""Drift-ignore rules (`Kustomization.spec.ignore`): fields Flux must neither revert nor count as drift.

Each rule names JSON pointer paths and optionally a target selector (regular expressions on group,
version, kind, name, namespace; label and annotation selectors). Before an object is compared and applied,
every ignored path is handled as kustomize-controller does:

- another field manager owns the field through server-side apply → the field is *stripped* from our
  payload, so we stop claiming it and its owner's value stays;
- we are its only apply owner → the in-cluster value is *adopted* into our payload, so our apply keeps it.

Either way the dry-run result equals the live object at that path, so a change there is never drift. On
creation (nothing live yet) the desired value is applied as written.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from headwater.api.models.base import View

Obj = dict[str, Any]
_MISSING = object()


@dataclass(frozen=True)
class IgnoreRule:
    paths: tuple[str, ...]
    target: dict[str, str]

    @classmethod
    def from_spec(cls, entry: Mapping[str, Any] | View) -> IgnoreRule:
        """From a `spec.ignore` entry: its typed view (the reconciler's) or its dict (the CLI's)."""
        fields = entry.raw if isinstance(entry, View) else entry
        return cls(tuple(str(p) for p in fields.get("paths") or []), dict(fields.get("target") or {}))

    def matches(self, obj: Obj) -> bool:
        api_version = str(obj.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        meta = obj.get("metadata") or {}
        values = {"group": group, "version": version, "kind": str(obj.get("kind", "")),
                  "name": str(meta.get("name", "")), "namespace": str(meta.get("namespace", ""))}
        for field, value in values.items():
            pattern = self.target.get(field)
            if pattern and not re.fullmatch(pattern, value):
                return False
        return (selects(self.target.get("labelSelector"), meta.get("labels") or {})
                and selects(self.target.get("annotationSelector"), meta.get("annotations") or {}))


def parse_rules(spec_ignore: Iterable[Mapping[str, Any] | View] | None) -> list[IgnoreRule]:
    return [IgnoreRule.from_spec(entry) for entry in spec_ignore or []]


def selects(selector: str | None, labels: dict[str, Any]) -> bool:
    """Kubernetes label-selector syntax: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`."""
    if not selector:
        return True
    for requirement in _split(selector):
        match = re.fullmatch(r"\s*([\w./-]+)\s+(in|notin)\s+\((.*)\)\s*", requirement)
        if match:
            key, op, options = match.groups()
            allowed = {o.strip() for o in options.split(",")}
            if (op == "in") != (key in labels and str(labels[key]) in allowed):
                return False
            continue
        match = re.fullmatch(r"\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*", requirement)
        if match:
            key, op, value = match.groups()
            equal = key in labels and str(labels[key]) == value
            if equal != (op != "!="):
                return False
            continue
        requirement = requirement.strip()
        if requirement.startswith("!"):
            if requirement[1:].strip() in labels:
                return False
        elif requirement not in labels:
            return False
    return True


def _split(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return [p for p in [*parts, current] if p.strip()]


def pointer_tokens(pointer: str) -> list[str]:
    if pointer in ("", "/"):
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]


def apply_rules(desired: Obj, live: Obj | None, rules: list[IgnoreRule], field_manager: str) -> Obj:
    """`desired` with every ignored path stripped or adopted (a new dict when anything changed)."""
    if live is None:
        return desired
    matching = [rule for rule in rules if rule.matches(desired)]
    if not matching:
        return desired
    result = copy.deepcopy(desired)
    for rule in matching:
        for pointer in rule.paths:
            tokens = pointer_tokens(pointer)
            if not tokens:
                continue
            if owned_by_other_appliers(live, tokens, field_manager):
                _remove(result, tokens)
            else:
                live_value = _get(live, tokens)
                if live_value is _MISSING:
                    _remove(result, tokens)
                else:
                    _put(result, tokens, copy.deepcopy(live_value))
    return result


def owned_by_other_appliers(live: Obj, tokens: list[str], field_manager: str) -> bool:
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("operation") != "Apply" or entry.get("manager") == field_manager or entry.get("subresource"):
            continue
        node: Any = entry.get("fieldsV1") or {}
        for token in tokens:
            if token.isdigit():  # list element: owning the list (or an element of it) counts
                break
            node = node.get(f"f:{token}") if isinstance(node, dict) else None
            if node is None:
                break
        else:
            return True
        if node is not None and isinstance(node, dict):
            return True
    return False


def _get(obj: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(obj, dict) and token in obj:
            obj = obj[token]
        elif isinstance(obj, list) and token.isdigit() and int(token) < len(obj):
            obj = obj[int(token)]
        else:
            return _MISSING
    return obj


def _remove(obj: Any, tokens: list[str]) -> None:
    parent = _get(obj, tokens[:-1])
    if isinstance(parent, dict):
        parent.pop(tokens[-1], None)
    elif isinstance(parent, list) and tokens[-1].isdigit() and int(tokens[-1]) < len(parent):
        parent.pop(int(tokens[-1]))


def _put(obj: Any, tokens: list[str], value: Any) -> None:
    for token in tokens[:-1]:
        obj = obj[int(token)] if isinstance(obj, list) and token.isdigit() else obj.setdefault(token, {})
    if isinstance(obj, list) and tokens[-1].isdigit():
        obj[int(tokens[-1])] = value
    else:
        obj[tokens[-1]] = value
