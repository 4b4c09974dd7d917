"""Offline validation rejects what the API server would, naming the field path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from headwater.api import FieldError, ValidationError, check, validate, with_defaults
from headwater.api.schema import obj, string
from headwater.api.validation import validate_value

from .conftest import manifest_documents

pytestmark = pytest.mark.unit

EXAMPLES = dict(manifest_documents())

Mutation = Callable[[dict[str, Any]], None]


def example(name: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[name])


def delete(path: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for step in parents:
            node = node[int(step)] if isinstance(node, list) else node[step]
        del node[last]

    return mutate


def put(path: str, value: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for step in parents:
            node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def append(path: str, value: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        node: Any = document
        for step in path.split("."):
            node = node[step]
        node.append(value)

    return mutate


# (example, mutation, expected path, expected reason, fragment of the detail)
INVALID: list[tuple[str, Mutation, str, str, str]] = [
    # missing required fields
    ("gitrepository/podinfo", delete("spec.url"), "spec.url", "Required value", ""),
    ("gitrepository/podinfo", delete("spec.interval"), "spec.interval", "Required value", ""),
    ("gitrepository/platform", delete("spec.include.0.repository"), "spec.include[0].repository", "Required value", ""),
    ("gitrepository/platform", delete("spec.verify.secretRef"), "spec.verify.secretRef", "Required value", ""),
    ("kustomization/podinfo", delete("spec.prune"), "spec.prune", "Required value", ""),
    ("kustomization/podinfo", delete("spec.sourceRef.kind"), "spec.sourceRef.kind", "Required value", ""),
    (
        "helmrelease/podinfo",
        delete("spec.chart.spec.sourceRef.name"),
        "spec.chart.spec.sourceRef.name",
        "Required value",
        "",
    ),
    ("alert/on-call-webapp", delete("spec.providerRef"), "spec.providerRef", "Required value", ""),
    ("receiver/github-receiver", delete("spec.resources"), "spec.resources", "Required value", ""),
    ("imagepolicy/podinfo", delete("spec.policy.semver.range"), "spec.policy.semver.range", "Required value", ""),
    (
        "imageupdateautomation/flux-system",
        delete("spec.git.commit.author.email"),
        "spec.git.commit.author.email",
        "Required value",
        "",
    ),
    (
        "imagerepository/podinfo",
        put("status.lastScanResult", {}),
        "status.lastScanResult.tagCount",
        "Required value",
        "",
    ),
    ("gitrepository/podinfo", delete("metadata.name"), "metadata.name", "Required value", ""),
    # bad enums
    ("gitrepository/platform", put("spec.provider", "gitlab"), "spec.provider", "Unsupported value", '"gitlab"'),
    (
        "kustomization/podinfo",
        put("spec.sourceRef.kind", "HelmRepository"),
        "spec.sourceRef.kind",
        "Unsupported value",
        "OCIRepository",
    ),
    ("helmrelease/podinfo", put("spec.upgrade.crds", "Replace"), "spec.upgrade.crds", "Unsupported value", ""),
    ("provider/slack", put("spec.type", "email"), "spec.type", "Unsupported value", ""),
    (
        "gitrepository/platform",
        put("status.conditions.0.status", "true"),
        "status.conditions[0].status",
        "Unsupported value",
        "",
    ),
    ("kustomization/apps", put("spec.buildMetadata.0", "everything"), "spec.buildMetadata[0]", "Unsupported value", ""),
    # bad durations and other patterns
    ("gitrepository/podinfo", put("spec.interval", "5 minutes"), "spec.interval", "Invalid value", "should match"),
    ("gitrepository/podinfo", put("spec.interval", "1d"), "spec.interval", "Invalid value", "should match"),
    ("gitrepository/podinfo", put("spec.timeout", "1h"), "spec.timeout", "Invalid value", "should match"),
    ("kustomization/apps", put("spec.retryInterval", "-1m"), "spec.retryInterval", "Invalid value", ""),
    (
        "helmrelease/podinfo",
        put("spec.install.strategy.retryInterval", "2"),
        "spec.install.strategy.retryInterval",
        "Invalid value",
        "",
    ),
    ("gitrepository/podinfo", put("spec.url", "git@github.com:org/repo"), "spec.url", "Invalid value", ""),
    ("ocirepository/podinfo", put("spec.url", "ghcr.io/org/app"), "spec.url", "Invalid value", ""),
    (
        "gitrepository/platform",
        put("status.artifact.digest", "not-a-digest"),
        "status.artifact.digest",
        "Invalid value",
        "",
    ),
    (
        "gitrepository/platform",
        put("status.artifact.lastUpdateTime", "yesterday"),
        "status.artifact.lastUpdateTime",
        "Invalid value",
        "date-time",
    ),
    # wrong types
    ("gitrepository/podinfo", put("spec.interval", 60), "spec.interval", "Invalid value", "must be of type string"),
    ("gitrepository/podinfo", put("spec.suspend", "yes"), "spec.suspend", "Invalid value", "type boolean"),
    ("gitrepository/podinfo", put("spec.ref", "main"), "spec.ref", "Invalid value", "type object"),
    (
        "gitrepository/platform",
        put("spec.sparseCheckout", "infra"),
        "spec.sparseCheckout",
        "Invalid value",
        "type array",
    ),
    ("helmrelease/podinfo", put("spec.maxHistory", "10"), "spec.maxHistory", "Invalid value", "type integer"),
    ("helmrelease/podinfo", put("spec.maxHistory", True), "spec.maxHistory", "Invalid value", "type integer"),
    (
        "kustomization/apps",
        put("spec.postBuild.substitute.replicas", 3),
        "spec.postBuild.substitute[replicas]",
        "Invalid value",
        "type string",
    ),
    (
        "imagerepository/podinfo",
        put("status.lastScanResult.tagCount", 4.5),
        "status.lastScanResult.tagCount",
        "Invalid value",
        "type integer",
    ),
    # lengths, bounds, counts
    ("helmrelease/podinfo", put("spec.releaseName", "r" * 54), "spec.releaseName", "Too long", "53"),
    ("kustomization/podinfo", put("spec.targetNamespace", ""), "spec.targetNamespace", "Too short", ""),
    (
        "gitrepository/platform",
        put("status.conditions.0.observedGeneration", -1),
        "status.conditions[0].observedGeneration",
        "Invalid value",
        "greater than or equal to 0",
    ),
    (
        "imagerepository/podinfo",
        put("spec.exclusionList", [f"^{i}$" for i in range(26)]),
        "spec.exclusionList",
        "Too many",
        "25",
    ),
    (
        "receiver/ci-oidc",
        put("spec.oidcProviders.0.validations", []),
        "spec.oidcProviders[0].validations",
        "Invalid value",
        "at least 1",
    ),
    # unknown fields
    ("gitrepository/podinfo", put("spec.branch", "main"), "spec.branch", "Unknown field", ""),
    ("helmrelease/podinfo", put("spec.install.retries", 3), "spec.install.retries", "Unknown field", ""),
    # CEL rules (checked after defaulting)
    (
        "gitrepository/podinfo",
        put("spec.serviceAccountName", "sa"),
        "spec",
        "Invalid value",
        "serviceAccountName can only be set when provider is 'azure' or 'aws'",
    ),
    (
        "bucket/minio-bucket",
        put("spec.serviceAccountName", "sa"),
        "spec",
        "Invalid value",
        "ServiceAccountName is not supported for the 'generic' Bucket provider",
    ),
    (
        "bucket/s3-bucket",
        put("spec.sts", {"provider": "ldap", "endpoint": "https://sts"}),
        "spec",
        "Invalid value",
        "'aws' is the only supported STS provider",
    ),
    (
        "helmchart/podinfo",
        put("spec.sourceRef.kind", "GitRepository"),
        "spec",
        "Invalid value",
        "spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'",
    ),
    (
        "helmrelease/cert-manager",
        put("spec.chart", {"spec": {"chart": "x", "sourceRef": {"kind": "Bucket", "name": "b"}}}),
        "spec",
        "Invalid value",
        "either chart or chartRef must be set",
    ),
    (
        "helmrelease/cert-manager",
        put("spec.kubeConfig.secretRef", {"name": "kc"}),
        "spec.kubeConfig",
        "Invalid value",
        "exactly one of",
    ),
    (
        "helmrelease/podinfo",
        put("spec.upgrade.strategy", {"name": "RemediateOnFailure", "retryInterval": "1m"}),
        "spec.upgrade.strategy",
        "Invalid value",
        "can only be set when .name is 'RetryOnFailure'",
    ),
    ("imagepolicy/podinfo", delete("spec.interval"), "spec", "Invalid value", "spec.interval must be set"),
    ("imagepolicy/app-main", put("spec.interval", "5m"), "spec", "Invalid value", "only accepted"),
    ("receiver/github-receiver", delete("spec.secretRef"), "spec", "Invalid value", "secretRef is required"),
    ("receiver/ci-oidc", delete("spec.oidcProviders"), "spec", "Invalid value", "at least one oidcProvider"),
    ("provider/slack", put("spec.commitStatusExpr", "'x'"), "spec", "Invalid value", "commitStatusExpr"),
    # list-map keys must be unique
    (
        "receiver/ci-oidc",
        append(
            "spec.oidcProviders",
            {
                "issuerURL": "https://token.actions.githubusercontent.com",
                "validations": [{"expression": "true", "message": "m"}],
            },
        ),
        "spec.oidcProviders[1]",
        "Duplicate value",
        "",
    ),
]


def _ids() -> list[str]:
    return [f"{name}:{path}:{reason.split()[0]}" for name, _, path, reason, _ in INVALID]


@pytest.mark.parametrize(("name", "mutate", "path", "reason", "detail"), INVALID, ids=_ids())
def test_invalid_manifest_names_the_field(name: str, mutate: Mutation, path: str, reason: str, detail: str) -> None:
    document = example(name)
    mutate(document)
    errors = validate(document)
    matching = [error for error in errors if error.path == path and error.reason == reason]
    assert matching, f"expected {path}: {reason}, got {[str(error) for error in errors]}"
    assert detail in matching[0].detail
    assert str(matching[0]).startswith(f"{path}: {reason}")


def test_check_raises_with_all_errors() -> None:
    document = example("gitrepository/podinfo")
    del document["spec"]["url"]
    document["spec"]["interval"] = "soon"
    with pytest.raises(ValidationError) as info:
        check(document)
    assert [error.path for error in info.value.errors] == ["spec.interval", "spec.url"]
    assert "spec.url: Required value" in str(info.value)


def test_defaults_satisfy_required_fields() -> None:
    document = example("ocirepository/podinfo")
    del document["spec"]["verify"]["provider"]  # required, but defaults to cosign
    assert validate(document) == []
    assert with_defaults(document)["spec"]["verify"]["provider"] == "cosign"
    assert "provider" not in document["spec"]["verify"], "with_defaults copies"


def test_with_defaults_applies_schema_defaults() -> None:
    defaulted = with_defaults(example("gitrepository/platform"))
    assert defaulted["spec"]["timeout"] == "60s"
    minimal = {
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageUpdateAutomation",
        "metadata": {"name": "a"},
        "spec": {"interval": "1m", "sourceRef": {"name": "repo"}},
    }
    defaulted = with_defaults(minimal)
    assert defaulted["spec"]["sourceRef"]["kind"] == "GitRepository"
    assert defaulted["spec"]["update"] == {"strategy": "Setters"}
    assert defaulted["status"] == {"observedGeneration": -1}
    assert validate(minimal) == []


def test_null_counts_as_absent() -> None:
    document = example("gitrepository/podinfo")
    document["spec"]["suspend"] = None
    assert validate(document) == []
    document["spec"]["url"] = None
    assert [str(error) for error in validate(document)] == ["spec.url: Required value"]


def test_non_strict_tolerates_unknown_fields() -> None:
    document = example("gitrepository/podinfo")
    document["spec"]["legacy"] = True
    assert validate(document, strict=False) == []
    assert [error.path for error in validate(document)] == ["spec.legacy"]


def test_free_form_values_accept_anything() -> None:
    document = example("helmrelease/podinfo")
    document["spec"]["values"] = {"anything": [1, {"goes": None}], "x": 1.5}
    assert validate(document) == []


def test_foreign_objects_are_not_judged() -> None:
    assert validate({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": 1}}) == []
    assert validate({"kind": "Nothing"}) == []


@pytest.mark.parametrize(
    ("api_version", "kind", "error"),
    [
        ("source.toolkit.fluxcd.io/v1beta2", "GitRepository", "apiVersion: Unsupported value: GitRepository is served"),
        ("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", "apiVersion: Unsupported value: HelmRelease is served"),
        ("notification.toolkit.fluxcd.io/v1", "Alert", "apiVersion: Unsupported value: Alert is served"),
        ("source.toolkit.fluxcd.io/v1", "GitRepo", "kind: Unsupported value: 'GitRepo' is not a kind"),
    ],
)
def test_unserved_flux_versions_are_rejected(api_version: str, kind: str, error: str) -> None:
    errors = validate({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}})
    assert len(errors) == 1
    assert str(errors[0]).startswith(error)


def test_validate_value_with_custom_schema() -> None:
    schema = obj("x", {"name": string("n", required=True, max_length=3)})
    assert validate_value(schema, {"name": "abcd"}, "root") == [
        FieldError("root.name", "Too long", "may not be longer than 3")
    ]
    assert validate_value(schema, [], "") == [FieldError("", "Invalid value", "[]: must be of type object")]


class Refused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _read_kustomization(document: dict[str, Any]) -> None:
    from headwater.api.models import Kustomization

    ks = Kustomization(document)
    assert ks.spec.interval
    assert ks.get_timeout()
    assert ks.spec.source_ref.name


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (delete("spec.interval"), "invalid object: spec.interval: Required value"),
        (delete("spec.sourceRef.name"), "invalid object: spec.sourceRef.name: Required value"),
        (put("spec.timeout", "soon"), "invalid object: spec.timeout: Invalid value: \"soon\": should match"),
    ],
)
def test_an_unreadable_object_is_refused_with_every_violation(mutate: Mutation, message: str) -> None:
    from headwater.api.validation import VALIDATION_FAILED_REASON, refuse_unreadable

    document = example("kustomization/podinfo")
    mutate(document)
    with pytest.raises(Refused) as refused, refuse_unreadable(document, Refused):
        _read_kustomization(document)
    assert refused.value.reason == VALIDATION_FAILED_REASON == "ValidationFailed"
    assert str(refused.value).startswith(message)


def test_a_readable_object_passes_and_other_errors_are_not_touched() -> None:
    from headwater.api.validation import refuse_unreadable

    document = example("kustomization/podinfo")
    with refuse_unreadable(document, Refused):
        _read_kustomization(document)
    with pytest.raises(KeyError, match="other"), refuse_unreadable(document, Refused):
        raise KeyError("other")
