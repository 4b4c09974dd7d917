"""Which source a Kustomization reads, and waking Kustomizations when their source or dependency changes.

Flux re-checks a waiting dependant on a timer (every 30 s by default); here an index maps each source
and each Kustomization to the Kustomizations that depend on it, so a new artifact or a dependency turning
Ready enqueues exactly the affected objects at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.runtime.informer import Informer, ObjectKey, WatchEvent

SOURCE_KINDS = {
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "OCIRepository": "source.toolkit.fluxcd.io/v1",
    "Bucket": "source.toolkit.fluxcd.io/v1",
    "ExternalArtifact": "source.toolkit.fluxcd.io/v1",
}
BY_SOURCE = "by-source"
BY_DEPENDENCY = "by-dependency"


def source_key(ks: dict[str, Any]) -> str:
    """`Kind/namespace/name` of the Kustomization's sourceRef (namespace defaults to its own)."""
    ref = (ks.get("spec") or {}).get("sourceRef") or {}
    namespace = ref.get("namespace") or ks["metadata"]["namespace"]
    return f"{ref.get('kind', '')}/{namespace}/{ref.get('name', '')}"


def dependency_keys(ks: dict[str, Any]) -> list[str]:
    namespace = ks["metadata"]["namespace"]
    dependencies = (ks.get("spec") or {}).get("dependsOn") or []
    return [f"{dep.get('namespace') or namespace}/{dep['name']}" for dep in dependencies]


def index_kustomizations(informer: Informer) -> None:
    informer.add_index(BY_SOURCE, lambda o: [source_key(o)])
    informer.add_index(BY_DEPENDENCY, dependency_keys)


def artifact_revision(obj: dict[str, Any] | None) -> str | None:
    artifact = ((obj or {}).get("status") or {}).get("artifact") or {}
    revision = artifact.get("revision")
    return str(revision) if revision else None


def is_ready(obj: dict[str, Any] | None) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def on_source_change(kind: str, kustomizations: Informer, enqueue: Callable[[ObjectKey], None]
                     ) -> Callable[[WatchEvent], None]:
    """A handler for a source informer: a new artifact revision enqueues the Kustomizations using it."""

    def handle(event: WatchEvent) -> None:
        if event.type == "DELETED" or artifact_revision(event.obj) == artifact_revision(event.old):
            return
        meta = event.obj["metadata"]
        for key in kustomizations.by_index(BY_SOURCE, f"{kind}/{meta['namespace']}/{meta['name']}"):
            enqueue(key)

    return handle


def on_dependency_change(kustomizations: Informer, enqueue: Callable[[ObjectKey], None]
                         ) -> Callable[[WatchEvent], None]:
    """A Kustomization that becomes Ready, or applies a new revision, wakes its dependants."""

    def handle(event: WatchEvent) -> None:
        if event.type != "MODIFIED" or event.old is None:
            return
        status, old = event.obj.get("status") or {}, event.old.get("status") or {}
        became_ready = is_ready(event.obj) and not is_ready(event.old)
        new_revision = status.get("lastAppliedRevision") != old.get("lastAppliedRevision")
        if became_ready or (new_revision and is_ready(event.obj)):
            meta = event.obj["metadata"]
            for key in kustomizations.by_index(BY_DEPENDENCY, f"{meta['namespace']}/{meta['name']}"):
                enqueue(key)

    return handle
