"""Models of image.toolkit.fluxcd.io/v1 kinds: ImageRepository, ImagePolicy, ImageUpdateAutomation."""

from __future__ import annotations

from headwater.api.defs.image import IMAGE_POLICY, IMAGE_REPOSITORY, IMAGE_UPDATE_AUTOMATION
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
    string_map,
    strings,
)
from headwater.api.models.common import AccessFrom, LocalObjectReference, ObjectStatus
from headwater.api.models.object import FluxObject
from headwater.api.models.source import GitRepositoryRef


# -- ImageRepository --------------------------------------------------------------------
class ImageRepositorySpec(View):
    __schema__ = IMAGE_REPOSITORY.spec
    image = Field[str]()
    interval = duration_required()
    #: The scan timeout defaults to the interval; see :meth:`ImageRepository.get_timeout`.
    timeout = duration()
    secret_ref = child(LocalObjectReference)
    service_account_name = Field[str | None]()
    cert_secret_ref = child(LocalObjectReference)
    proxy_secret_ref = child(LocalObjectReference)
    access_from = child(AccessFrom)
    exclusion_list = strings()
    provider = Field[str]()
    insecure = Field[bool](fallback=False)
    suspend = Field[bool](fallback=False)


class ScanResult(View):
    __schema__ = IMAGE_REPOSITORY.status_schema.at("lastScanResult")
    tag_count = Field[int]()
    scan_time = Field[str | None]()
    latest_tags = strings()
    revision = Field[str | None]()


class ImageRepositoryStatus(ObjectStatus):
    __schema__ = IMAGE_REPOSITORY.status
    canonical_image_name = Field[str | None]()
    last_scan_result = child(ScanResult)
    observed_exclusion_list = strings()


class ImageRepository(FluxObject):
    KIND = IMAGE_REPOSITORY
    __schema__ = IMAGE_REPOSITORY.schema
    spec = child_always(ImageRepositorySpec)
    status = child_always(ImageRepositoryStatus)

    def get_timeout(self) -> Duration:
        return self.spec.timeout or self.spec.interval


# -- ImagePolicy ------------------------------------------------------------------------
class ImageRepositoryReference(View):
    __schema__ = IMAGE_POLICY.spec.at("imageRepositoryRef")
    name = Field[str]()
    namespace = Field[str | None]()


class SemVerPolicy(View):
    __schema__ = IMAGE_POLICY.spec.at("policy.semver")
    range = Field[str]()


class AlphabeticalPolicy(View):
    __schema__ = IMAGE_POLICY.spec.at("policy.alphabetical")
    order = Field[str]()


class NumericalPolicy(View):
    __schema__ = IMAGE_POLICY.spec.at("policy.numerical")
    order = Field[str]()


class ImagePolicyChoice(View):
    """Exactly one of semver, alphabetical or numerical."""

    __schema__ = IMAGE_POLICY.spec.at("policy")
    semver = child(SemVerPolicy)
    alphabetical = child(AlphabeticalPolicy)
    numerical = child(NumericalPolicy)


class TagFilter(View):
    __schema__ = IMAGE_POLICY.spec.at("filterTags")
    pattern = Field[str | None]()
    extract = Field[str | None]()


class ImageRef(View):
    """``{name, tag, digest}``; ``str()`` gives ``name:tag[@digest]``."""

    __schema__ = IMAGE_POLICY.status_schema.at("latestRef")
    name = Field[str]()
    tag = Field[str]()
    digest = Field[str | None]()

    def __str__(self) -> str:
        text = f"{self.name}:{self.tag}"
        return f"{text}@{self.digest}" if self.digest else text


class ImagePolicySpec(View):
    __schema__ = IMAGE_POLICY.spec
    image_repository_ref = child_always(ImageRepositoryReference)
    policy = child_always(ImagePolicyChoice)
    filter_tags = child(TagFilter)
    digest_reflection_policy = Field[str]()
    interval = duration()
    suspend = Field[bool](fallback=False)


class ImagePolicyStatus(ObjectStatus):
    __schema__ = IMAGE_POLICY.status
    latest_ref = child(ImageRef)
    observed_previous_ref = child(ImageRef)


class ImagePolicy(FluxObject):
    KIND = IMAGE_POLICY
    __schema__ = IMAGE_POLICY.schema
    spec = child_always(ImagePolicySpec)
    status = child_always(ImagePolicyStatus)


# -- ImageUpdateAutomation --------------------------------------------------------------
GIT = IMAGE_UPDATE_AUTOMATION.spec.at("git")


class GitCheckoutSpec(View):
    __schema__ = GIT.at("checkout")
    ref = child_always(GitRepositoryRef)


class CommitUser(View):
    __schema__ = GIT.at("commit.author")
    name = Field[str | None]()
    email = Field[str]()


class SigningKey(View):
    __schema__ = GIT.at("commit.signingKey")
    secret_ref = child_always(LocalObjectReference)
    type = Field[str](fallback="gpg")


class CommitSpec(View):
    __schema__ = GIT.at("commit")
    author = child_always(CommitUser)
    signing_key = child(SigningKey)
    message_template = Field[str | None]()
    message_template_values = string_map()


class PushSpec(View):
    __schema__ = GIT.at("push")
    branch = Field[str | None]()
    refspec = Field[str | None]()
    options = string_map()


class GitSpec(View):
    __schema__ = GIT
    checkout = child(GitCheckoutSpec)
    commit = child_always(CommitSpec)
    push = child(PushSpec)


class UpdateStrategy(View):
    __schema__ = IMAGE_UPDATE_AUTOMATION.spec.at("update")
    strategy = Field[str]()
    path = Field[str | None]()


class LabelSelectorRequirement(View):
    __schema__ = IMAGE_UPDATE_AUTOMATION.spec.at("policySelector.matchExpressions.[]")
    key = Field[str]()
    operator = Field[str]()
    values = strings()


class LabelSelector(View):
    __schema__ = IMAGE_UPDATE_AUTOMATION.spec.at("policySelector")
    match_labels = string_map()
    match_expressions = children(LabelSelectorRequirement)


class AutomationSourceReference(View):
    __schema__ = IMAGE_UPDATE_AUTOMATION.spec.at("sourceRef")
    api_version = Field[str | None]("apiVersion")
    kind = Field[str]()
    name = Field[str]()
    namespace = Field[str | None]()


class ImageUpdateAutomationSpec(View):
    __schema__ = IMAGE_UPDATE_AUTOMATION.spec
    source_ref = child_always(AutomationSourceReference)
    git = child(GitSpec)
    interval = duration_required()
    policy_selector = child(LabelSelector)
    update = child_always(UpdateStrategy)
    suspend = Field[bool](fallback=False)


class ImageUpdateAutomationStatus(ObjectStatus):
    __schema__ = IMAGE_UPDATE_AUTOMATION.status
    last_automation_run_time = Field[str | None]()
    last_push_commit = Field[str | None]()
    last_push_time = Field[str | None]()
    observed_source_revision = Field[str | None]()
    observed_policies = child_map(ImageRef)


class ImageUpdateAutomation(FluxObject):
    KIND = IMAGE_UPDATE_AUTOMATION
    __schema__ = IMAGE_UPDATE_AUTOMATION.schema
    spec = child_always(ImageUpdateAutomationSpec)
    status = child_always(ImageUpdateAutomationStatus)
