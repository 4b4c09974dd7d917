"""Kubeconfig resolution, impersonation headers, apiserver Status → exception mapping, resource paths."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.runtime.kube import errors
from headwater.runtime.kube.client import Resource, _watch_event
from headwater.runtime.kube.config import Impersonation, config_from_dict, load_kubeconfig
from headwater.runtime.kube.errors import ConfigError

pytestmark = pytest.mark.unit


def kubeconfig(**user: Any) -> dict[str, Any]:
    return {
        "current-context": "a",
        "contexts": [
            {"name": "a", "context": {"cluster": "c1", "user": "u1"}},
            {"name": "b", "context": {"cluster": "c2", "user": "u1", "namespace": "team"}},
        ],
        "clusters": [
            {"name": "c1", "cluster": {"server": "https://10.0.0.1:6443/",
                                       "certificate-authority-data": base64.b64encode(b"CA").decode()}},
            {"name": "c2", "cluster": {"server": "https://10.0.0.2:6443", "insecure-skip-tls-verify": True}},
        ],
        "users": [{"name": "u1", "user": user or {"token": "t0k3n"}}],
    }


def test_current_context_is_used_by_default() -> None:
    config = config_from_dict(kubeconfig())
    assert config.server == "https://10.0.0.1:6443"
    assert config.ca_data == b"CA"
    assert config.bearer_token() == "t0k3n"
    assert config.namespace == "default"


def test_named_context_overrides_and_carries_its_namespace() -> None:
    config = config_from_dict(kubeconfig(), "b")
    assert (config.server, config.insecure, config.namespace) == ("https://10.0.0.2:6443", True, "team")


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"exec": {"command": "aws"}}, "exec or auth-provider plugin"),
        ({"auth-provider": {"name": "gcp"}}, "exec or auth-provider plugin"),
        ({"client-certificate-data": "%%%"}, "not valid base64"),
        ({"client-key": "/nonexistent/key"}, "cannot read client-key file"),
    ],
)
def test_unusable_users_are_refused_clearly(user: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(kubeconfig(**user))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update({"current-context": ""}), "no current-context"),
        (lambda d: d.update({"current-context": "zzz"}), "no context named 'zzz'"),
        (lambda d: d["clusters"][0]["cluster"].pop("server"), "has no server"),
        (lambda d: d.update({"clusters": []}), "no cluster named 'c1'"),
    ],
)
def test_broken_kubeconfigs_name_what_is_wrong(mutate: Any, message: str) -> None:
    data = kubeconfig()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_token_file_is_reread_on_every_use(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    config = config_from_dict(kubeconfig(tokenFile=str(token)))
    assert config.bearer_token() == "first"
    token.write_text("rotated")
    assert config.bearer_token() == "rotated"


def test_relative_paths_resolve_against_the_kubeconfig_file(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"FILE-CA")
    data = kubeconfig()
    del data["clusters"][0]["cluster"]["certificate-authority-data"]
    data["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    (tmp_path / "config").write_text(yaml.safe_dump(data))
    assert load_kubeconfig(tmp_path / "config").ca_data == b"FILE-CA"


def test_missing_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no kubeconfig found"):
        load_kubeconfig(tmp_path / "absent")


def test_service_account_impersonation_headers() -> None:
    headers = Impersonation.service_account("apps", "deployer").headers()
    assert headers[0] == ("Impersonate-User", "system:serviceaccount:apps:deployer")
    assert ("Impersonate-Group", "system:serviceaccounts:apps") in headers


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (400, "BadRequest", errors.BadRequest),
        (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden),
        (404, "NotFound", errors.NotFound),
        (409, "AlreadyExists", errors.AlreadyExists),
        (409, "Conflict", errors.Conflict),
        (410, "Expired", errors.Gone),
        (422, "Invalid", errors.Invalid),
        (429, "TooManyRequests", errors.TooManyRequests),
        (500, "InternalError", errors.ServerError),
        (503, "ServiceUnavailable", errors.ServerError),
        (418, "", errors.ApiError),
    ],
)
def test_status_codes_map_to_exception_types(code: int, reason: str, expected: type[errors.ApiError]) -> None:
    err = errors.from_status(code, {"kind": "Status", "reason": reason, "message": "the apiserver said so"})
    assert type(err) is expected
    assert (err.status, err.reason, str(err)) == (code, reason, "the apiserver said so")


def test_status_without_body_falls_back_to_the_code() -> None:
    assert str(errors.from_status(502, None)) == "HTTP 502"


def test_watch_error_event_410_raises_gone() -> None:
    with pytest.raises(errors.Gone):
        _watch_event({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}})
    assert _watch_event({"type": "ADDED", "object": {}})["type"] == "ADDED"


@pytest.mark.parametrize(
    ("resource", "args", "path"),
    [
        (Resource("", "v1", "Pod", "pods", True), ("ns", "p", None), "/api/v1/namespaces/ns/pods/p"),
        (Resource("", "v1", "Node", "nodes", False), ("ns", "n1", None), "/api/v1/nodes/n1"),
        (Resource("apps", "v1", "Deployment", "deployments", True), ("ns", None, None),
         "/apis/apps/v1/namespaces/ns/deployments"),
        (Resource("apps", "v1", "Deployment", "deployments", True), (None, None, None), "/apis/apps/v1/deployments"),
        (Resource("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", True),
         ("flux-system", "podinfo", "status"),
         "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/podinfo/status"),
    ],
)
def test_resource_paths(resource: Resource, args: tuple[str | None, str | None, str | None], path: str) -> None:
    assert resource.path(*args) == path
