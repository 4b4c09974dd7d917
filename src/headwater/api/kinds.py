"""Registry of the Flux kinds headwater serves, looked up by apiVersion and kind.

Lookups are dictionary hits keyed by ``(apiVersion, kind)`` so that code that sorts
thousands of manifests (``headwater build``, the appliers) can ask "is this a Flux
object?" cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from headwater.api.defs import helm, image, kustomize, notification, source
from headwater.api.defs.helm import HELM_RELEASE
from headwater.api.defs.image import IMAGE_POLICY, IMAGE_REPOSITORY, IMAGE_UPDATE_AUTOMATION
from headwater.api.defs.kustomize import KUSTOMIZATION
from headwater.api.defs.notification import ALERT, PROVIDER, RECEIVER
from headwater.api.defs.source import (
    BUCKET,
    EXTERNAL_ARTIFACT,
    GIT_REPOSITORY,
    HELM_CHART,
    HELM_REPOSITORY,
    OCI_REPOSITORY,
)
from headwater.api.kinddef import KindDef

#: Every kind, in a stable order (sources, appliers, notifications, images).
ALL_KINDS: Final[tuple[KindDef, ...]] = (
    *source.KINDS,
    *kustomize.KINDS,
    *helm.KINDS,
    *notification.KINDS,
    *image.KINDS,
)

#: The Flux API groups; objects of other groups are not ours to judge.
FLUX_GROUPS: Final = frozenset(kind.group for kind in ALL_KINDS)

_BY_API_VERSION: Final[dict[tuple[str, str], KindDef]] = {
    (api_version, kind.kind): kind for kind in ALL_KINDS for api_version in kind.api_versions()
}
_BY_KIND: Final[dict[str, KindDef]] = {kind.kind: kind for kind in ALL_KINDS}


def register(kind: KindDef) -> KindDef:
    """Add a kind served by a plug-in controller (its spec's ``kinds``) to the lookups.

    It is found by :func:`find_kind`, :func:`kind_named` and :func:`kind_of` like a Flux kind, but it is
    not one of :data:`ALL_KINDS` (the Flux API: what ``config/crd`` and the CLI's tables hold).
    Registering the same definition twice is harmless; another definition under a taken name is an error.
    """
    existing = _BY_KIND.get(kind.kind)
    if existing is not None and existing != kind:
        raise ValueError(f"kind {kind.kind} is already registered as {existing.api_version}")
    _BY_KIND[kind.kind] = kind
    for api_version in kind.api_versions():
        _BY_API_VERSION[(api_version, kind.kind)] = kind
    return kind


def find_kind(api_version: str, kind: str) -> KindDef | None:
    """The kind served at ``api_version``, or ``None``."""
    return _BY_API_VERSION.get((api_version, kind))


def kind_named(kind: str) -> KindDef:
    """The kind called ``kind`` (e.g. ``"GitRepository"``); raises ``KeyError``."""
    return _BY_KIND[kind]


def kind_of(manifest: Mapping[str, Any]) -> KindDef | None:
    """The kind of a manifest dict, or ``None`` when it is not a served Flux kind."""
    api_version = manifest.get("apiVersion")
    kind = manifest.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return _BY_API_VERSION.get((api_version, kind))


def is_flux_group(api_version: str) -> bool:
    """Whether ``api_version`` belongs to one of the Flux API groups (any version)."""
    return api_version.partition("/")[0] in FLUX_GROUPS


__all__ = [
    "ALERT",
    "ALL_KINDS",
    "BUCKET",
    "EXTERNAL_ARTIFACT",
    "FLUX_GROUPS",
    "GIT_REPOSITORY",
    "HELM_CHART",
    "HELM_RELEASE",
    "HELM_REPOSITORY",
    "IMAGE_POLICY",
    "IMAGE_REPOSITORY",
    "IMAGE_UPDATE_AUTOMATION",
    "KUSTOMIZATION",
    "OCI_REPOSITORY",
    "PROVIDER",
    "RECEIVER",
    "KindDef",
    "find_kind",
    "is_flux_group",
    "kind_named",
    "kind_of",
    "register",
]
