"""Which Kustomization owns a live object, and refusing to take an object another one still claims.

Every Kustomization applies with the same field manager (`kustomize-controller`), so server-side
apply never reports a conflict between two of them: in Flux the last writer silently wins, the owner
labels (`kustomize.toolkit.fluxcd.io/name` and `/namespace`) flip on every reconcile and whichever
stops rendering the object first may prune it from under the other (fluxcd/kustomize-controller
#1724 asks for at least a warning). Here the apply of an object whose live labels name another
Kustomization asks a `ClaimCheck` whether that owner still claims it; if so the apply fails with an
`OwnershipConflict` (in `apply.py`) naming the object and its owner, before anything of that stage is written, so
the second claimant goes Ready=False and the first keeps the object untouched.

What "still claims" means is the caller's (the reconciler knows the Kustomizations); the engine
only needs the question answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from headwater.apply.objects import NAME_LABEL, NAMESPACE_LABEL, ObjMetadata

#: (owner name, owner namespace), object → does that Kustomization still claim the object?
ClaimCheck = Callable[[tuple[str, str], ObjMetadata], bool]


def conflict_message(subject: str, owner: tuple[str, str]) -> str:
    name, namespace = owner
    return (f"{subject} is managed by Kustomization {namespace}/{name} (its {NAME_LABEL} and {NAMESPACE_LABEL} "
            f"labels and its inventory); two Kustomizations cannot apply the same object: remove it from one "
            f"of them")


def owner_of(obj: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(name, namespace) of the Kustomization the live object's owner labels name; None without both."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    name, namespace = labels.get(NAME_LABEL), labels.get(NAMESPACE_LABEL)
    return (str(name), str(namespace)) if name and namespace else None


def contested_owner(existing: Mapping[str, Any] | None, meta: ObjMetadata, owner: tuple[str, str] | None,
                    claimed: ClaimCheck | None) -> tuple[str, str] | None:
    """The other Kustomization that still claims the object applying it as `owner` would take; else None."""
    if owner is None or claimed is None:
        return None
    current = owner_of(existing)
    return current if current is not None and current != owner and claimed(current, meta) else None
