"""The fake apiserver's state and rules: objects, resourceVersions, generations, finalizers, watches.

What a reconciler relies on is modelled the way the apiserver does it:

- objects per (apiVersion, kind, namespace, name), returned as copies;
- one resourceVersion counter for everything (as etcd's revision); a write that changes nothing
  (the same status written again) keeps the resourceVersion and sends no watch event;
- `metadata.generation` starts at 1 and moves when anything outside `metadata` and `status` changes
  (and when deletion starts), never for status or metadata writes;
- kinds with a status subresource: writes to the object leave `status` alone, status writes change
  nothing else, creation drops a given status;
- a `metadata.resourceVersion` in an update or patch is a precondition (`Conflict` when stale), as is
  a delete's UID;
- deletion of an object with finalizers sets `deletionTimestamp`; the write that removes the last
  finalizer removes the object;
- Namespaces are `Active` on creation; a CustomResourceDefinition is Established at once and its
  kinds are served from then on (and no more once it is deleted, its objects with it);
- `status_hook(apiVersion, kind, fn)` stands in for another controller: after each write of such an
  object, `fn(obj)` may return the status that controller would set (a Deployment's rollout);
- `fail(verb, error, ...)` makes matching calls raise, once or until removed.

Not modelled: admission, schema validation and defaulting (a spec the CRD would reject is stored);
owner-reference garbage collection and deletion propagation; a Namespace's deletion of its contents;
RBAC (use `fail(..., user=...)`); `managedFields` and apply conflicts between field managers; the rule
that no finalizer may be added to an object being deleted; watch timeouts and bookmarks; list
`resourceVersion`/`limit` consistency (a list is always the current state); `metadata.generation` is
kept for every kind (the apiserver keeps it only for kinds with a spec); Events are never refused for a
name clash (a suffix is added), so none is lost to timestamps that collide.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from headwater.runtime.kube.errors import (
    AlreadyExists,
    Conflict,
    Gone,
    Invalid,
    NotFound,
    UnknownKind,
)
from headwater.testing.fakekube.kinds import KindInfo, KindTable, crd_kinds
from headwater.testing.fakekube.patches import apply_patch, json_patch, merge_patch
from headwater.testing.fakekube.selectors import fields_match, labels_match
from headwater.testing.fakekube.watch import ADDED, DELETED, MODIFIED, Change, End, Key, Obj, Watch

StatusHook = Callable[[Obj], Mapping[str, Any] | None]
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                "resourceVersion", "managedFields", "selfLink")
_CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What the generation counts: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


@dataclass(frozen=True)
class Call:
    """One request the fake answered (or refused)."""

    verb: str
    api_version: str
    kind: str
    namespace: str
    name: str
    subresource: str = ""
    dry_run: bool = False
    user: str = ""


@dataclass
class Fault:
    """Calls matching every given field raise `error`; `times=None` means until removed."""

    verb: str
    error: BaseException
    api_version: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    user: str | None = None
    dry_run: bool | None = None
    times: int | None = 1

    def matches(self, call: Call) -> bool:
        wanted = {"api_version": self.api_version, "kind": self.kind, "namespace": self.namespace,
                  "name": self.name, "subresource": self.subresource, "user": self.user, "dry_run": self.dry_run}
        return self.verb in (call.verb, "*") and all(v is None or getattr(call, k) == v for k, v in wanted.items())


@dataclass
class FakeApiServer:
    """The state behind every `FakeKube` client view (see the module docstring)."""

    kinds: KindTable = field(default_factory=KindTable)
    objects: dict[Key, Obj] = field(default_factory=dict)
    revision: int = 0
    history: list[Change] = field(default_factory=list)
    compacted: int = 0
    watches: list[Watch] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    status_hooks: dict[tuple[str, str], StatusHook] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # raw text answers by path (pod logs)
    _applied: dict[tuple[Key, str, str], Obj] = field(default_factory=dict)
    _watch_waiters: list[tuple[tuple[str, str], int, asyncio.Future[None]]] = field(default_factory=list)

    # -- test controls -----------------------------------------------------------------------------

    def fail(self, verb: str, error: BaseException, *, times: int | None = 1, **match: Any) -> Fault:
        """Make calls of `verb` ("get", "list", "watch", "create", "update", "patch", "apply", "delete",
        or "*") matching `match` (api_version, kind, namespace, name, subresource, user, dry_run) raise."""
        fault = Fault(verb, error, times=times, **match)
        self.faults.append(fault)
        return fault

    def status_hook(self, api_version: str, kind: str, hook: StatusHook | None) -> None:
        if hook is None:
            self.status_hooks.pop((api_version, kind), None)
        else:
            self.status_hooks[(api_version, kind)] = hook

    def put(self, obj: Mapping[str, Any]) -> Obj:
        """Store `obj` as given, status included (seeding a test); server fields are filled when absent."""
        info = self.kind_info(str(obj["apiVersion"]), str(obj["kind"]))
        new = copy.deepcopy(dict(obj))
        meta = new.setdefault("metadata", {})
        key = self.key_of(info, meta.get("namespace"), meta["name"])
        old = self.objects.get(key)
        meta.setdefault("uid", (old or {}).get("metadata", {}).get("uid") or str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now())
        meta.setdefault("generation", 1 if old is None else _bumped(old, new))
        if not info.resource.namespaced:
            meta.pop("namespace", None)
        self._store(key, old, new)
        return copy.deepcopy(new)

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """A copy of the stored object, or None (no call recorded)."""
        info = self.kind_info(api_version, kind)
        found = self.objects.get(self.key_of(info, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def events(self, name: str | None = None, namespace: str | None = None) -> list[Obj]:
        """The core Events recorded (about the object `name`, when given), oldest first."""
        found = [o for (api, kind, ns, _), o in self.objects.items() if (api, kind) == ("v1", "Event")
                 and (namespace is None or ns == namespace)
                 and (name is None or (o.get("involvedObject") or {}).get("name") == name)]
        return sorted((copy.deepcopy(o) for o in found), key=lambda o: int(o["metadata"]["resourceVersion"]))

    def count(self, verb: str, kind: str | None = None, *, subresource: str | None = None,
              dry_run: bool | None = None) -> int:
        return sum(1 for c in self.calls if c.verb == verb and (kind is None or c.kind == kind)
                   and (subresource is None or c.subresource == subresource)
                   and (dry_run is None or c.dry_run == dry_run))

    def compact(self) -> None:
        """Forget the change log: watches from an older resourceVersion get 410 Gone."""
        self.compacted = self.revision
        self.history.clear()

    def expire_watches(self) -> None:
        """Every open watch fails with 410 Gone (its watcher must list again)."""
        for watch in list(self.watches):
            watch.close_with(Gone(410, "Expired", "too old resource version"))

    def end_watches(self) -> None:
        """Every open watch ends normally (the watcher may resume from its last resourceVersion)."""
        for watch in list(self.watches):
            watch.close_with(End())

    async def settled(self) -> None:
        """Return once every open watch's events have been taken and handled by its watcher."""
        while any(w.pending for w in self.watches):
            await asyncio.gather(*(w.queue.join() for w in self.watches if w.pending))

    async def watching(self, api_version: str, kind: str, count: int = 1) -> None:
        """Return once at least `count` watches of the kind are open."""
        if self._open_watches(api_version, kind) >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watch_waiters.append(((api_version, kind), count, future))
        await future

    # -- discovery ---------------------------------------------------------------------------------

    def kind_info(self, api_version: str, kind: str) -> KindInfo:
        info = self.kinds.find(api_version, kind)
        if info is None:
            raise UnknownKind(f"the cluster serves no kind {kind!r} in {api_version!r}")
        return info

    @staticmethod
    def key_of(info: KindInfo, namespace: str | None, name: str) -> Key:
        return (info.api_version, info.kind, (namespace or "") if info.resource.namespaced else "", name)

    # -- verbs -------------------------------------------------------------------------------------

    def record(self, call: Call) -> None:
        """Log a call and raise the first fault that matches it."""
        self.calls.append(call)
        for fault in self.faults:
            if fault.matches(call):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                raise fault.error

    def read(self, info: KindInfo, namespace: str | None, name: str) -> Obj:
        found = self.objects.get(self.key_of(info, namespace, name))
        if found is None or (info.resource.namespaced and not namespace):
            raise _not_found(info, name)
        return copy.deepcopy(found)

    def list_objects(self, info: KindInfo, namespace: str | None, label_selector: str | None,
                     field_selector: str | None) -> list[Obj]:
        found = [o for (api, kind, ns, _), o in sorted(self.objects.items())
                 if (api, kind) == (info.api_version, info.kind) and (not namespace or ns == namespace)
                 and labels_match(label_selector, o) and fields_match(field_selector, o)]
        return [copy.deepcopy(o) for o in found]

    def create(self, info: KindInfo, obj: Mapping[str, Any], namespace: str | None, *, dry_run: bool) -> Obj:
        new = copy.deepcopy(dict(obj))
        meta = new.setdefault("metadata", {})
        for name in _SERVER_META:
            meta.pop(name, None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
        if not meta.get("name"):
            raise Invalid(422, "Invalid", f"{info.kind} is invalid: metadata.name: Required value: name is required")
        if info.resource.namespaced:
            meta["namespace"] = meta.get("namespace") or namespace or "default"
        else:
            meta.pop("namespace", None)
        key = self.key_of(info, meta.get("namespace"), meta["name"])
        if key in self.objects:
            if info.kind != "Event":
                raise AlreadyExists(409, "AlreadyExists", f'{_resource_name(info)} "{meta["name"]}" already exists')
            meta["name"] = f"{meta['name']}.{secrets.token_hex(4)}"  # events are never lost to a name clash
            key = self.key_of(info, meta.get("namespace"), meta["name"])
        if info.status:
            new.pop("status", None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        self._server_side(info, new, main=True)
        if dry_run:
            return new
        self._store(key, None, new)
        return copy.deepcopy(new)

    def update(self, info: KindInfo, obj: Mapping[str, Any], namespace: str | None, *, subresource: str | None,
               ) -> Obj:
        meta = obj.get("metadata") or {}
        old = self.read(info, meta.get("namespace") or namespace, str(meta.get("name")))
        return self._write(info, old, copy.deepcopy(dict(obj)), subresource, dry_run=False)

    def patch(self, info: KindInfo, namespace: str | None, name: str, patch: Any, patch_type: str, *,
              subresource: str | None) -> Obj:
        old = self.read(info, namespace, name)
        if patch_type == "json":
            candidate = json_patch(old, patch)
        elif patch_type in ("merge", "strategic"):
            candidate = merge_patch(copy.deepcopy(old), patch)
        else:
            raise Invalid(422, "Invalid", f"unsupported patch type {patch_type!r}")
        return self._write(info, old, candidate, subresource, dry_run=False)

    def apply(self, info: KindInfo, obj: Mapping[str, Any], namespace: str | None, *, field_manager: str,
              dry_run: bool, subresource: str | None) -> Obj:
        applied = copy.deepcopy(dict(obj))
        meta = applied.setdefault("metadata", {})
        if info.resource.namespaced:
            meta["namespace"] = meta.get("namespace") or namespace or "default"
        key = self.key_of(info, meta.get("namespace"), str(meta.get("name")))
        old = self.objects.get(key)
        if subresource != "status" and info.status:
            applied.pop("status", None)
        if old is None:
            if subresource:
                raise _not_found(info, str(meta.get("name")))
            created = self.create(info, applied, namespace, dry_run=dry_run)
            if not dry_run:
                self._applied[(key, created["metadata"]["uid"], field_manager)] = applied
            return created
        previous = self._applied.get((key, old["metadata"]["uid"], field_manager))
        candidate = apply_patch(old, applied, previous)
        result = self._write(info, copy.deepcopy(old), candidate, subresource, dry_run=dry_run)
        if not dry_run and key in self.objects:
            self._applied[(key, old["metadata"]["uid"], field_manager)] = applied
        return result

    def delete(self, info: KindInfo, namespace: str | None, name: str, *, uid: str | None, dry_run: bool) -> Obj:
        old = self.read(info, namespace, name)
        meta = old["metadata"]
        if uid and meta.get("uid") != uid:
            raise Conflict(409, "Conflict", f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                           f"{meta.get('uid')}")
        if dry_run:
            return old
        key = self.key_of(info, namespace, name)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return old
            new = copy.deepcopy(old)
            new["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0,
                                   generation=int(meta.get("generation") or 0) + 1)
            self._store(key, old, new)
            return copy.deepcopy(new)
        self._remove(key, old)
        return old

    # -- internals ---------------------------------------------------------------------------------

    def _write(self, info: KindInfo, old: Obj, candidate: Obj, subresource: str | None, *, dry_run: bool) -> Obj:
        """Finish an update of `old` into `candidate`: preconditions, subresource rules, generation, store."""
        old_meta, meta = old["metadata"], candidate.setdefault("metadata", {})
        wanted_version = meta.get("resourceVersion")
        if wanted_version and str(wanted_version) != old_meta["resourceVersion"]:
            raise Conflict(409, "Conflict", f'Operation cannot be fulfilled on {_resource_name(info)} '
                           f'"{old_meta["name"]}": the object has been modified; please apply your changes to the '
                           "latest version and try again")
        if subresource == "status":
            if not info.status:
                raise _not_found(info, old_meta["name"])
            new = copy.deepcopy(old)
            if "status" in candidate:
                new["status"] = candidate["status"]
            else:
                new.pop("status", None)
        elif subresource:
            raise NotFound(404, "NotFound", f"the server could not find the requested resource ({subresource})")
        else:
            new = candidate
            if info.status:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
            for name in _SERVER_META:
                if name in old_meta:
                    meta[name] = copy.deepcopy(old_meta[name])
                else:
                    meta.pop(name, None)
            meta["name"], new["apiVersion"], new["kind"] = old_meta["name"], old["apiVersion"], old["kind"]
            if "namespace" in old_meta:
                meta["namespace"] = old_meta["namespace"]
            meta["generation"] = _bumped(old, new)
            self._server_side(info, new, main=True)
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if new == old or dry_run:
            return copy.deepcopy(new)
        key = self.key_of(info, old_meta.get("namespace"), old_meta["name"])
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._remove(key, new)
        else:
            self._store(key, old, new)
        return copy.deepcopy(new)

    def _server_side(self, info: KindInfo, obj: Obj, *, main: bool) -> None:
        """What the apiserver and built-in controllers do on a write, before it is stored."""
        if (info.api_version, info.kind) == ("v1", "Namespace"):
            obj.setdefault("status", {}).setdefault("phase", "Active")
        elif (info.api_version, info.kind) == _CRD:
            obj["status"] = {"conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
                "acceptedNames": copy.deepcopy((obj.get("spec") or {}).get("names") or {})}
        hook = self.status_hooks.get((info.api_version, info.kind))
        if hook is not None and main:
            status = hook(copy.deepcopy(obj))
            if status is not None:
                obj["status"] = dict(status)

    def _store(self, key: Key, old: Obj | None, new: Obj) -> None:
        self.revision += 1
        new["metadata"]["resourceVersion"] = str(self.revision)
        self.objects[key] = new
        self._changed(Change(self.revision, ADDED if old is None else MODIFIED, key, new, old))
        if key[:2] == _CRD:
            for info in crd_kinds(new):
                self.kinds.add(info)

    def _remove(self, key: Key, old: Obj) -> None:
        self.revision += 1
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self.revision)
        del self.objects[key]
        for applied in [k for k in self._applied if k[0] == key]:
            del self._applied[applied]
        self._changed(Change(self.revision, DELETED, key, gone, old))
        if key[:2] == _CRD:
            for info in crd_kinds(old):
                self.kinds.remove(info.api_version, info.kind)
                for served in [k for k in self.objects if k[:2] == (info.api_version, info.kind)]:
                    self._remove(served, self.objects[served])

    def _changed(self, change: Change) -> None:
        self.history.append(change)
        for watch in self.watches:
            watch.offer(change)

    # -- watches -----------------------------------------------------------------------------------

    def open_watch(self, info: KindInfo, namespace: str | None, label_selector: str | None,
                   resource_version: str | None) -> Watch:
        watch = Watch(info.api_version, info.kind, namespace, label_selector)
        if not resource_version or resource_version == "0":
            for obj in self.list_objects(info, namespace, label_selector, None):
                watch.send(ADDED, obj)
        else:
            since = int(resource_version)
            if since < self.compacted:
                raise Gone(410, "Expired", f"too old resource version: {since} ({self.compacted})")
            for change in self.history:
                if change.revision > since:
                    watch.offer(change)
        self.watches.append(watch)
        kind = (info.api_version, info.kind)
        for waiter in list(self._watch_waiters):
            wanted, count, future = waiter
            if wanted == kind and self._open_watches(*kind) >= count:
                self._watch_waiters.remove(waiter)
                if not future.done():
                    future.set_result(None)
        return watch

    def close_watch(self, watch: Watch) -> None:
        if watch in self.watches:
            self.watches.remove(watch)

    def _open_watches(self, api_version: str, kind: str) -> int:
        return sum(1 for w in self.watches if (w.api_version, w.kind) == (api_version, kind))


def _bumped(old: Mapping[str, Any], new: Mapping[str, Any]) -> int:
    generation = int((old.get("metadata") or {}).get("generation") or 0)
    return generation + 1 if _content(old) != _content(new) else generation


def _resource_name(info: KindInfo) -> str:
    res = info.resource
    return f"{res.plural}.{res.group}" if res.group else res.plural


def _not_found(info: KindInfo, name: str) -> NotFound:
    return NotFound(404, "NotFound", f'{_resource_name(info)} "{name}" not found')


__all__ = ["Call", "FakeApiServer", "Fault", "StatusHook", "now"]
