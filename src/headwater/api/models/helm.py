"""Model of helm.toolkit.fluxcd.io/v2 HelmRelease.

Runtime defaults that Flux applies in Go getters rather than in the CRD (``maxHistory`` 5,
``timeout`` 5m, ``install.crds`` Create, ``upgrade.crds`` Skip, ...) are given as
``fallback=`` so controllers read effective values directly.
"""

from __future__ import annotations

import hashlib
from typing import Any

from headwater.api.defs.helm import HELM_RELEASE
from headwater.api.duration import Duration
from headwater.api.models.base import (
    Field,
    View,
    child,
    child_always,
    child_map,
    children,
    duration,
    duration_required,
    strings,
)
from headwater.api.models.common import (
    CommonMetadata,
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

SPEC = HELM_RELEASE.spec
STATUS = HELM_RELEASE.status_schema


# -- chart ------------------------------------------------------------------------------
class HelmChartTemplateSourceReference(View):
    __schema__ = SPEC.at("chart.spec.sourceRef")
    api_version = Field[str | None]("apiVersion")
    kind = Field[str]()
    name = Field[str]()
    namespace = Field[str | None]()


class HelmChartTemplateVerification(View):
    __schema__ = SPEC.at("chart.spec.verify")
    provider = Field[str]()
    secret_ref = child(LocalObjectReference)


class HelmChartTemplateSpec(View):
    __schema__ = SPEC.at("chart.spec")
    chart = Field[str]()
    version = Field[str]()
    source_ref = child_always(HelmChartTemplateSourceReference)
    interval = duration()
    reconcile_strategy = Field[str]()
    values_files = strings()
    ignore_missing_values_files = Field[bool](fallback=False)
    verify = child(HelmChartTemplateVerification)


class HelmChartTemplate(View):
    """Template of the HelmChart the controller creates."""

    __schema__ = SPEC.at("chart")
    metadata = child(CommonMetadata)
    spec = child_always(HelmChartTemplateSpec)


class CrossNamespaceChartReference(View):
    """``spec.chartRef``: an OCIRepository, HelmChart or ExternalArtifact."""

    __schema__ = SPEC.at("chartRef")
    api_version = Field[str | None]("apiVersion")
    kind = Field[str]()
    name = Field[str]()
    namespace = Field[str | None]()


# -- actions ----------------------------------------------------------------------------
class ActionStrategy(View):
    """RemediateOnFailure or RetryOnFailure."""

    __schema__ = SPEC.at("install.strategy")
    name = Field[str]()
    retry_interval = duration_required(fallback="5m")


class InstallRemediation(View):
    __schema__ = SPEC.at("install.remediation")
    retries = Field[int](fallback=0)
    ignore_test_failures = Field[bool | None]()
    remediate_last_failure = Field[bool | None]()


class UpgradeRemediation(View):
    __schema__ = SPEC.at("upgrade.remediation")
    retries = Field[int](fallback=0)
    ignore_test_failures = Field[bool | None]()
    remediate_last_failure = Field[bool | None]()
    strategy = Field[str](fallback="rollback")


class Install(View):
    __schema__ = SPEC.at("install")
    timeout = duration()
    remediation = child(InstallRemediation)
    strategy = child(ActionStrategy)
    crds = Field[str](fallback="Create")
    create_namespace = Field[bool](fallback=False)
    disable_hooks = Field[bool](fallback=False)
    disable_open_api_validation = Field[bool]("disableOpenAPIValidation", fallback=False)
    disable_schema_validation = Field[bool](fallback=False)
    disable_take_ownership = Field[bool](fallback=False)
    disable_wait = Field[bool](fallback=False)
    disable_wait_for_jobs = Field[bool](fallback=False)
    replace = Field[bool](fallback=False)
    server_side_apply = Field[bool | None]()
    skip_crds = Field[bool]("skipCRDs", fallback=False)


class Upgrade(View):
    __schema__ = SPEC.at("upgrade")
    timeout = duration()
    remediation = child(UpgradeRemediation)
    strategy = child(ActionStrategy)
    chart_name_change_strategy = Field[str](fallback="Reinstall")
    cleanup_on_fail = Field[bool](fallback=False)
    crds = Field[str](fallback="Skip")
    disable_hooks = Field[bool](fallback=False)
    disable_open_api_validation = Field[bool]("disableOpenAPIValidation", fallback=False)
    disable_schema_validation = Field[bool](fallback=False)
    disable_take_ownership = Field[bool](fallback=False)
    disable_wait = Field[bool](fallback=False)
    disable_wait_for_jobs = Field[bool](fallback=False)
    force = Field[bool](fallback=False)
    preserve_values = Field[bool](fallback=False)
    server_side_apply = Field[str](fallback="auto")


class TestFilter(View):
    __schema__ = SPEC.at("test.filters.[]")
    name = Field[str]()
    exclude = Field[bool](fallback=False)


class Test(View):
    __schema__ = SPEC.at("test")
    enable = Field[bool](fallback=False)
    filters = children(TestFilter)
    ignore_failures = Field[bool](fallback=False)
    timeout = duration()


class Rollback(View):
    __schema__ = SPEC.at("rollback")
    timeout = duration()
    cleanup_on_fail = Field[bool](fallback=False)
    disable_hooks = Field[bool](fallback=False)
    disable_wait = Field[bool](fallback=False)
    disable_wait_for_jobs = Field[bool](fallback=False)
    force = Field[bool](fallback=False)
    recreate = Field[bool](fallback=False)
    server_side_apply = Field[str](fallback="auto")


class Uninstall(View):
    __schema__ = SPEC.at("uninstall")
    timeout = duration()
    deletion_propagation = Field[str]()
    disable_hooks = Field[bool](fallback=False)
    disable_wait = Field[bool](fallback=False)
    keep_history = Field[bool](fallback=False)


# -- values, post-renderers, drift ------------------------------------------------------
class ValuesReference(View):
    """A ConfigMap/Secret key whose content is merged into the values."""

    __schema__ = SPEC.at("valuesFrom.[]")
    kind = Field[str]()
    name = Field[str]()
    values_key = Field[str](fallback="values.yaml")
    target_path = Field[str | None]()
    optional = Field[bool](fallback=False)
    literal = Field[bool](fallback=False)


class KustomizePostRenderer(View):
    __schema__ = SPEC.at("postRenderers.[].kustomize")
    patches = children(Patch)
    images = children(Image)


class PostRenderer(View):
    __schema__ = SPEC.at("postRenderers.[]")
    kustomize = child(KustomizePostRenderer)


class DriftDetection(View):
    __schema__ = SPEC.at("driftDetection")
    mode = Field[str](fallback="disabled")
    ignore = children(IgnoreRule)


class WaitStrategy(View):
    __schema__ = SPEC.at("waitStrategy")
    name = Field[str]()


class HelmReleaseSpec(View):
    __schema__ = SPEC
    chart = child(HelmChartTemplate)
    chart_ref = child(CrossNamespaceChartReference)
    interval = duration_required()
    kube_config = child(KubeConfigReference)
    suspend = Field[bool](fallback=False)
    release_name = Field[str | None]()
    target_namespace = Field[str | None]()
    storage_namespace = Field[str | None]()
    depends_on = children(DependencyReference)
    timeout = duration_required(fallback="5m")
    max_history = Field[int](fallback=5)
    service_account_name = Field[str | None]()
    persistent_client = Field[bool](fallback=True)
    drift_detection = child(DriftDetection)
    install = child(Install)
    upgrade = child(Upgrade)
    test = child(Test)
    rollback = child(Rollback)
    uninstall = child(Uninstall)
    values_from = children(ValuesReference)
    values = Field[dict[str, Any] | None]()
    post_renderers = children(PostRenderer)
    post_render_strategy = Field[str](fallback="combined")
    common_metadata = child(CommonMetadata)
    health_check_exprs = children(HealthCheckExpressions)
    wait_strategy = child(WaitStrategy)


# -- status -----------------------------------------------------------------------------
class TestHookStatus(View):
    __schema__ = STATUS.at("history.[].testHooks.{}")
    last_started = Field[str | None]()
    last_completed = Field[str | None]()
    phase = Field[str | None]()


class Snapshot(View):
    """One release revision as recorded in ``status.history``."""

    __schema__ = STATUS.at("history.[]")
    api_version = Field[str | None]("apiVersion")
    digest = Field[str]()
    name = Field[str]()
    namespace = Field[str]()
    version = Field[int]()
    status = Field[str]()
    chart_name = Field[str]()
    chart_version = Field[str]()
    app_version = Field[str | None]()
    config_digest = Field[str]()
    first_deployed = Field[str]()
    last_deployed = Field[str]()
    deleted = Field[str | None]()
    test_hooks = child_map(TestHookStatus)
    oci_digest = Field[str | None]()
    action = Field[str | None]()


class HelmReleaseStatus(ObjectStatus):
    __schema__ = STATUS
    helm_chart = Field[str | None]()
    storage_namespace = Field[str | None]()
    history = children(Snapshot)
    last_attempted_release_action = Field[str | None]()
    last_attempted_release_action_duration = Field[str | None]()
    failures = Field[int](fallback=0)
    install_failures = Field[int](fallback=0)
    upgrade_failures = Field[int](fallback=0)
    last_attempted_revision = Field[str | None]()
    last_attempted_revision_digest = Field[str | None]()
    last_attempted_values_checksum = Field[str | None]()
    last_release_revision = Field[int | None]()
    last_attempted_config_digest = Field[str | None]()
    last_attempted_generation = Field[int | None]()
    last_handled_force_at = Field[str | None]()
    last_handled_reset_at = Field[str | None]()
    observed_post_renderers_digest = Field[str | None]()
    observed_common_metadata_digest = Field[str | None]()
    inventory = child(ResourceInventory)


class HelmRelease(FluxObject):
    KIND = HELM_RELEASE
    __schema__ = HELM_RELEASE.schema
    spec = child_always(HelmReleaseSpec)
    status = child_always(HelmReleaseStatus)

    def get_release_name(self) -> str:
        """``spec.releaseName`` or ``[<targetNamespace>-]<name>``, shortened past 53 chars."""
        explicit = self.spec.release_name
        if explicit:
            return explicit
        target = self.spec.target_namespace
        name = f"{target}-{self.name}" if target else self.name
        if len(name) > 53:
            name = f"{name[:40]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
        return name

    def get_target_namespace(self) -> str:
        return self.spec.target_namespace or self.namespace

    def get_storage_namespace(self) -> str:
        return self.spec.storage_namespace or self.namespace

    def get_timeout(self) -> Duration:
        return self.spec.timeout
