"""`headwater build helmrelease` and `diff helmrelease` against what the helm controller really released.

One release: the test chart (plus a Secret template) from an ExternalArtifact, values composed from
inline values and a Secret with `targetPath`, a post-renderer patch. The build must equal the manifest
Helm stored (`helm get manifest`), Secret values masked; the diff is empty for the live release and
shows a values change, with exit codes 0 and 1.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.helmtools import HelmTools
from headwater.runtime.kube import KubeClient
from headwater.runtime.manager import Manager
from tests.cluster.conftest import RunningSource
from tests.cluster.test_cli import headwater
from tests.cluster.test_helmrelease import HR_API, publish_chart, ready_with, until
from tests.helm_charts import write_chart

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PASSWORD = "hr-build-canary-7f3a"
SECRET_TEMPLATE = """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-creds
stringData:
  password: {{ .Values.password | quote }}
"""
PATCH = {"target": {"kind": "ConfigMap"},
         "patch": '[{"op": "add", "path": "/metadata/annotations", "value": {"patched": "yes"}}]'}


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def stored_manifest(tools: HelmTools, cluster: ClusterInfo, home: Path, namespace: str) -> list[dict[str, Any]]:
    done = subprocess.run([str(tools.helm), "get", "manifest", "web", "-n", namespace], capture_output=True,
                          text=True, timeout=120,
                          env={"HOME": str(home), "KUBECONFIG": str(cluster.kubeconfig), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return documents(done.stdout)


async def test_build_equals_the_stored_release_and_diff_shows_a_values_change(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        helm_tools: HelmTools, cluster_info: ClusterInfo, tmp_path: Path) -> None:
    chart = write_chart(tmp_path / "charts")
    (chart / "templates" / "secret.yaml").write_text(SECRET_TEMPLATE)
    await publish_chart(kube, source_controller, namespace, chart, 7)
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "overrides", "namespace": namespace},
                       "data": {"pw": base64.b64encode(PASSWORD.encode()).decode()}})
    await kube.create({"apiVersion": HR_API, "kind": "HelmRelease", "metadata": {"name": "web", "namespace": namespace},
                       "spec": {"interval": "10m", "chartRef": {"kind": "ExternalArtifact", "name": "chart"},
                                "values": {"greeting": "hi"},
                                "valuesFrom": [{"kind": "Secret", "name": "overrides", "valuesKey": "pw",
                                                "targetPath": "password"}],
                                "postRenderers": [{"kustomize": {"patches": [PATCH]}}]}})
    await until(kube, namespace, "installed", ready_with("InstallSucceeded"))

    built = await headwater(cluster_info.kubeconfig, "build", "helmrelease", "web", "-n", namespace, timeout=120)
    assert built.rc == 0, built.err
    assert PASSWORD not in built.out
    ours = {(d["kind"], d["metadata"]["name"]): d for d in documents(built.out)}
    helms = {(d["kind"], d["metadata"]["name"]): d for d in stored_manifest(helm_tools, cluster_info,
                                                                             tmp_path / "home", namespace)}
    assert set(ours) == set(helms) == {("ConfigMap", "web-config"), ("Deployment", "web"), ("Secret", "web-creds")}
    for key, theirs in helms.items():
        if key[0] == "Secret":
            assert ours[key]["stringData"] == {"password": "***"}
            assert theirs["stringData"] == {"password": PASSWORD}
            ours[key].pop("stringData")
            theirs.pop("stringData")
        theirs["metadata"].setdefault("namespace", namespace)
        ours[key]["metadata"].setdefault("namespace", namespace)
        assert ours[key] == theirs, key
    config = ours[("ConfigMap", "web-config")]
    assert config["data"] == {"greeting": "hi"}
    assert config["metadata"]["annotations"] == {"patched": "yes"}
    assert config["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"

    unchanged = await headwater(cluster_info.kubeconfig, "diff", "hr", "web", "-n", namespace, timeout=120)
    assert (unchanged.rc, unchanged.out) == (0, ""), unchanged.err

    values = tmp_path / "new-values.yaml"
    values.write_text("greeting: changed\npassword: another-secret-value\n")
    changed = await headwater(cluster_info.kubeconfig, "diff", "helmrelease", "web", "-n", namespace,
                              "--values", str(values), timeout=120)
    assert changed.rc == 1, changed.err
    assert f"► ConfigMap/{namespace}/web-config drifted" in changed.out
    assert "changed" in changed.out
    assert "another-secret-value" not in changed.out + changed.err
    assert PASSWORD not in changed.out + changed.err
    assert "Deployment" not in changed.out
    assert "identified at least one change" in changed.err

    local = await headwater(cluster_info.kubeconfig, "build", "hr", "web", "-n", namespace, "--path", str(chart),
                            "--values", str(values), timeout=120)
    assert local.rc == 0, local.err
    local_config = next(d for d in documents(local.out) if d["kind"] == "ConfigMap")
    assert local_config["data"] == {"greeting": "changed"}

    missing = await headwater(cluster_info.kubeconfig, "build", "hr", "nope", "-n", namespace, timeout=60)
    assert missing.rc == 1
    assert f"HelmRelease {namespace}/nope not found" in missing.err
    broken = await headwater(cluster_info.kubeconfig, "diff", "hr", "web", "-n", namespace, "--path",
                             str(tmp_path), timeout=60)
    assert broken.rc == 2
    assert "no Chart.yaml" in broken.err
