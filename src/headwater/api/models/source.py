"""Models of source.toolkit.fluxcd.io/v1 kinds (see :mod:`headwater.api.models.base`)."""

from __future__ import annotations

from headwater.api.defs.source import (
    BUCKET,
    EXTERNAL_ARTIFACT,
    GIT_REPOSITORY,
    HELM_CHART,
    HELM_REPOSITORY,
    OCI_REPOSITORY,
)
from headwater.api.models.base import (
    Field,
    View,
    child,
    child_always,
    children,
    duration_required,
    strings,
)
from headwater.api.models.common import (
    AccessFrom,
    Artifact,
    ConditionsStatus,
    LocalObjectReference,
    ObjectStatus,
    OIDCIdentityMatch,
)
from headwater.api.models.object import FluxObject


class SourceStatus(ObjectStatus):
    """Status fields of artifact-producing sources."""

    artifact = child(Artifact)


class ArtifactSource(FluxObject):
    """Any kind that publishes ``status.artifact`` (GitRepository, OCIRepository, Bucket, HelmChart,
    ExternalArtifact), seen the way a consumer reads its source: by its artifact, whatever its kind."""

    status = child_always(SourceStatus)


# -- GitRepository ----------------------------------------------------------------------
class GitRepositoryRef(View):
    """Git reference; precedence: commit > name > semver > tag > branch."""

    __schema__ = GIT_REPOSITORY.spec.at("ref")
    branch = Field[str | None]()
    tag = Field[str | None]()
    semver = Field[str | None]()
    name = Field[str | None]()
    commit = Field[str | None]()


class GitRepositoryInclude(View):
    """Another GitRepository copied into this one's artifact."""

    __schema__ = GIT_REPOSITORY.spec.at("include.[]")
    repository = child_always(LocalObjectReference)
    from_path = Field[str | None]()
    to_path = Field[str | None]()

    def destination(self) -> str:
        """``toPath``, defaulting to the included repository's name."""
        return self.to_path or self.repository.name


class GitRepositoryVerification(View):
    """Signature verification of commits or tags."""

    __schema__ = GIT_REPOSITORY.spec.at("verify")
    mode = Field[str]()
    secret_ref = child_always(LocalObjectReference)


class GitRepositorySpec(View):
    __schema__ = GIT_REPOSITORY.spec
    url = Field[str]()
    interval = duration_required()
    timeout = duration_required()
    ref = child(GitRepositoryRef)
    secret_ref = child(LocalObjectReference)
    provider = Field[str](fallback="generic")
    service_account_name = Field[str | None]()
    proxy_secret_ref = child(LocalObjectReference)
    verify = child(GitRepositoryVerification)
    ignore = Field[str | None]()
    include = children(GitRepositoryInclude)
    sparse_checkout = strings()
    recurse_submodules = Field[bool](fallback=False)
    suspend = Field[bool](fallback=False)


class GitRepositoryStatus(SourceStatus):
    __schema__ = GIT_REPOSITORY.status
    included_artifacts = children(Artifact)
    observed_ignore = Field[str | None]()
    observed_include = children(GitRepositoryInclude)
    observed_recurse_submodules = Field[bool | None]()
    observed_sparse_checkout = strings()
    source_verification_mode = Field[str | None]()


class GitRepository(FluxObject):
    KIND = GIT_REPOSITORY
    __schema__ = GIT_REPOSITORY.schema
    spec = child_always(GitRepositorySpec)
    status = child_always(GitRepositoryStatus)


# -- OCIRepository ----------------------------------------------------------------------
class OCIRepositoryRef(View):
    """OCI reference; precedence: digest > semver > tag (default ``latest``)."""

    __schema__ = OCI_REPOSITORY.spec.at("ref")
    tag = Field[str | None]()
    semver = Field[str | None]()
    semver_filter = Field[str | None]()
    digest = Field[str | None]()


class OCILayerSelector(View):
    __schema__ = OCI_REPOSITORY.spec.at("layerSelector")
    media_type = Field[str | None]()
    operation = Field[str | None]()


class OCIRepositoryVerification(View):
    """cosign / notation signature verification."""

    __schema__ = OCI_REPOSITORY.spec.at("verify")
    provider = Field[str]()
    secret_ref = child(LocalObjectReference)
    match_oidc_identity = children(OIDCIdentityMatch, "matchOIDCIdentity")
    trusted_root_secret_ref = child(LocalObjectReference)


class OCIRepositorySpec(View):
    __schema__ = OCI_REPOSITORY.spec
    url = Field[str]()
    interval = duration_required()
    timeout = duration_required()
    ref = child(OCIRepositoryRef)
    layer_selector = child(OCILayerSelector)
    provider = Field[str]()
    secret_ref = child(LocalObjectReference)
    service_account_name = Field[str | None]()
    cert_secret_ref = child(LocalObjectReference)
    proxy_secret_ref = child(LocalObjectReference)
    verify = child(OCIRepositoryVerification)
    insecure = Field[bool](fallback=False)
    ignore = Field[str | None]()
    suspend = Field[bool](fallback=False)


class OCIRepositoryStatus(SourceStatus):
    __schema__ = OCI_REPOSITORY.status
    url = Field[str | None]()
    observed_ignore = Field[str | None]()
    observed_layer_selector = child(OCILayerSelector)


