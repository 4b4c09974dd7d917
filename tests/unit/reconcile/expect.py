"""What a table case expects of an `Outcome`, and the one comparison both tables use.

Only what a case names is compared, and the comparison is one dict equality of "expected" against
"found" built with the same keys, so a failing case shows exactly which facts differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.unit.reconcile.harness import Outcome, Requeue

Obj = dict[str, Any]
ABSENT = None  # a condition that must not be there

# (type, reason) of a condition, ABSENT, or a condition type mapped to either
Condition = tuple[str, str] | None


@dataclass(frozen=True)
class Expect:
    conditions: Mapping[str, Condition] = field(default_factory=dict)  # "Ready": ("True", "Succeeded"), ...
    message: str | None = None  # a part of the Ready message
    events: tuple[tuple[str, str], ...] | None = None  # (type, reason) of the events recorded, in order
    event_text: str | None = None  # a part of some event's message
    requeue: Requeue | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # dotted path in the stored object -> value
    reconciled: bool | None = None
    status_writes: int | None = None
    gone: bool = False  # the object itself no longer exists


def at(obj: Obj | None, path: str) -> Any:
    """The value at a dotted path (`status.artifact.revision`, `status.includedArtifacts.0`), or None."""
    node: Any = obj
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)] if int(part) < len(node) else None
        else:
            node = node.get(part) if isinstance(node, Mapping) else None
    return node


def compare(outcome: Outcome, expect: Expect) -> tuple[dict[str, Any], dict[str, Any]]:
    """(found, expected), restricted to what `expect` names."""
    expected: dict[str, Any] = {"gone": expect.gone}
    found: dict[str, Any] = {"gone": outcome.obj is None}
    for cond_type, wanted in expect.conditions.items():
        expected[cond_type], found[cond_type] = wanted, outcome.condition(cond_type)
    if expect.message is not None:
        expected["message"] = expect.message
        found["message"] = expect.message if expect.message in outcome.message() else outcome.message()
    if expect.events is not None:
        expected["events"], found["events"] = list(expect.events), [(t, r) for t, r, _ in outcome.events]
    if expect.event_text is not None:
        messages = [m for _, _, m in outcome.events]
        expected["event_text"] = expect.event_text
        found["event_text"] = expect.event_text if any(expect.event_text in m for m in messages) else messages
    if expect.requeue is not None:
        expected["requeue"], found["requeue"] = expect.requeue, outcome.requeue
    for path, value in expect.fields.items():
        expected[path], found[path] = value, at(outcome.obj, path)
    if expect.reconciled is not None:
        expected["reconciled"], found["reconciled"] = expect.reconciled, outcome.reconciled
    if expect.status_writes is not None:
        expected["status_writes"], found["status_writes"] = expect.status_writes, outcome.status_writes
    return found, expected


def stalled(reason: str) -> dict[str, Condition]:
    """The conditions of a terminal failure: Stalled and not Ready for `reason`, no retry in progress."""
    return {"Ready": ("False", reason), "Stalled": ("True", reason), "Reconciling": ABSENT}


def ready_condition(reason: str = "Succeeded", status: str = "True") -> dict[str, Any]:
    """A Ready condition as a controller would have written it (for seeded objects)."""
    return {"type": "Ready", "status": status, "reason": reason, "message": reason,
            "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}


__all__ = ["ABSENT", "Expect", "at", "compare", "ready_condition", "stalled"]
