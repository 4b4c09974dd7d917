"""Which Secret key holds a remote cluster's kubeconfig, and how a bad one is reported."""

from __future__ import annotations

import base64

import pytest

from headwater.runtime.kube.errors import ConfigError
from headwater.runtime.kube.remote import kubeconfig_from_secret

pytestmark = pytest.mark.unit


def secret(**data: str) -> dict[str, object]:
    return {"metadata": {"name": "prod-kubeconfig", "namespace": "flux-system"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        ({"value": "A"}, None, b"A"),
        ({"value.yaml": "B"}, None, b"B"),  # Cluster API's <cluster>-kubeconfig Secrets
        ({"value": "A", "value.yaml": "B"}, None, b"A"),  # `value` wins, as in Flux
        ({"custom": "C", "value": "A"}, "custom", b"C"),
    ],
)
def test_kubeconfig_key_selection(data: dict[str, str], key: str | None, expected: bytes) -> None:
    assert kubeconfig_from_secret(secret(**data), key) == expected


def test_missing_key_names_the_secret_and_the_keys() -> None:
    with pytest.raises(ConfigError) as missing:
        kubeconfig_from_secret(secret(other="x"))
    expected = "Secret flux-system/prod-kubeconfig has no kubeconfig under key 'value' or 'value.yaml'"
    assert str(missing.value) == expected


def test_invalid_base64_is_reported_without_the_content() -> None:
    broken = {"metadata": {"name": "s", "namespace": "n"}, "data": {"value": "not*base64!"}}
    with pytest.raises(ConfigError, match="key 'value' is not valid base64") as bad:
        kubeconfig_from_secret(broken)
    assert "not*base64" not in str(bad.value)


async def test_each_remote_cluster_gets_a_bucket_of_its_own() -> None:
    from headwater.runtime.kube import HttpKubeClient
    from headwater.runtime.kube.remote import RemoteClients

    def kubeconfig(server: str) -> str:
        return ("apiVersion: v1\nkind: Config\ncurrent-context: x\n"
                f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
                "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n")

    clients = RemoteClients(qps=5.0, burst=8)
    first = await clients.for_secret(secret(value=kubeconfig("http://127.0.0.1:1")))
    second = await clients.for_secret(secret(value=kubeconfig("http://127.0.0.1:2")))
    assert isinstance(first, HttpKubeClient)
    assert isinstance(second, HttpKubeClient)
    assert first.rate_limiter is not None
    assert second.rate_limiter is not None
    assert first.rate_limiter is not second.rate_limiter
    assert (first.rate_limiter.qps, first.rate_limiter.burst) == (5.0, 8)
    assert (await RemoteClients().for_secret(secret(value=kubeconfig("http://127.0.0.1:1")))).rate_limiter is None
    await clients.close()
