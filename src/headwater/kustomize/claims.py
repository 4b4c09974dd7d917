"""When does another Kustomization still claim an object (the `ClaimCheck` of `apply/ownership.py`).

Flux does not detect two Kustomizations applying one object: both use the field manager
`kustomize-controller`, server-side apply sees one manager, and the last writer wins, every
reconcile (fluxcd/kustomize-controller #1724). What a Flux user expects instead is what a controller
does with any other ownership conflict: the one that tries to take an object already managed
elsewhere fails and says so, and the object stays with its owner. The current owner is the
Kustomization named by the live object's owner labels; it claims the object when

- it exists and is not being deleted (a deleted owner with `deletionPolicy: Orphan` gave its
  objects up, so they may be adopted), and it targets the same cluster (same `spec.kubeConfig`);
- its recorded inventory lists the object (one that dropped it lets it go);
- and, when both apply the same source, it has applied the revision we are applying: an object moved
  from one path to another in a commit is handed over as in Flux (the new claimant takes it; the old
  owner's prune then sees labels that are not its own and leaves it). With different sources there
  is no common revision to compare, so the listing decides: move such an object by removing it from
  the first source before adding it to the second (or mark it `kustomize.toolkit.fluxcd.io/prune:
  disabled` in the first while moving).

A Kustomization whose spec cannot be read is taken to claim what it lists (never steal on doubt).
"""

from __future__ import annotations

from headwater.api.models import Kustomization
from headwater.api.validation import UNREADABLE
from headwater.apply import inventory as inv
from headwater.apply.objects import ObjMetadata
from headwater.apply.ownership import ClaimCheck
from headwater.runtime.informer import Informer


def claim_check(kustomizations: Informer, claimant: Kustomization, revision: str) -> ClaimCheck:
    """The check for `claimant` applying `revision`, over the cached Kustomizations."""

    def claimed(owner: tuple[str, str], meta: ObjMetadata) -> bool:
        name, namespace = owner
        found = kustomizations.get((namespace, name))
        if found is None or (found.get("metadata") or {}).get("deletionTimestamp"):
            return False
        if (found.get("spec") or {}).get("kubeConfig") != (claimant.raw.get("spec") or {}).get("kubeConfig"):
            return False
        listed = inv.parse((found.get("status") or {}).get("inventory"))
        if not any(entry.meta == meta for entry in listed):
            return False
        other = Kustomization(found)
        try:
            same_source = other.source_key() == claimant.source_key()
        except UNREADABLE:
            return True
        return not same_source or other.status.last_applied_revision == revision

    return claimed