class OCIRepository(FluxObject):
    KIND = OCI_REPOSITORY
    __schema__ = OCI_REPOSITORY.schema
    spec = child_always(OCIRepositorySpec)
    status = child_always(OCIRepositoryStatus)


# -- HelmRepository ---------------------------------------------------------------------
class HelmRepositorySpec(View):
    __schema__ = HELM_REPOSITORY.spec
    url = Field[str]()
    type = Field[str](fallback="default")
    #: 1m when unset (ignored for OCI repositories).
    interval = duration_required(fallback="1m")
    #: 1m when unset (ignored for OCI repositories).
    timeout = duration_required(fallback="1m")
    secret_ref = child(LocalObjectReference)
    cert_secret_ref = child(LocalObjectReference)
    pass_credentials = Field[bool](fallback=False)
    insecure = Field[bool](fallback=False)
    provider = Field[str]()
    access_from = child(AccessFrom)
    suspend = Field[bool](fallback=False)

    @property
    def is_oci(self) -> bool:
        return self.raw.get("type") == "oci"


class HelmRepositoryStatus(SourceStatus):
    __schema__ = HELM_REPOSITORY.status
    url = Field[str | None]()


class HelmRepository(FluxObject):
    KIND = HELM_REPOSITORY
    __schema__ = HELM_REPOSITORY.schema
    spec = child_always(HelmRepositorySpec)
    status = child_always(HelmRepositoryStatus)


# -- HelmChart --------------------------------------------------------------------------
class LocalHelmChartSourceReference(View):
    """The HelmRepository, GitRepository or Bucket in the chart's namespace."""

    __schema__ = HELM_CHART.spec.at("sourceRef")
    api_version = Field[str | None]("apiVersion")
    kind = Field[str]()
    name = Field[str]()


class HelmChartVerification(View):
    __schema__ = HELM_CHART.spec.at("verify")
    provider = Field[str]()
    secret_ref = child(LocalObjectReference)
    match_oidc_identity = children(OIDCIdentityMatch, "matchOIDCIdentity")


class HelmChartSpec(View):
    __schema__ = HELM_CHART.spec
    chart = Field[str]()
    version = Field[str]()
    source_ref = child_always(LocalHelmChartSourceReference)
    interval = duration_required()
    reconcile_strategy = Field[str]()
    values_files = strings()
    ignore_missing_values_files = Field[bool](fallback=False)
    verify = child(HelmChartVerification)
    suspend = Field[bool](fallback=False)


class HelmChartStatus(SourceStatus):
    __schema__ = HELM_CHART.status
    url = Field[str | None]()
    observed_chart_name = Field[str | None]()
    observed_source_artifact_revision = Field[str | None]()
    observed_values_files = strings()


class HelmChart(FluxObject):
    KIND = HELM_CHART
    __schema__ = HELM_CHART.schema
    spec = child_always(HelmChartSpec)
    status = child_always(HelmChartStatus)


# -- Bucket -----------------------------------------------------------------------------
class BucketSTSSpec(View):
    """Security Token Service for temporary credentials."""

    __schema__ = BUCKET.spec.at("sts")
    provider = Field[str]()
    endpoint = Field[str]()
    secret_ref = child(LocalObjectReference)
    cert_secret_ref = child(LocalObjectReference)


class BucketSpec(View):
    __schema__ = BUCKET.spec
    provider = Field[str]()
    bucket_name = Field[str]()
    endpoint = Field[str]()
    region = Field[str | None]()
    prefix = Field[str | None]()
    insecure = Field[bool](fallback=False)
    sts = child(BucketSTSSpec)
    secret_ref = child(LocalObjectReference)
    cert_secret_ref = child(LocalObjectReference)
    proxy_secret_ref = child(LocalObjectReference)
    service_account_name = Field[str | None]()
    interval = duration_required()
    timeout = duration_required()
    ignore = Field[str | None]()
    suspend = Field[bool](fallback=False)


class BucketStatus(SourceStatus):
    __schema__ = BUCKET.status
    url = Field[str | None]()
    observed_ignore = Field[str | None]()


class Bucket(FluxObject):
    KIND = BUCKET
    __schema__ = BUCKET.schema
    spec = child_always(BucketSpec)
    status = child_always(BucketStatus)


# -- ExternalArtifact -------------------------------------------------------------------
class ExternalArtifactSourceReference(View):
    """The object producing an ExternalArtifact."""

    __schema__ = EXTERNAL_ARTIFACT.spec.at("sourceRef")
    api_version = Field[str | None]("apiVersion")
    kind = Field[str]()
    name = Field[str]()
    namespace = Field[str | None]()


class ExternalArtifactSpec(View):
    __schema__ = EXTERNAL_ARTIFACT.spec
    source_ref = child(ExternalArtifactSourceReference)


class ExternalArtifactStatus(ConditionsStatus):
    __schema__ = EXTERNAL_ARTIFACT.status
    artifact = child(Artifact)


class ExternalArtifact(FluxObject):
    KIND = EXTERNAL_ARTIFACT
    __schema__ = EXTERNAL_ARTIFACT.schema
    spec = child_always(ExternalArtifactSpec)
    status = child_always(ExternalArtifactStatus)
