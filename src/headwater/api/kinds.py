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
_BY_CLI_NOUN: Final[dict[str, KindDef]] = {kind.cli_noun: kind for kind in ALL_KINDS if kind.cli_noun}


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


def resolve(text: str) -> KindDef | None:
    """The kind a kubectl-style resource name means, or ``None`` when it names no Flux kind.

    Case-insensitive: the kind, its plural or a short name (``Kustomization``, ``kustomizations``,
    ``ks``), optionally qualified as kubectl qualifies resources: ``<name>.<group>`` or
    ``<name>.<version>.<group>`` (``ks.kustomize.toolkit.fluxcd.io``, ``gitrepo.v1.source.toolkit.fluxcd.io``).
    """
    name, _, qualifier = text.strip().lower().partition(".")
    for kind in ALL_KINDS:
        if name in kind.names and (not qualifier or qualifier == kind.group
                                   or qualifier in (f"{version}.{kind.group}" for version in kind.served_versions)):
            return kind
    return None


def by_cli_noun(noun: str) -> KindDef:
    """The kind the CLI calls ``noun`` after a verb (``"source git"``, ``"kustomization"``); raises ``KeyError``."""
    return _BY_CLI_NOUN[noun]


def source_of(kind: KindDef, obj: Mapping[str, Any]) -> tuple[KindDef, str, str] | None:
    """The source ``obj`` reads (its first reference to a source kind other than its own), as (kind, namespace, name).

    A Kustomization's ``spec.sourceRef``, a HelmRelease's chart source or ``chartRef``, a HelmChart's
    ``spec.sourceRef``; ``None`` when the object names none (or names a kind headwater does not know).
    """
    for reference in kind.references:
        for ref_kind, namespace, name in reference.targets(obj):
            target = _BY_KIND.get(ref_kind)
            if target is not None and target.is_source and target is not kind:
                return target, namespace, name
    return None


def reads_sources(kind: KindDef) -> bool:
    """Whether objects of ``kind`` may name a source (see :func:`source_of`)."""
    return any(_BY_KIND[name].is_source and name != kind.kind
               for reference in kind.references for name in reference.kinds if name in _BY_KIND)


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
    "by_cli_noun",
    "find_kind",
    "is_flux_group",
    "kind_named",
    "kind_of",
    "reads_sources",
    "register",
    "resolve",
    "source_of",
]
