"""Which source a Kustomization reads, and when a dependency's change must wake its dependants.

The source kinds and both reference fields come from the kind registry (`KUSTOMIZATION.references`);
the watches themselves are declared in `kustomize/controller.py`.
"""

from __future__ import annotations

from headwater.api.kinds import kind_named
from headwater.kustomize.spec import SOURCE_REF
from headwater.runtime.informer import WatchEvent
from headwater.runtime.watches import artifact_revision, is_ready

#: kind → apiVersion of every source a Kustomization may name.
SOURCE_KINDS = {kind: kind_named(kind).api_version for kind in SOURCE_REF.kinds}


def dependency_changed(event: WatchEvent) -> bool:
    """A Kustomization that became Ready, or applied a new revision while Ready, wakes its dependants."""
    if event.type != "MODIFIED" or event.old is None:
        return False
    status, old = event.obj.get("status") or {}, event.old.get("status") or {}
    became_ready = is_ready(event.obj) and not is_ready(event.old)
    new_revision = status.get("lastAppliedRevision") != old.get("lastAppliedRevision")
    return became_ready or (new_revision and is_ready(event.obj))


__all__ = ["SOURCE_KINDS", "artifact_revision", "dependency_changed", "is_ready"]
