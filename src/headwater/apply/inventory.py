"""The Kustomization inventory (`status.inventory.entries`) and the stale objects it reveals.

The inventory is how garbage collection knows what this Kustomization applied last time without
listing the cluster: each entry is `{"id": "<namespace>_<name>_<group>_<kind>", "v": "<version>"}`
(cli-utils `ObjMetadata` plus the apiVersion's version), e.g. `flux-system_podinfo_apps_Deployment`
or `_podinfo__Namespace`. It is built from the apply's change set, every entry included (skipped ones
too, so an `ssa: Ignore` object stays tracked), in apply order. Objects in the old inventory but not in
the new one are stale; they are compared by identity only, never by version, and returned in Flux's
kind order (the pruner deletes them in reverse).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from headwater.apply.objects import ChangeSet, ObjMetadata, sort_key, version_of


@dataclass(frozen=True)
class InventoryEntry:
    """One `status.inventory.entries[]` item."""

    id: str
    v: str

    @property
    def meta(self) -> ObjMetadata:
        return ObjMetadata.parse(self.id)

    @property
    def api_version(self) -> str:
        return self.meta.api_version(self.v)

    @property
    def subject(self) -> str:
        return self.meta.subject

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> InventoryEntry:
        return cls(ObjMetadata.of(obj).id, version_of(obj))

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "v": self.v}


def from_change_set(change_set: ChangeSet) -> list[InventoryEntry]:
    """kustomize-controller `AddChangeSet`: one entry per change-set entry, in order, first one wins."""
    seen: set[str] = set()
    entries: list[InventoryEntry] = []
    for change in change_set:
        if change.id not in seen:
            seen.add(change.id)
            entries.append(InventoryEntry(change.id, change.version))
    return entries


def from_objects(objects: Iterable[Mapping[str, Any]]) -> list[InventoryEntry]:
    return _dedup(InventoryEntry.of(obj) for obj in objects)


def parse(inventory: Mapping[str, Any] | None) -> list[InventoryEntry]:
    """Entries of a stored `status.inventory` (None or missing entries: empty)."""
    raw = (inventory or {}).get("entries") or []
    return [InventoryEntry(str(item["id"]), str(item.get("v", ""))) for item in raw if isinstance(item, Mapping)]


def to_status(entries: Iterable[InventoryEntry]) -> dict[str, list[dict[str, str]]]:
    """The `status.inventory` value."""
    return {"entries": [entry.to_dict() for entry in entries]}


def sort_entries(entries: Iterable[InventoryEntry]) -> list[InventoryEntry]:
    return sorted(entries, key=lambda e: sort_key(e.meta))


def diff(old: Iterable[InventoryEntry], new: Iterable[InventoryEntry]) -> list[InventoryEntry]:
    """Stale entries: in `old` but not in `new` (by namespace, name, group, kind), in kind order."""
    current = {entry.meta for entry in new}
    return sort_entries(_dedup(entry for entry in old if entry.meta not in current))


def merge(entries: Iterable[InventoryEntry], extra: Iterable[InventoryEntry]) -> list[InventoryEntry]:
    """`entries` plus those of `extra` not yet present: re-tracks objects whose prune failed, so that the
    next reconcile retries the deletion instead of forgetting them."""
    return _dedup([*entries, *extra])


def _dedup(entries: Iterable[InventoryEntry]) -> list[InventoryEntry]:
    seen: set[ObjMetadata] = set()
    result: list[InventoryEntry] = []
    for entry in entries:
        meta = entry.meta
        if meta not in seen:
            seen.add(meta)
            result.append(entry)
    return result
