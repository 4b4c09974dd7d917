"""`headwater debug helmrelease --show-values`: the values the helm controller would install with.

The values are composed by the real Helm engine from `spec.valuesFrom` (read from an in-memory
apiserver) and `spec.values`, so the CLI shows exactly the controller's result, printed as go-yaml
prints it.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from click.testing import CliRunner

from headwater.api.kinds import HELM_RELEASE
from headwater.cli.main import cli
from headwater.devcluster.helmtools import HelmTools
from headwater.testing.fakekube import FakeKube

pytestmark = pytest.mark.integration

NS = "apps"


class Cluster(FakeKube):
    timeout = 30.0


def release(values_from: list[dict[str, Any]], values: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"interval": "5m", "chartRef": {"kind": "OCIRepository", "name": "podinfo"},
                            "valuesFrom": values_from}
    if values is not None:
        spec["values"] = values
    return {"apiVersion": HELM_RELEASE.api_version, "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": NS}, "spec": spec}


def objects() -> list[dict[str, Any]]:
    token = base64.b64encode(b"s3cr3t").decode()
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "defaults", "namespace": NS},
         "data": {"values.yaml": "image:\n  repository: ghcr.io/podinfo\nreplicaCount: 1\nitem10: a\nitem9: b\n"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth", "namespace": NS},
         "data": {"token": token}},
    ]


@pytest.mark.parametrize(("hr", "text"), [
    (release([{"kind": "ConfigMap", "name": "defaults"},
              {"kind": "Secret", "name": "auth", "valuesKey": "token", "targetPath": "auth.token"}],
             {"replicaCount": 2, "image": {"tag": "6.5.4"}}),
     "auth:\n  token: s3cr3t\nimage:\n  repository: ghcr.io/podinfo\n  tag: 6.5.4\nitem9: b\nitem10: a\n"
     "replicaCount: 2\n"),
    (release([{"kind": "ConfigMap", "name": "missing", "optional": True}]), "{}\n"),
])
def test_show_values_composes_as_the_controller(monkeypatch: pytest.MonkeyPatch, helm_tools: HelmTools,
                                                hr: dict[str, Any], text: str) -> None:
    import headwater.runtime.kube as kube

    fake = Cluster()
    for obj in [*objects(), hr]:
        fake.server.put(obj)
    monkeypatch.setattr(kube, "connect", lambda *args, **kwargs: fake)
    monkeypatch.setenv("HEADWATER_HELM_ENGINE", str(helm_tools.engine))
    result = CliRunner().invoke(cli, ["debug", "hr", "podinfo", "-n", NS, "--show-values"])
    assert result.exit_code == 0, result.output
    assert result.stdout == text


def test_show_values_names_an_unresolvable_reference(monkeypatch: pytest.MonkeyPatch, helm_tools: HelmTools) -> None:
    import headwater.runtime.kube as kube

    fake = Cluster()
    for obj in [*objects(), release([{"kind": "Secret", "name": "gone"}])]:
        fake.server.put(obj)
    monkeypatch.setattr(kube, "connect", lambda *args, **kwargs: fake)
    monkeypatch.setenv("HEADWATER_HELM_ENGINE", str(helm_tools.engine))
    result = CliRunner().invoke(cli, ["debug", "hr", "podinfo", "-n", NS, "--show-values"])
    assert result.exit_code == 1
    assert result.output.strip() == ("✗ could not resolve Secret chart values reference 'apps/gone' with key "
                                     "'values.yaml': resource not found")
