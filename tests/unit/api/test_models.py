"""Typed views: defaults on read, writes into the dict, schema coverage."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from headwater.api import Duration, UnknownKindError, load
from headwater.api.kinds import ALL_KINDS
from headwater.api.models import (
    MODELS,
    GitRepository,
    HelmRelease,
    ImagePolicy,
    ImageUpdateAutomation,
    Kustomization,
    MissingFieldError,
    View,
    model_for,
)
from headwater.api.models.base import Field, camel
from headwater.api.schema import Schema

from .conftest import manifest_documents

pytestmark = pytest.mark.unit

EXAMPLES = dict(manifest_documents())


def example(name: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[name])


def minimal_git() -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "repo", "namespace": "flux-system"},
        "spec": {"interval": "1m30s", "url": "https://example.com/repo"},
    }


def test_read_interval_as_seconds() -> None:
    repo = load(minimal_git())
    assert isinstance(repo, GitRepository)
    assert repo.spec.interval.seconds == 90.0
    assert repo.spec.interval == Duration.parse("90s")


def test_schema_defaults_apply_on_read_without_writing() -> None:
    document = minimal_git()
    repo = GitRepository(document)
    assert repo.spec.timeout == Duration.parse("60s")  # CRD default
    assert repo.spec.provider == "generic"  # runtime default
    assert repo.spec.suspend is False
    assert repo.spec.ref is None
    assert repo.spec.include == []
    assert repo.status.observed_generation == -1
    assert repo.status.artifact is None
    assert document == minimal_git(), "reads never write"


def test_writes_go_into_the_dict() -> None:
    document = minimal_git()
    repo = GitRepository(document)
    repo.spec.interval = Duration.parse("5m")
    repo.spec.suspend = True
    repo.status.observed_generation = 4
    repo.status.set_condition("Ready", "True", "Succeeded", "ok", now="2025-01-01T00:00:00Z")
    assert document["spec"]["interval"] == "5m0s"
    assert document["spec"]["suspend"] is True
    assert document["status"]["observedGeneration"] == 4
    assert document["status"]["conditions"] == [
        {
            "type": "Ready",
            "lastTransitionTime": "2025-01-01T00:00:00Z",
            "status": "True",
            "reason": "Succeeded",
            "message": "ok",
        }
    ]
    repo.spec.suspend = None  # type: ignore[assignment]
    assert "suspend" not in document["spec"]


def test_set_condition_keeps_transition_time_when_status_is_unchanged() -> None:
    repo = GitRepository(minimal_git())
    repo.status.set_condition("Ready", "False", "Failed", "boom", now="2025-01-01T00:00:00Z")
    repo.status.set_condition("Ready", "False", "Failed", "still", now="2025-01-02T00:00:00Z")
    ready = repo.status.get_condition("Ready")
    assert ready is not None
    assert ready.last_transition_time == "2025-01-01T00:00:00Z"
    assert ready.message == "still"
    repo.status.set_condition("Ready", "True", "Succeeded", "ok", observed_generation=2, now="2025-01-03T00:00:00Z")
    assert repo.status.is_condition_true("Ready")
    assert repo.status.get_condition("Ready").last_transition_time == "2025-01-03T00:00:00Z"  # type: ignore[union-attr]
    repo.status.remove_condition("Ready")
    assert repo.status.get_condition("Ready") is None


def test_defaulted_child_attaches_on_first_write() -> None:
    document = example("imageupdateautomation/flux-system")
    del document["spec"]["update"]
    automation = ImageUpdateAutomation(document)
    assert automation.spec.update.strategy == "Setters"  # default object {"strategy": "Setters"}
    assert "update" not in document["spec"]
    automation.spec.update.path = "./apps"
    assert document["spec"]["update"] == {"strategy": "Setters", "path": "./apps"}


def test_required_field_missing_raises() -> None:
    document = minimal_git()
    del document["spec"]["url"]
    with pytest.raises(MissingFieldError, match="url"):
        _ = GitRepository(document).spec.url


def test_nested_views_share_the_dicts() -> None:
    document = example("gitrepository/platform")
    repo = GitRepository(document)
    include = repo.spec.include[0]
    assert include.repository.name == "shared-config"
    assert include.destination() == "shared"
    include.to_path = "elsewhere"
    assert document["spec"]["include"][0]["toPath"] == "elsewhere"
    assert repo.status.artifact is not None
    assert repo.status.artifact.size == 58624
    assert repo.status.artifact.raw is document["status"]["artifact"]


def test_kustomization_runtime_defaults() -> None:
    ks = Kustomization(example("kustomization/podinfo"))
    assert ks.get_timeout() == Duration.parse("1m")
    del ks.spec.timeout
    assert ks.get_timeout() == Duration.parse("9m30s")  # interval - 30s
    ks.spec.interval = Duration.parse("40s")
    assert ks.get_timeout() == Duration.parse("30s")  # never below 30s
    assert ks.get_retry_interval() == Duration.parse("40s")
    assert ks.spec.deletion_policy == "MirrorPrune"
    assert ks.spec.source_ref.namespace_or(ks.namespace) == "flux-system"


@pytest.mark.parametrize(
    ("spec", "timeout", "retry"),
    [
        ({"interval": "10m"}, "9m30s", "10m"),  # timeout: interval - 30s; retry: the interval
        ({"interval": "10m", "timeout": "2m", "retryInterval": "1m"}, "2m", "1m"),
        ({"interval": "10m", "timeout": "4s"}, "30s", "10m"),  # Flux's GetTimeout floors a set timeout too
        ({"interval": "45s"}, "30s", "45s"),  # never below 30s
        ({"interval": "1h", "timeout": "30s"}, "30s", "1h"),
    ],
)
def test_kustomization_timeout_and_retry_interval_follow_flux(spec: dict[str, Any], timeout: str, retry: str) -> None:
    ks = Kustomization({"metadata": {"name": "a", "namespace": "b"}, "spec": {"prune": True, **spec}})
    assert ks.get_timeout() == Duration.parse(timeout)
    assert ks.get_retry_interval() == Duration.parse(retry)


@pytest.mark.parametrize(
    ("source_ref", "key"),
    [
        ({"kind": "GitRepository", "name": "repo"}, "GitRepository/apps/repo"),
        ({"kind": "OCIRepository", "name": "oci", "namespace": "flux-system"}, "OCIRepository/flux-system/oci"),
    ],
)
def test_kustomization_source_key(source_ref: dict[str, str], key: str) -> None:
    ks = Kustomization({"metadata": {"name": "a", "namespace": "apps"}, "spec": {"sourceRef": source_ref}})
    assert ks.source_key() == key


def test_any_source_is_read_by_its_artifact() -> None:
    from headwater.api.models import ArtifactSource

    artifact = {"path": "p", "url": "http://x/p", "revision": "main@sha1:1", "digest": "sha256:2",
                "lastUpdateTime": "2024-01-01T00:00:00Z"}
    for kind in ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"):
        source = ArtifactSource({"kind": kind, "status": {"artifact": artifact}})
        assert source.status.artifact is not None
        assert source.status.artifact.revision == "main@sha1:1"
    assert ArtifactSource({"kind": "GitRepository"}).status.artifact is None


def test_helmrelease_runtime_defaults() -> None:
    release = HelmRelease(example("helmrelease/cert-manager"))
    spec = release.spec
    assert spec.max_history == 5
    assert spec.timeout == Duration.parse("5m")
    assert spec.persistent_client is True
    assert spec.install is None
    assert release.get_release_name() == "cert-manager"
    assert release.get_target_namespace() == "cert-manager"
    assert spec.chart_ref is not None
    assert spec.chart_ref.kind == "OCIRepository"
    assert spec.values == {"crds": {"enabled": True}}
    release.spec.target_namespace = "a" * 45
    name = release.get_release_name()
    assert len(name) == 53
    assert name.startswith("a" * 40 + "-")


def test_helmrelease_nested_actions() -> None:
    spec = HelmRelease(example("helmrelease/podinfo")).spec
    assert spec.install is not None
    assert spec.install.crds == "CreateReplace"
    assert spec.install.strategy is not None
    assert spec.install.strategy.retry_interval == Duration.parse("2m")
    assert spec.upgrade is not None
    assert spec.upgrade.remediation is not None
    assert spec.upgrade.remediation.retries == -1
    assert spec.uninstall is not None
    assert spec.uninstall.deletion_propagation == "foreground"
    assert spec.values_from[0].values_key == "values.yaml"
    assert spec.values_from[1].values_key == "redis.password"
    assert spec.chart is not None
    assert spec.chart.spec.source_ref.namespace == "flux-system"
    assert spec.post_renderers[0].kustomize is not None
    assert spec.post_renderers[0].kustomize.images[0].new_tag == "6.5.4"


def test_image_ref_string() -> None:
    policy = ImagePolicy(example("imagepolicy/podinfo"))
    assert policy.status.latest_ref is not None
    assert str(policy.status.latest_ref).startswith("ghcr.io/stefanprodan/podinfo:5.1.4@sha256:")
    assert str(policy.status.observed_previous_ref) == "ghcr.io/stefanprodan/podinfo:5.1.3"
    assert policy.spec.policy.semver is not None
    assert policy.spec.policy.semver.range == "5.1.x"


def test_new_object() -> None:
    repo = GitRepository.new("x", "ns", {"url": "https://e/x", "interval": "1m"})
    assert repo.raw["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert repo.metadata.namespace == "ns"
    assert repo.requested_at is None


def test_unknown_kind() -> None:
    with pytest.raises(UnknownKindError):
        load({"apiVersion": "v1", "kind": "ConfigMap"})


def test_camel() -> None:
    assert camel("service_account_name") == "serviceAccountName"
    assert camel("url") == "url"


def test_every_kind_has_a_model() -> None:
    assert [model.KIND for model in MODELS] == list(ALL_KINDS)
    assert all(model_for(kind).KIND is kind for kind in ALL_KINDS)


def _missing_properties(view: type[View], schema: Schema, path: str) -> list[str]:
    keys = {field.key: field for field in view.__fields__.values()}
    missing = []
    for name, node in schema.properties.items():
        field = keys.get(name)
        if field is None:
            if not hasattr(view, camel_to_snake(name)):
                missing.append(f"{path}.{name}")
            continue
        nested = getattr(field, "view", None)
        target = node.items if node.type == "array" else node.additional_properties or node
        if nested is not None and target is not None and target.properties:
            missing += _missing_properties(nested, target, f"{path}.{name}")
    return missing


def camel_to_snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


@pytest.mark.parametrize("model", MODELS, ids=[model.KIND.kind for model in MODELS])
def test_models_cover_every_schema_property(model: type[View]) -> None:
    """Every spec/status property has a typed accessor (recursively)."""
    kind = model.KIND  # type: ignore[attr-defined]
    missing = _missing_properties(model, kind.schema, kind.kind)
    assert not missing, f"no accessor for: {missing}"


def test_field_descriptor_on_class_returns_descriptor() -> None:
    assert isinstance(GitRepository.api_version, Field)
    assert GitRepository.spec.key == "spec"


def test_null_status_is_replaced_on_first_write() -> None:
    document = minimal_git()
    document["status"] = None
    repo = GitRepository(document)
    assert repo.status.observed_generation == -1
    repo.status.observed_generation = 1
    assert document["status"] == {"observedGeneration": 1}
