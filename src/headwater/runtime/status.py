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
"""

from __future__ import annotations

import copy
from typing import Any

from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import Conflict, NotFound


class StaleStatus(Conflict):
    """The object changed since the reconcile read it: its status was not written."""


class StatusWriter:
    """Merge-patches the status subresource with the object's whole status, as field manager ``owner``."""

    def __init__(self, kube: KubeClient, field_manager: str) -> None:
        self.kube = kube
        self.field_manager = field_manager
        self.writes = 0  # status writes made (observability and tests)
        self.conflicts = 0  # writes refused because the object had changed since it was read
        self._written: dict[tuple[str, str], dict[str, Any]] = {}  # during a reconcile: the last status sent
        self._baseline: dict[tuple[str, str], dict[str, Any]] = {}  # the status as stored, when known

    def begin(self, obj: dict[str, Any]) -> None:
        """Remember the status as read at the start of a reconcile, so fields the run drops are removed."""
        self._baseline[_key(obj)] = copy.deepcopy(obj.get("status") or {})

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
            updated = await self.kube.patch(obj["apiVersion"], obj["kind"], meta["name"], body,
                                            namespace=meta.get("namespace"), subresource="status",
                                            field_manager=self.field_manager)
        except NotFound:
            pass  # deleted meanwhile; nothing left to report on
        except Conflict as err:
            self.conflicts += 1
            self._baseline.pop(key, None)
            self._written.pop(key, None)
            raise StaleStatus(err.status, err.reason, err.message, err.details) from err
        else:
            self.writes += 1
            version = (updated.get("metadata") or {}).get("resourceVersion")
            if version:
                meta["resourceVersion"] = version  # the next write of this run is checked against this one
        if final:
            self._baseline.pop(key, None)
        else:
            self._written[key] = copy.deepcopy(status)

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
