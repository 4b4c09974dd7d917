"""What the REVISION, READY, MESSAGE and SOURCE cells of a `get` table show, kind by kind, as flux shows them.

flux's list adapters differ in small ways that users see: a source's or Kustomization's revision and
message have their hex digests shortened (`main@sha1:696f056d`); a HelmChart's revision is a chart
version and is left whole; a HelmRelease's revision is the chart version of its latest release
(`status.history[0]`, else the last attempted revision), nothing shortened; an OCI HelmRepository has
no status at all and always reads `True` / `Helm repository is Ready`. `--show-source` (appliers)
adds `Kind/namespace/name` of what the object reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from headwater.api.kinds import HELM_CHART, HELM_RELEASE, HELM_REPOSITORY, KUSTOMIZATION, source_of
from headwater.cli.common import ready_status, revision_of, truncate_hex

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef

OCI_READY = ("True", "Helm repository is Ready")
#: The kinds flux's `get` offers `--show-source` for.
SHOWS_SOURCE = frozenset({KUSTOMIZATION.kind, HELM_RELEASE.kind})


def is_static(obj: Mapping[str, Any]) -> bool:
    """An OCI HelmRepository: a pointer to a registry that no controller fetches (flux's `isStatic`)."""
    return obj.get("kind") == HELM_REPOSITORY.kind and (obj.get("spec") or {}).get("type") == "oci"


def helm_release_revision(obj: Mapping[str, Any]) -> str:
    """The chart version of the newest release in the history, else the last attempted revision."""
    status = obj.get("status") or {}
    history = status.get("history") or []
    if history and isinstance(history[0], Mapping):
        return str(history[0].get("chartVersion") or "")
    return str(status.get("lastAttemptedRevision") or "")


def revision_cell(kind: KindDef, obj: Mapping[str, Any]) -> str:
    if kind is HELM_RELEASE:
        return helm_release_revision(obj)
    if kind is HELM_CHART:
        return revision_of(obj)
    return truncate_hex(revision_of(obj))


def ready_cells(kind: KindDef, obj: Mapping[str, Any]) -> tuple[str, str]:
    """(READY, MESSAGE), the message on one line."""
    if is_static(obj):
        return OCI_READY
    ready, message = ready_status(obj)
    if kind.is_source or kind is KUSTOMIZATION:
        message = truncate_hex(message)
    return ready, " ".join(message.split())


def source_cell(kind: KindDef, obj: Mapping[str, Any]) -> str:
    found = source_of(kind, obj)
    if found is None:
        return ""
    source, namespace, name = found
    return f"{source.kind}/{namespace}/{name}"
