"""Garbage collection of stale objects, and deletion of everything on Kustomization deletion.

Deleting is the one thing a GitOps engine must never get wrong, so each object is re-read right
before the delete and only deleted when the live object still says it is ours: both owner labels
(`kustomize.toolkit.fluxcd.io/name` and `/namespace`) carry this Kustomization's values, and nothing
opts it out (`prune: disabled`, `reconcile: disabled` or `ssa: Ignore`, as label or annotation). The
delete carries the UID that was checked as a precondition, so an object recreated in between by
someone else is left alone. Deletion uses background propagation (the garbage collector removes
dependents). An object already gone counts as deleted, as in Flux; a kind the cluster no longer
serves (its CRD was removed, taking its objects with it) is skipped. Objects are deleted in reverse
kind order (webhooks first, CRDs and Namespaces last).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from headwater.apply.apply import poll_until
from headwater.apply.inventory import InventoryEntry, sort_entries
from headwater.apply.objects import (
    Action,
    ApiCalls,
    ChangeSet,
    ChangeSetEntry,
    has_owner_labels,
    is_prune_excluded,
)
from headwater.runtime.kube.client import KubeClient, UnknownKind
from headwater.runtime.kube.errors import Conflict, KubeError

DEFAULT_TERMINATION_TIMEOUT = 300.0


class PruneError(Exception):
    """Some deletions failed. `failed` are the entries to keep in the inventory so the next reconcile
    retries them; `change_set` holds the outcome of every entry (failures as `unknown`)."""

    def __init__(self, message: str, change_set: ChangeSet, failed: Sequence[InventoryEntry]) -> None:
        super().__init__(message)
        self.message = message
        self.change_set = change_set
        self.failed = list(failed)

    def __str__(self) -> str:
        return self.message


class TerminationTimeout(PruneError):
    """`WaitForTermination`: objects were deleted but still exist after the timeout."""


@dataclass
class _Outcome:
    entry: InventoryEntry
    action: Action
    uid: str | None = None  # of the object we deleted, to wait for its termination
    error: str | None = None


class _Deleter:
    def __init__(self, kube: KubeClient, owner: tuple[str, str], propagation: str, concurrency: int) -> None:
        self.kube = kube
        self.owner = owner
        self.propagation = propagation
        self.calls = ApiCalls()
        self.limit = asyncio.Semaphore(max(1, concurrency))

    async def run(self, entries: Iterable[InventoryEntry]) -> list[_Outcome]:
        ordered = list(reversed(sort_entries(entries)))
        outcomes: list[_Outcome] = []
        for _, group in itertools.groupby(ordered, key=lambda e: (e.meta.group, e.meta.kind)):
            outcomes += await asyncio.gather(*(self._limited(entry) for entry in group))
        return outcomes

    async def _limited(self, entry: InventoryEntry) -> _Outcome:
        async with self.limit:
            return await self._delete(entry)

    async def _delete(self, entry: InventoryEntry) -> _Outcome:
        meta = entry.meta
        try:
            self.calls.gets += 1
            live = await self.kube.get_or_none(entry.api_version, meta.kind, meta.name, meta.namespace or None)
        except UnknownKind:
            return _Outcome(entry, Action.SKIPPED)
        except KubeError as err:
            return _Outcome(entry, Action.UNKNOWN, error=f"{meta.subject} query failed: {err}")
        if live is None:
            return _Outcome(entry, Action.DELETED)
        if not has_owner_labels(live, *self.owner) or is_prune_excluded(live):
            return _Outcome(entry, Action.SKIPPED)
        live_meta = live.get("metadata") or {}
        uid = live_meta.get("uid")
        if live_meta.get("deletionTimestamp"):
            return _Outcome(entry, Action.DELETED, uid=uid)  # already terminating
        try:
            self.calls.deletes += 1
            await self.kube.delete(entry.api_version, meta.kind, meta.name, meta.namespace or None,
                                   propagation=self.propagation, uid=uid)
        except UnknownKind:
            return _Outcome(entry, Action.SKIPPED)
        except Conflict:
            return _Outcome(entry, Action.SKIPPED)  # UID precondition failed: someone else's object now
        except KubeError as err:
            return _Outcome(entry, Action.UNKNOWN, error=f"{meta.subject} delete failed: {err}")
        return _Outcome(entry, Action.DELETED, uid=uid)

    async def wait_gone(self, outcomes: Sequence[_Outcome], timeout: float) -> list[_Outcome]:
        """The deleted objects still present after `timeout`."""

        async def gone(outcome: _Outcome) -> bool:
            meta = outcome.entry.meta

            async def probe() -> bool | None:
                self.calls.gets += 1
                try:
                    live = await self.kube.get_or_none(outcome.entry.api_version, meta.kind, meta.name,
                                                       meta.namespace or None)
                except UnknownKind:
                    return True
                return True if live is None or (live.get("metadata") or {}).get("uid") != outcome.uid else None

            return await poll_until(probe, timeout) is not None

        waited = [o for o in outcomes if o.action == Action.DELETED and o.uid]
        results = await asyncio.gather(*(gone(outcome) for outcome in waited))
        return [outcome for outcome, done in zip(waited, results, strict=True) if not done]


def _change_set(outcomes: Sequence[_Outcome], calls: ApiCalls) -> ChangeSet:
    return ChangeSet([ChangeSetEntry(o.entry.meta, o.entry.v, o.action) for o in outcomes], calls)


def _raise_failures(outcomes: Sequence[_Outcome], change_set: ChangeSet) -> None:
    failures = [o for o in outcomes if o.error]
    if failures:
        message = "delete failed, errors: " + "".join(f"{o.error};" for o in failures)
        raise PruneError(message, change_set, [o.entry for o in failures])


async def prune(
    kube: KubeClient,
    stale: Iterable[InventoryEntry],
    *,
    owner: tuple[str, str],
    propagation: str = "Background",
    concurrency: int = 4,
) -> ChangeSet:
    """Delete the stale objects that are still ours; one change-set entry per stale entry.

    `deleted` (also when already gone), `skipped` (not ours any more, opted out, kind no longer served).
    Raises `PruneError` when some deletions failed (after trying all of them).
    """
    deleter = _Deleter(kube, owner, propagation, concurrency)
    outcomes = await deleter.run(stale)
    change_set = _change_set(outcomes, deleter.calls)
    _raise_failures(outcomes, change_set)
    return change_set


async def delete_all(
    kube: KubeClient,
    inventory: Iterable[InventoryEntry],
    *,
    owner: tuple[str, str],
    wait: bool = False,
    timeout: float = DEFAULT_TERMINATION_TIMEOUT,
    propagation: str = "Background",
    concurrency: int = 4,
) -> ChangeSet:
    """Kustomization deletion with `deletionPolicy: Delete` (wait=False) or `WaitForTermination` (wait=True).

    Same ownership rules as `prune`. With `wait`, blocks until every deleted object is gone from the
    API (finalizers done) and raises `TerminationTimeout` naming those still present after `timeout`.
    """
    deleter = _Deleter(kube, owner, propagation, concurrency)
    outcomes = await deleter.run(inventory)
    change_set = _change_set(outcomes, deleter.calls)
    _raise_failures(outcomes, change_set)
    if wait:
        remaining = await deleter.wait_gone(outcomes, timeout)
        if remaining:
            names = ", ".join(o.entry.subject for o in remaining)
            raise TerminationTimeout(f"timeout waiting for termination of: [{names}] after {timeout:g}s",
                                     change_set, [o.entry for o in remaining])
    return change_set
