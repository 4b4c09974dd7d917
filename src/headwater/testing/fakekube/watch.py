"""Watches of the fake apiserver: the change log, and one queue of events per open watch.

Every write is a `Change` with the resourceVersion it produced; a watch opened at a resourceVersion
replays the later changes from the log and then receives new ones as they happen. Like the apiserver,
a watch with a label selector sees an object that stops matching as DELETED and one that starts
matching as ADDED.

Each event is taken off the queue only when the watcher asks for the next one, so
`Watch.queue.join()` returns once the consumer (an informer) has handled everything sent to it: the
barrier `FakeApiServer.settled()` that lets tests wait for caches without sleeping.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from typing import Any

from headwater.testing.fakekube.selectors import labels_match

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # apiVersion, kind, namespace ("" when cluster-scoped), name

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


@dataclass(frozen=True)
class Change:
    """One write: the object after it (for DELETED, its last state at the new resourceVersion)."""

    revision: int
    type: str
    key: Key
    obj: Obj
    old: Obj | None = None


class End:
    """Put on a watch queue: the server closes the stream normally (as at `timeoutSeconds`)."""


class Watch:
    """One open watch: which objects it covers and the events not yet taken by the watcher."""

    def __init__(self, api_version: str, kind: str, namespace: str | None, label_selector: str | None) -> None:
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace or None
        self.label_selector = label_selector or None
        self.queue: asyncio.Queue[Obj | BaseException | End] = asyncio.Queue()
        self.sent = 0  # events sent
        self._queued = 0
        self._handled = 0

    @property
    def pending(self) -> int:
        """Items queued that the watcher has not finished handling."""
        return self._queued - self._handled

    def put(self, item: Obj | BaseException | End) -> None:
        self._queued += 1
        self.queue.put_nowait(item)

    def handled(self) -> None:
        """The watcher asked for the next item: the previous one is handled."""
        self._handled += 1
        self.queue.task_done()

    def covers(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and (obj.get("metadata") or {}).get("namespace") != self.namespace:
            return False
        return labels_match(self.label_selector, obj)

    def offer(self, change: Change) -> None:
        """Queue what this watch sees of `change`, if anything."""
        if change.key[:2] != (self.api_version, self.kind):
            return
        now, before = self.covers(change.obj), self.covers(change.old)
        if change.type == DELETED:
            kind = DELETED if before or now else None
        elif change.type == ADDED:
            kind = ADDED if now else None
        else:
            kind = MODIFIED if now and before else ADDED if now else DELETED if before else None
        if kind is not None:
            self.send(kind, change.obj)

    def send(self, kind: str, obj: Obj) -> None:
        self.sent += 1
        self.put({"type": kind, "object": copy.deepcopy(obj)})

    def close_with(self, item: BaseException | End) -> None:
        self.put(item)


__all__ = ["ADDED", "DELETED", "MODIFIED", "Change", "End", "Key", "Obj", "Watch"]
