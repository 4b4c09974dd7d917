"""Declared watches: which changes to other objects wake which objects of a controller's kind.

controller-runtime's ``Watches(&Source{}, EnqueueRequestsFromMapFunc(f))`` is the model. A controller
declares, for each related kind, *when* a change matters (a predicate on the watch event) and *which*
of its own objects it wakes (a map from the event to object keys). The common map is "the objects
whose reference field names the changed object": :func:`referenced_by` answers it from an index on the
controller's informer, built from the field's declaration in the kind registry, so no controller writes
its own index or handler closure for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from headwater.api.kinddef import Reference
from headwater.runtime.informer import IndexFunc, Informer, Obj, ObjectKey, WatchEvent

Predicate = Callable[[WatchEvent], bool]
#: Given a change to a watched object and the controller's own informer, the keys to reconcile.
MapFunc = Callable[[WatchEvent, Informer], Iterable[ObjectKey]]


@dataclass(frozen=True)
class KindKey:
    """A watched kind, by apiVersion and kind."""

    api_version: str
    kind: str


@dataclass(frozen=True)
class Watch:
    """Changes to ``kind`` that ``when`` accepts enqueue ``map_to_requests(event, primary)``."""

    kind: KindKey
    map_to_requests: MapFunc
    when: Predicate
    #: An index the map reads on the controller's informer: (name, function), added with the watch.
    index: tuple[str, IndexFunc] | None = None


def always(_: WatchEvent) -> bool:
    return True


def watches(api_version: str, kind: str, map_to_requests: MapFunc, *, when: Predicate = always,
            index: tuple[str, IndexFunc] | None = None) -> Watch:
    return Watch(KindKey(api_version, kind), map_to_requests, when, index)


def reference_index_name(reference: Reference) -> str:
    return "ref:" + ".".join(reference.path)


@functools.cache
def reference_index(reference: Reference) -> IndexFunc:
    """Index values ``Kind/namespace/name`` of every object the reference field names."""

    def index(obj: Obj) -> list[str]:
        return [f"{kind}/{namespace}/{name}" for kind, namespace, name in reference.targets(obj)]

    return index


def referenced_by(reference: Reference, api_version: str, kind: str, *, when: Predicate = always) -> Watch:
    """Watch ``kind``; a change wakes the controller's objects whose ``reference`` field names it."""
    name = reference_index_name(reference)

    def map_to_requests(event: WatchEvent, primary: Informer) -> list[ObjectKey]:
        meta = event.obj["metadata"]
        return primary.by_index(name, f"{kind}/{meta.get('namespace') or ''}/{meta['name']}")

    return watches(api_version, kind, map_to_requests, when=when, index=(name, reference_index(reference)))


# -- predicates the Flux kinds share -------------------------------------------------------------------


def artifact_revision(obj: Obj | None) -> str | None:
    artifact = ((obj or {}).get("status") or {}).get("artifact") or {}
    revision = artifact.get("revision")
    return str(revision) if revision else None


def artifact_changed(event: WatchEvent) -> bool:
    """A source published an artifact with a new revision (its consumers must re-read it)."""
    return event.type != "DELETED" and artifact_revision(event.obj) != artifact_revision(event.old)


def is_ready(obj: Obj | None) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


__all__ = [
    "KindKey",
    "MapFunc",
    "Predicate",
    "Watch",
    "always",
    "artifact_changed",
    "artifact_revision",
    "is_ready",
    "reference_index",
    "reference_index_name",
    "referenced_by",
    "watches",
]
