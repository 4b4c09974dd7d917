"""Writing an object's status: the one apiserver write a reconcile makes about its own object.

Handed to each reconcile (``ctx.status_writer``) instead of the whole Controller, so a reconciler can
show progress before a long step and nothing else of the loop is within its reach.

Every write carries the object's `metadata.resourceVersion` as a precondition (updated after each
write of the run), so a reconcile that started from a cached object older than the stored one cannot
overwrite the newer status: the apiserver answers 409 and the write raises `StaleStatus`, which the
controller answers by reconciling again once the cache has caught up. Why it matters: a cache can lag
behind the apiserver by one write, most of all while its watch is re-established after an apiserver
or etcd restart; a Kustomization reconciled from such a copy would write an inventory without the
objects the newer one recorded (the intent record of `apply/intent.py`), and those would be orphaned.
The fault suite (`tests/cluster/test_faults_control_plane.py`) found exactly that.

A 409 alone does not mean the status is stale: the run itself may have changed its object (a
Kustomization that applies its own definition, as bootstrap's `flux-system` does, bumps its
resourceVersion with every server-side apply), and so may a user's label or annotation. So on a 409 the
stored object is read: when its status is still the one this run started from (or last wrote), only
metadata or spec moved and the write is repeated against the new resourceVersion; only a status someone
else wrote meanwhile makes the write `StaleStatus`.
"""

from __future__ import annotations

import copy
from typing import Any

from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import Conflict, NotFound

_ATTEMPTS = 3


class StaleStatus(Conflict):
    """The object changed since the reconcile read it: its status was not written."""


class StatusWriter:
    """Merge-patches the status subresource with the object's whole status, as field manager ``owner``."""

    def __init__(self, kube: KubeClient, field_manager: str) -> None:
        self.kube = kube
        self.field_manager = field_manager
        self.writes = 0  # status writes made (observability and tests)
        self.conflicts = 0  # writes refused because the object had changed since it was read
        self.retried = 0  # 409s answered by writing again: only metadata or spec had moved
        self._written: dict[tuple[str, str], dict[str, Any]] = {}  # during a reconcile: the last status sent
        self._baseline: dict[tuple[str, str], dict[str, Any]] = {}  # the status as stored, when known
        self._known: dict[tuple[str, str], dict[str, Any]] = {}  # as stored, for the whole run (409 check)

    def begin(self, obj: dict[str, Any]) -> None:
        """Remember the status as read at the start of a reconcile, so fields the run drops are removed."""
        self._baseline[_key(obj)] = copy.deepcopy(obj.get("status") or {})
        self._known[_key(obj)] = copy.deepcopy(obj.get("status") or {})

    async def write(self, obj: dict[str, Any], *, final: bool = False) -> None:
        """Send the status; a write before the `final` one of a run is remembered for `stored`.

        The patch is a JSON merge patch from the status as stored (when known) to this one, so a field the
        reconcile removed (a cleared failure counter, an emptied inventory) is removed on the server too.
        """
        status = obj.get("status") or {}
        meta = obj["metadata"]
        key = _key(obj)
        baseline = self._written.get(key, self._baseline.get(key))
        body: dict[str, Any] = {"status": status if baseline is None else merge_patch(baseline, status)}
        if meta.get("resourceVersion"):
            body["metadata"] = {"resourceVersion": meta["resourceVersion"]}
        try:
            updated = await self._patch(obj, body, self._known.get(key))
        except NotFound:
            pass  # deleted meanwhile; nothing left to report on
        except Conflict as err:
            self.conflicts += 1
            self._baseline.pop(key, None)
            self._written.pop(key, None)
            self._known.pop(key, None)
            raise StaleStatus(err.status, err.reason, err.message, err.details) from err
        else:
            self.writes += 1
            version = (updated.get("metadata") or {}).get("resourceVersion")
            if version:
                meta["resourceVersion"] = version  # the next write of this run is checked against this one
        if final:
            self._baseline.pop(key, None)
            self._known.pop(key, None)
        else:
            self._written[key] = copy.deepcopy(status)
            self._known[key] = copy.deepcopy(status)

    async def _patch(self, obj: dict[str, Any], body: dict[str, Any], known: dict[str, Any] | None
                     ) -> dict[str, Any]:
        """The patch; after a 409 repeated (a few times) while the stored status is still `known`, the
        status this run read or last wrote."""
        meta = obj["metadata"]
        for attempt in range(_ATTEMPTS):
            try:
                return await self.kube.patch(obj["apiVersion"], obj["kind"], meta["name"], body,
                                             namespace=meta.get("namespace"), subresource="status",
                                             field_manager=self.field_manager)
            except Conflict:
                if known is None or attempt == _ATTEMPTS - 1:
                    raise
                current = await self.kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
                if (current.get("status") or {}) != known:
                    raise  # someone else wrote the status since this run read it: ours is stale
                self.retried += 1
                body = {**body, "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}}
        raise AssertionError("unreachable")  # pragma: no cover

    def end(self, obj: dict[str, Any]) -> None:
        """The run is over: forget what it knew of the stored status (no copy kept per idle object)."""
        self._known.pop(_key(obj), None)

    def stored(self, obj: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
        """The object's status as stored now: the last one written during this reconcile (progress, an
        intended inventory), else `before`. Forgets it: the runtime calls this once, at the end of a run,
        and compares the final status with it, so a status written mid-run is never left standing when the
        final one happens to equal the status the run started from."""
        self._baseline.pop(_key(obj), None)
        return self._written.pop(_key(obj), before)


def merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7396) that turns `old` into `new`: removed keys become null."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        previous = old.get(key)
        if isinstance(value, dict) and isinstance(previous, dict):
            patch[key] = merge_patch(previous, value)
        else:
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


__all__ = ["StaleStatus", "StatusWriter"]
