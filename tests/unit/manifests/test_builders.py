"""headwater.manifests, the pure builders behind `create … --export` and `bootstrap`: fields, defaults and errors."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from headwater import manifests as g

pytestmark = pytest.mark.unit

URL = "https://github.com/stefanprodan/podinfo"


def test_git_repository_minimal_matches_flux() -> None:
    obj = g.git_repository("podinfo", "flux-system", url=URL, branch="master")
    assert obj == {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                   "metadata": {"name": "podinfo", "namespace": "flux-system"},
                   "spec": {"interval": "1m0s", "ref": {"branch": "master"}, "url": URL}}


def test_git_repository_every_option() -> None:
    obj = g.git_repository("app", "apps", url="ssh://git@host:2222/org/app", tag="v1", interval="90s",
                           secret_ref="app-auth", proxy_secret_ref="proxy", provider="github",
                           ignore=["/*", "!/deploy"], recurse_submodules=True, sparse_checkout=["deploy"],
                           labels={"team": "a"}, timeout="2m")
    spec = obj["spec"]
    assert spec["interval"] == "1m30s"
    assert spec["timeout"] == "2m0s"
    assert spec["ref"] == {"tag": "v1"}
    assert spec["secretRef"] == {"name": "app-auth"}
    assert spec["proxySecretRef"] == {"name": "proxy"}
    assert spec["ignore"] == "/*\n!/deploy"
    assert spec["sparseCheckout"] == ["deploy"]
    assert spec["recurseSubmodules"] is True
    assert spec["provider"] == "github"
    assert obj["metadata"]["labels"] == {"team": "a"}


@pytest.mark.parametrize(("refs", "expected"), [
    ({"commit": "abc", "branch": "main"}, {"branch": "main", "commit": "abc"}),
    ({"commit": "abc"}, {"commit": "abc"}),
    ({"ref_name": "refs/pull/4/head"}, {"name": "refs/pull/4/head"}),
    ({"semver": ">=1.0.0"}, {"semver": ">=1.0.0"}),
])
def test_git_reference(refs: dict[str, str], expected: dict[str, str]) -> None:
    assert g.git_reference(**refs) == expected


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"url": URL}, "a Git ref is required"),
    ({"url": URL, "branch": "main", "tag": "v1"}, "--branch and --tag cannot be used together"),
    ({"url": URL, "commit": "abc", "tag": "v1"}, "--commit cannot be combined with --tag"),
    ({"url": URL, "ref_name": "main"}, "invalid --ref-name 'main'"),
    ({"url": "ftp://host/repo", "branch": "main"}, "git URL scheme 'ftp' not supported"),
    ({"url": "git@github.com:org/repo", "branch": "main"}, "scp-like"),
    ({"url": "", "branch": "main"}, "url is required"),
    ({"url": URL, "branch": "main", "interval": "soon"}, "invalid --interval 'soon'"),
    ({"url": URL, "branch": "main", "provider": "gitlab"}, "unsupported source provider 'gitlab'"),
    ({"url": URL, "branch": "main", "labels": {"a b": "c"}}, "invalid label 'a b'"),
])
def test_git_repository_rejects_bad_input(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(g.GenerateError, match=message):
        g.git_repository("podinfo", "flux-system", **kwargs)


def test_bad_object_name_is_named() -> None:
    with pytest.raises(g.GenerateError, match="invalid name 'Pod_Info'"):
        g.git_repository("Pod_Info", "flux-system", url=URL, branch="main")


def test_kustomization_defaults() -> None:
    obj = g.kustomization("podinfo", "flux-system", source="podinfo", path="./kustomize")
    assert obj["spec"] == {"interval": "1m0s", "path": "./kustomize", "prune": False,
                           "sourceRef": {"kind": "GitRepository", "name": "podinfo"}}


def test_kustomization_wait_supersedes_health_checks() -> None:
    obj = g.kustomization("a", "ns", source="OCIRepository/x.other", wait=True,
                          health_checks=["Deployment/web.apps"], health_check_timeout="3m")
    assert obj["spec"]["wait"] is True
    assert "healthChecks" not in obj["spec"]
    assert obj["spec"]["timeout"] == "3m0s"
    assert obj["spec"]["sourceRef"] == {"kind": "OCIRepository", "name": "x", "namespace": "other"}


@pytest.mark.parametrize(("path", "expected"), [
    ("kustomize", "./kustomize"), ("./a/b/", "./a/b"), ("../../etc", "./etc"), ("./", "./"), ("", "./"),
])
def test_safe_relative_path(path: str, expected: str) -> None:
    assert g.safe_relative_path(path) == expected


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"source": ""}, "source is required"),
    ({"source": "HelmRepository/x"}, "source kind 'HelmRepository' is not supported"),
    ({"source": "x", "health_checks": ["Pod/a.b"]}, "invalid health check kind 'Pod'"),
    ({"source": "x", "health_checks": ["Deployment/a"]}, "must be in the format 'kind/name.namespace'"),
    ({"source": "x", "depends_on": ["a/b/c"]}, "invalid --depends-on 'a/b/c'"),
    ({"source": "x", "decryption_provider": "vault"}, "unsupported decryption provider 'vault'"),
    ({"source": "x", "decryption_secret": "keys"}, "--decryption-secret requires"),
    ({"source": "x", "retry_interval": "-1m"}, "invalid --retry-interval"),
])
def test_kustomization_rejects_bad_input(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(g.GenerateError, match=message):
        g.kustomization("a", "ns", **kwargs)


def test_parse_labels() -> None:
    assert g.parse_labels(["app.kubernetes.io/name=web", "tier="]) == {"app.kubernetes.io/name": "web", "tier": ""}
    with pytest.raises(g.GenerateError, match="invalid label format 'a=b=c', must be key=value"):
        g.parse_labels(["a=b=c"])
    with pytest.raises(g.GenerateError, match="invalid label value"):
        g.parse_labels(["a=-b"])


def test_secret_data_keys() -> None:
    assert g.git_secret_data(username="u", password="p", bearer_token="t", ca_crt="CA") == {
        "username": "u", "password": "p", "bearerToken": "t", "ca.crt": "CA"}
    ssh = g.git_secret_data(password="pass", identity="K", identity_pub="P", known_hosts="H")
    assert ssh == {"identity": "K", "identity.pub": "P", "known_hosts": "H", "password": "pass"}
    assert g.basic_auth_data("u", None) == {}
    assert g.tls_secret_data(tls_crt="C", ca_crt="A") == {"ca.crt": "A"}
    assert "stringData" not in g.secret("s", "ns", {})


def test_to_yaml_renders_like_go_yaml() -> None:
    text = g.to_yaml([g.secret("s", "ns", {"password": "123", "b": "true", "e": "", "key": "a\nb\n"}),
                      g.git_repository("r", "ns", url=URL, semver=">=1.0.0 <2.0.0")])
    assert text.startswith("---\napiVersion: v1\nkind: Secret\n")
    assert '  password: "123"\n' in text
    assert '  b: "true"\n' in text
    assert '  e: ""\n' in text
    assert "  key: |\n    a\n    b\n" in text
    assert "\n\n---\napiVersion: source.toolkit.fluxcd.io/v1\n" in text
    assert text.endswith("url: https://github.com/stefanprodan/podinfo\n\n")
    documents = [doc for doc in yaml.safe_load_all(text) if doc]
    assert documents[1]["spec"]["ref"] == {"semver": ">=1.0.0 <2.0.0"}
    assert documents[0]["stringData"]["key"] == "a\nb\n"


@pytest.mark.parametrize(("text", "ref"), [
    ("podinfo", {"kind": "GitRepository", "name": "podinfo"}),
    ("gitrepo/podinfo", {"kind": "GitRepository", "name": "podinfo"}),
    ("gitrepository/podinfo.flux", {"kind": "GitRepository", "name": "podinfo", "namespace": "flux"}),
    ("OCIRepository/app", {"kind": "OCIRepository", "name": "app"}),
    ("ocirepo/app", {"kind": "OCIRepository", "name": "app"}),
    ("BUCKET/artifacts", {"kind": "Bucket", "name": "artifacts"}),
    ("ea/bundle", {"kind": "ExternalArtifact", "name": "bundle"}),
])
def test_source_kinds_resolve_as_kubectl(text: str, ref: dict[str, str]) -> None:
    assert g.parse_source(text) == ref


@pytest.mark.parametrize(("text", "check"), [
    ("Deployment/web.apps", {"kind": "Deployment", "name": "web", "namespace": "apps"}),
    ("deployment/web.apps", {"kind": "Deployment", "name": "web", "namespace": "apps"}),
    ("deploy/web.apps", {"kind": "Deployment", "name": "web", "namespace": "apps"}),
    ("sts/db.apps", {"kind": "StatefulSet", "name": "db", "namespace": "apps"}),
    ("daemonsets/agent.kube-system", {"kind": "DaemonSet", "name": "agent", "namespace": "kube-system"}),
    ("hr/redis.cache", {"kind": "HelmRelease", "name": "redis", "namespace": "cache",
                        "apiVersion": "helm.toolkit.fluxcd.io/v2"}),
    ("Kustomization/infra.flux-system", {"kind": "Kustomization", "name": "infra", "namespace": "flux-system",
                                         "apiVersion": "kustomize.toolkit.fluxcd.io/v1"}),
])
def test_health_check_kinds_resolve_as_kubectl(text: str, check: dict[str, str]) -> None:
    assert g.parse_health_check(text) == check
