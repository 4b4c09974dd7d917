"""An informer: a local, always-current copy of one kind's objects, kept by list + watch.

Controllers read from this cache instead of asking the apiserver, which is what lets thousands of objects
be reconciled without thousands of GETs. The informer lists once, then watches from the list's
resourceVersion with bookmarks; when the watch ends it resumes from the last seen resourceVersion, when
that is too old (410 Gone) it lists again and reports the differences as events, and when the apiserver
is unreachable it retries with capped exponential backoff and lists again when it is back.

Why list again after errors and long gaps rather than rely on 410 Gone: asked to watch from a
resourceVersion older than its watch cache, the apiserver (v1.36) may answer with the current objects
as ADDED events instead of 410, which reports nothing about objects deleted in the gap. So a watch is
only resumed from its resourceVersion right after a clean, server-side end of the previous one.

Objects are the plain dicts the apiserver sent, minus `metadata.managedFields` (large, and never needed
by a reconciler). Indexes map a derived value (e.g. "the source this Kustomization references") to
object keys.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from headwater.runtime.kube.client import KubeClient, UnknownKind
from headwater.runtime.kube.errors import ApiError, ClusterUnreachable, Gone
from headwater.runtime.options import ControllerOptions

ObjectKey = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped objects
Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]
Handler = Callable[["WatchEvent"], None]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
_log = logging.getLogger("headwater.informer")


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A change to the cache: `old` is the previous object for MODIFIED, None otherwise."""

    type: str
    obj: Obj
    old: Obj | None = None


def key_of(obj: Obj) -> ObjectKey:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def strip(obj: Obj) -> Obj:
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


class Informer:
    """List + watch one kind (optionally one namespace / label selector) into a local cache."""

    def __init__(
        self,
        kube: KubeClient,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        watch_timeout: int = 300,
        min_backoff: float = 0.2,
        max_backoff: float = 30.0,
        resume_window: float = 60.0,
    ) -> None:
        self.kube = kube
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector or None
        self.watch_timeout = watch_timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.resume_window = resume_window
        self.last_clean_end: float | None = None  # monotonic time the last watch ended without error
        self._store: dict[ObjectKey, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[ObjectKey]]] = {}
        self._index_values: dict[str, dict[ObjectKey, tuple[str, ...]]] = {}
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()
        self.resource_version = ""
        self.lists = 0  # how many full lists were made (observability and tests)
        self.watches = 0

    # -- configuration -----------------------------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        """Called synchronously for every change; must be fast (typically: enqueue keys)."""
        self._handlers.append(handler)

    def add_index(self, name: str, func: IndexFunc) -> None:
        if self._store:
            raise RuntimeError("indexes must be added before the informer starts")
        self._indexers[name] = func
        self._indexes[name] = {}
        self._index_values[name] = {}

    # -- reading -----------------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def get(self, key: ObjectKey) -> Obj | None:
        return self._store.get(key)

    def keys(self) -> builtins.list[ObjectKey]:
        return list(self._store)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self._store.values())
        return [o for k, o in self._store.items() if k[0] == namespace]

    def by_index(self, name: str, value: str) -> builtins.list[ObjectKey]:
        return sorted(self._indexes[name].get(value, ()))

    def __len__(self) -> int:
        return len(self._store)

    # -- running -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the cache current until cancelled."""
        backoff = self.min_backoff
        need_list = not self.can_resume()
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                self.last_clean_end = time.monotonic()
                backoff = self.min_backoff  # a watch that ended normally: resume at once
            except Gone:
                _log.info("watch of %s expired (410), listing again", self.kind)
                need_list = True
            except (ClusterUnreachable, TimeoutError) as err:
                _log.warning("watch of %s interrupted: %s; retrying in %.1fs", self.kind, err, backoff)
                self.last_clean_end = None
                need_list = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            except (ApiError, UnknownKind) as err:
                _log.error("cannot list/watch %s: %s; retrying in %.1fs", self.kind, err, backoff)
                need_list = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def can_resume(self) -> bool:
        """Whether the next watch may start from the last resourceVersion instead of a fresh list."""
        return (self.synced and bool(self.resource_version) and self.last_clean_end is not None
                and time.monotonic() - self.last_clean_end <= self.resume_window)

    async def _list(self) -> None:
        items, resource_version = await self.kube.list_all(
            self.api_version, self.kind, self.namespace, label_selector=self.label_selector
        )
        self.lists += 1
        fresh = {key_of(o): strip(o) for o in items}
        for key in [k for k in self._store if k not in fresh]:
            self._apply(DELETED, self._store[key])
        for key, obj in fresh.items():
            old = self._store.get(key)
            if old is None:
                self._apply(ADDED, obj)
            elif old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._apply(MODIFIED, obj)
        self.resource_version = resource_version
        self._synced.set()

    async def _watch(self) -> None:
        self.watches += 1
        try:
            async for event in self.kube.watch(
                self.api_version, self.kind, self.namespace, resource_version=self.resource_version,
                label_selector=self.label_selector, timeout_seconds=self.watch_timeout,
            ):
                obj = event.get("object") or {}
                resource_version = (obj.get("metadata") or {}).get("resourceVersion")
                if event["type"] != "BOOKMARK":
                    self._apply(event["type"], strip(obj))
                if resource_version:
                    self.resource_version = resource_version
        except asyncio.CancelledError:
            self.last_clean_end = time.monotonic()  # stopped while healthy: a quick restart may resume
            raise

    def _apply(self, event_type: str, obj: Obj) -> None:
        key = key_of(obj)
        old = self._store.get(key)
        if event_type == DELETED:
            self._store.pop(key, None)
            self._unindex(key)
        else:
            if old is not None and event_type == ADDED:
                event_type = MODIFIED  # re-list after a reconnect: not new to us
            elif old is None and event_type == MODIFIED:
                event_type = ADDED
            self._store[key] = obj
            self._index(key, obj)
        event = WatchEvent(event_type, obj, old if event_type == MODIFIED else None)
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:  # a faulty handler must not stop the cache
                _log.exception("event handler failed for %s %s/%s", self.kind, *key)

    def _index(self, key: ObjectKey, obj: Obj) -> None:
        for name, func in self._indexers.items():
            values = tuple(sorted(set(func(obj))))
            previous = self._index_values[name].get(key, ())
            if values == previous:
                continue
            self._drop(name, key, previous)
            for value in values:
                self._indexes[name].setdefault(value, set()).add(key)
            self._index_values[name][key] = values

    def _unindex(self, key: ObjectKey) -> None:
        for name in self._indexers:
            self._drop(name, key, self._index_values[name].pop(key, ()))

    def _drop(self, name: str, key: ObjectKey, values: tuple[str, ...]) -> None:
        index = self._indexes[name]
        for value in values:
            keys = index.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[value]


def informer_for(kube: KubeClient, api_version: str, kind: str, options: ControllerOptions) -> Informer:
    """An informer honouring the sharding flags: `--watch-all-namespaces` and `--watch-label-selector`."""
    return Informer(kube, api_version, kind, namespace=options.watch_namespace(),
                    label_selector=options.watch_label_selector or None)


async def run_until_synced(informer: Informer) -> asyncio.Task[None]:
    """Start an informer in the background and return once its first list is in the cache."""
    task = asyncio.create_task(informer.run(), name=f"informer-{informer.kind}")
    synced = asyncio.create_task(informer.wait_synced())
    done, _ = await asyncio.wait({task, synced}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        synced.cancel()
        task.result()  # re-raise what stopped it
    return task


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel an informer's task (its cache stays; `run()` again resumes or relists as appropriate)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
