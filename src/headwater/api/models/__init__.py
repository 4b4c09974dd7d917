"""Typed views of Flux objects; see :mod:`headwater.api.models.base` for the design.

``load(manifest)`` picks the model class from ``apiVersion``/``kind`` and wraps the dict
without copying it::

    repo = load(manifest)            # -> GitRepository
    repo.spec.interval.seconds       # 60.0 for "1m"
    repo.raw is manifest             # True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from headwater.api.kinddef import KindDef
from headwater.api.kinds import kind_of
from headwater.api.models.base import MissingFieldError, View
from headwater.api.models.common import (
    AccessFrom,
    Artifact,
    CommonMetadata,
    Condition,
    CrossNamespaceObjectReference,
    CrossNamespaceSourceReference,
    DependencyReference,
    HealthCheckExpressions,
    IgnoreRule,
    Image,
    InventoryEntry,
    KubeConfigReference,
    LocalObjectReference,
    NamespacedObjectReference,
    ObjectMeta,
    ObjectStatus,
    Patch,
    ResourceInventory,
    SecretKeyReference,
    Selector,
)
from headwater.api.models.helm import HelmRelease
from headwater.api.models.image import ImagePolicy, ImageRef, ImageRepository, ImageUpdateAutomation
from headwater.api.models.kustomize import Kustomization
from headwater.api.models.notification import Alert, Provider, Receiver
from headwater.api.models.object import FluxObject
from headwater.api.models.source import (
    ArtifactSource,
    Bucket,
    ExternalArtifact,
    GitRepository,
    HelmChart,
    HelmRepository,
    OCIRepository,
)

#: Model class of every kind, in registry order.
MODELS: Final[tuple[type[FluxObject], ...]] = (
    GitRepository,
    OCIRepository,
    HelmRepository,
    HelmChart,
    Bucket,
    ExternalArtifact,
    Kustomization,
    HelmRelease,
    Provider,
    Alert,
    Receiver,
    ImageRepository,
    ImagePolicy,
    ImageUpdateAutomation,
)
_BY_KIND: Final[dict[str, type[FluxObject]]] = {model.KIND.kind: model for model in MODELS}


class UnknownKindError(LookupError):
    """The manifest is not a Flux kind served by headwater."""


def model_for(kind: KindDef) -> type[FluxObject]:
    return _BY_KIND[kind.kind]


def load(manifest: Mapping[str, Any]) -> FluxObject:
    """Wrap ``manifest`` (a dict, not copied) in the model of its kind."""
    kind = kind_of(manifest)
    if kind is None:
        raise UnknownKindError(f"not a served Flux kind: {manifest.get('apiVersion')}/{manifest.get('kind')}")
    model = _BY_KIND[kind.kind]
    assert isinstance(manifest, dict)
    return model(manifest)


__all__ = [
    "MODELS",
    "AccessFrom",
    "Alert",
    "Artifact",
    "ArtifactSource",
    "Bucket",
    "CommonMetadata",
    "Condition",
    "CrossNamespaceObjectReference",
    "CrossNamespaceSourceReference",
    "DependencyReference",
    "ExternalArtifact",
    "FluxObject",
    "GitRepository",
    "HealthCheckExpressions",
    "HelmChart",
    "HelmRelease",
    "HelmRepository",
    "IgnoreRule",
    "Image",
    "ImagePolicy",
    "ImageRef",
    "ImageRepository",
    "ImageUpdateAutomation",
    "InventoryEntry",
    "KubeConfigReference",
    "Kustomization",
    "LocalObjectReference",
    "MissingFieldError",
    "NamespacedObjectReference",
    "OCIRepository",
    "ObjectMeta",
    "ObjectStatus",
    "Patch",
    "Provider",
    "Receiver",
    "ResourceInventory",
    "SecretKeyReference",
    "Selector",
    "UnknownKindError",
    "View",
    "load",
    "model_for",
]
