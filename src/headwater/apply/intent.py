"""The intended inventory: record what an apply may leave carrying our labels before writing it.

Why: the inventory (`status.inventory.entries`) is written once the apply is done. A controller killed
between creating an object and that write leaves an object that carries the Kustomization's owner
labels but that no inventory lists; when the object later leaves Git nothing prunes it, ever
(defect 5 of #12). kustomize-controller has the same window.

What: before a stage of the apply writes anything, the entries of that stage's objects are compared
with the inventory already recorded in the cluster; if any is missing, the union (recorded entries
first, then the new ones) is written to `status.inventory` first, and only then are the objects
applied. After the apply the reconciler writes the final inventory as before (the desired set, plus
stale entries whose prune failed). So at every instant each object carrying our labels because of
this reconcile is listed, and the next reconcile, crashed or not, computes the stale set from a
superset: an object that left Git is pruned (the pruner's label and UID checks still decide, so an
entry for an object never created, or not ours, deletes nothing).

Why not recover owned objects by their labels on each reconcile instead: that means listing every
kind the cluster serves, in every namespace the Kustomization may write, on every reconcile of every
Kustomization with `prune: true` (listing only the desired kinds and the old inventory's kinds misses
exactly the case at hand, a kind that left Git with the object), and a tenant's impersonated service
account usually may not list cluster-wide. The intent record costs one status write, and only on a
reconcile that brings an object into the inventory: an idle reconcile (every desired object already
recorded) writes nothing.

Flux compatibility: no new field. The intent is written into `status.inventory.entries` itself, in
Flux's format; Flux's own readers (the flux CLI's tree, kustomize-controller after a migration) see
at worst a superset for the length of one apply, which makes them check objects they would otherwise
miss. A separate status field would be dropped by the apiserver under Flux's CRD schema (structural
pruning), and an annotation on the Kustomization would be a write to the object itself (watch event,
resourceVersion conflicts) and is limited to 256 KiB.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from headwater.apply.inventory import InventoryEntry, merge
from headwater.apply.objects import ChangeSetEntry

Write = Callable[[list[InventoryEntry]], Awaitable[None]]


class IntendedInventory:
    """The `before_write` hook of `apply_all`: writes the union of recorded and planned entries when it grew."""

    def __init__(self, recorded: Iterable[InventoryEntry], write: Write) -> None:
        self.recorded = list(recorded)
        self.write = write
        self.writes = 0

    async def before_write(self, planned: list[ChangeSetEntry]) -> None:
        known = {entry.meta for entry in self.recorded}
        new = [InventoryEntry(e.id, e.version) for e in planned if e.meta not in known]
        if not new:
            return
        intended = merge(self.recorded, new)
        await self.write(intended)
        self.writes += 1
        self.recorded = intended
