"""Model of kustomize.toolkit.fluxcd.io/v1 Kustomization."""

from __future__ import annotations

from headwater.api.defs.kustomize import KUSTOMIZATION
from headwater.api.duration import SECOND, Duration
from headwater.api.models.base import (
    Field,
    View,
    child,
    child_always,
    children,
    duration,
    duration_required,
    string_map,
    strings,
)
from headwater.api.models.common import (
    CommonMetadata,
    CrossNamespaceSourceReference,
    DependencyReference,
    HealthCheckExpressions,
    IgnoreRule,
    Image,
    KubeConfigReference,
    LocalObjectReference,
    ObjectStatus,
    Patch,
    ResourceInventory,
)
from headwater.api.models.object import FluxObject

_MIN_TIMEOUT = Duration(30 * SECOND)


class Decryption(View):
    """SOPS decryption settings."""

    __schema__ = KUSTOMIZATION.spec.at("decryption")
    provider = Field[str]()
    secret_ref = child(LocalObjectReference)
    service_account_name = Field[str | None]()


class SubstituteReference(View):
    """A ConfigMap or Secret providing post-build variables."""

    __schema__ = KUSTOMIZATION.spec.at("postBuild.substituteFrom.[]")
    kind = Field[str]()
    name = Field[str]()
    optional = Field[bool]()


class PostBuild(View):
    """Variable substitution settings."""

    __schema__ = KUSTOMIZATION.spec.at("postBuild")
    substitute = string_map()
    substitute_from = children(SubstituteReference)
    substitute_strategy = Field[str](fallback="WithVariables")


class NamespacedObjectKindReference(View):
    """An object to health-check."""

    __schema__ = KUSTOMIZATION.spec.at("healthChecks.[]")
    api_version = Field[str | None]("apiVersion")
    kind = Field[str]()
    name = Field[str]()
    namespace = Field[str | None]()


class KustomizationSpec(View):
    __schema__ = KUSTOMIZATION.spec
    source_ref = child_always(CrossNamespaceSourceReference)
    path = Field[str | None]()
    interval = duration_required()
    retry_interval = duration()
    timeout = duration()
    prune = Field[bool]()
    deletion_policy = Field[str](fallback="MirrorPrune")
    wait = Field[bool](fallback=False)
    force = Field[bool]()
    health_checks = children(NamespacedObjectKindReference)
    health_check_exprs = children(HealthCheckExpressions)
    depends_on = children(DependencyReference)
    target_namespace = Field[str | None]()
    name_prefix = Field[str | None]()
    name_suffix = Field[str | None]()
    common_metadata = child(CommonMetadata)
    patches = children(Patch)
    images = children(Image)
    components = strings()
    ignore_missing_components = Field[bool](fallback=False)
    build_metadata = strings()
    ignore = children(IgnoreRule)
    post_build = child(PostBuild)
    decryption = child(Decryption)
    service_account_name = Field[str | None]()
    kube_config = child(KubeConfigReference)
    suspend = Field[bool](fallback=False)


class HistoryEntry(View):
    """Summary of reconciliations that produced the same manifests."""

    __schema__ = KUSTOMIZATION.status_schema.at("history.[]")
    digest = Field[str]()
    first_reconciled = Field[str]()
    last_reconciled = Field[str]()
    last_reconciled_duration = Field[str]()
    last_reconciled_status = Field[str]()
    total_reconciliations = Field[int]()
    metadata = string_map()


class KustomizationStatus(ObjectStatus):
    __schema__ = KUSTOMIZATION.status
    inventory = child(ResourceInventory)
    history = children(HistoryEntry)
    last_applied_revision = Field[str | None]()
    last_applied_origin_revision = Field[str | None]()
    last_attempted_revision = Field[str | None]()


class Kustomization(FluxObject):
    KIND = KUSTOMIZATION
    __schema__ = KUSTOMIZATION.schema
    spec = child_always(KustomizationSpec)
    status = child_always(KustomizationStatus)

    def get_timeout(self) -> Duration:
        """``spec.timeout``, else interval minus 30s; never less than 30s (as Flux)."""
        spec = self.spec
        timeout = spec.timeout or spec.interval - _MIN_TIMEOUT
        return max(timeout, _MIN_TIMEOUT)

    def get_retry_interval(self) -> Duration:
        """``spec.retryInterval``, else ``spec.interval``."""
        return self.spec.retry_interval or self.spec.interval

    def source_key(self) -> str:
        """``Kind/namespace/name`` of ``spec.sourceRef`` (the namespace defaults to the Kustomization's)."""
        ref = self.spec.source_ref
        return f"{ref.kind}/{ref.namespace_or(self.namespace)}/{ref.name}"
