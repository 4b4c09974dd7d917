"""Structural comparison of JSON-like values that reports the path of every difference."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def strip_descriptions(value: Any) -> Any:
    """A copy without ``description`` keys (at any depth)."""
    if isinstance(value, dict):
        return {key: strip_descriptions(item) for key, item in value.items() if key != "description"}
    if isinstance(value, list):
        return [strip_descriptions(item) for item in value]
    return value


def differences(ours: Any, theirs: Any, path: str = "$") -> Iterator[str]:
    """Yield ``<json path>: <what differs>`` for every difference."""
    if type(ours) is not type(theirs):
        yield f"{path}: type {type(ours).__name__} != {type(theirs).__name__} ({_short(ours)} vs {_short(theirs)})"
    elif isinstance(ours, dict):
        for key in sorted(set(ours) | set(theirs)):
            child = f"{path}.{key}"
            if key not in theirs:
                yield f"{child}: only in ours: {_short(ours[key])}"
            elif key not in ours:
                yield f"{child}: missing in ours (reference: {_short(theirs[key])})"
            else:
                yield from differences(ours[key], theirs[key], child)
    elif isinstance(ours, list):
        if len(ours) != len(theirs):
            yield f"{path}: {len(ours)} items != {len(theirs)} ({_short(ours)} vs {_short(theirs)})"
        else:
            for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                yield from differences(a, b, f"{path}[{index}]")
    elif ours != theirs:
        yield f"{path}: {_short(ours)} != {_short(theirs)}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
