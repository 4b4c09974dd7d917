"""The Helm engine on the real control plane, checked with the real `helm` CLI of the same version.

What headwater stores must be Helm's own releases: `helm list` and `helm history` read them, `helm
rollback` continues them, and a release `helm install` made is upgraded in place (its revision goes on).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from headwater.apply.cel_health import compile_health_checks
from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.helmtools import HelmTools
from headwater.helm.engine import EngineError, HelmEngine, KubeTarget
from headwater.runtime.kube import KubeClient
from tests.helm_charts import add_database, write_chart

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


class HelmCLI:
    def __init__(self, binary: Path, kubeconfig: Path, home: Path) -> None:
        self.binary, self.kubeconfig, self.home = binary, kubeconfig, home

    def run(self, *args: str) -> str:
        env = {"HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig), "PATH": "/usr/bin:/bin",
               "HELM_CACHE_HOME": str(self.home / "cache"), "HELM_CONFIG_HOME": str(self.home / "config"),
               "HELM_DATA_HOME": str(self.home / "data")}
        done = subprocess.run([str(self.binary), *args], capture_output=True, text=True, env=env, timeout=180)
        assert done.returncode == 0, f"helm {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json"))


@pytest.fixture
def helm(helm_tools: HelmTools, cluster_info: ClusterInfo, tmp_path: Path) -> HelmCLI:
    return HelmCLI(helm_tools.helm, cluster_info.kubeconfig, tmp_path / "helm-home")


def target(cluster_info: ClusterInfo, namespace: str, name: str, **extra: Any) -> dict[str, Any]:
    kube = KubeTarget(kubeconfig=cluster_info.kubeconfig.read_text())
    return {"kube": kube.as_params(), "namespace": namespace, "storage_namespace": namespace, "release_name": name,
            "timeout_seconds": 120, **extra}


async def test_releases_the_engine_makes_are_helms_own(
        engine: HelmEngine, helm: HelmCLI, cluster_info: ClusterInfo, kube: KubeClient, namespace: str,
        tmp_path: Path) -> None:
    chart = str(write_chart(tmp_path))
    installed = await engine.call("install", target(cluster_info, namespace, "web", chart=chart,
                                                    values={"greeting": "hi"}))
    assert (installed["status"], installed["version"], installed["chart_version"]) == ("deployed", 1, "0.1.0")
    assert installed["digest"].startswith("sha256:")
    config = await kube.get("v1", "ConfigMap", "web-config", namespace)
    assert config["data"] == {"greeting": "hi"}
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert any(c["type"] == "Available" and c["status"] == "True" for c in deployment["status"]["conditions"])
    secret = await kube.get("v1", "Secret", "sh.helm.release.v1.web.v1", namespace)
    assert secret["type"] == "helm.sh/release.v1"

    [listed] = helm.json("list", "-n", namespace)
    assert (listed["name"], listed["status"], listed["revision"]) == ("web", "deployed", "1")
    assert helm.json("get", "values", "web", "-n", namespace) == {"greeting": "hi"}

    upgraded = await engine.call("upgrade", target(cluster_info, namespace, "web", chart=chart,
                                                   values={"greeting": "hey"}, max_history=5))
    assert (upgraded["status"], upgraded["version"]) == ("deployed", 2)
    assert upgraded["config_digest"] != installed["config_digest"]
    assert [(h["revision"], h["status"]) for h in helm.json("history", "web", "-n", namespace)] == [
        (1, "superseded"), (2, "deployed")]

    rolled = await engine.call("rollback", target(cluster_info, namespace, "web", version=1))
    assert (rolled["status"], rolled["version"]) == ("deployed", 3)
    assert (await kube.get("v1", "ConfigMap", "web-config", namespace))["data"] == {"greeting": "hi"}

    # The CLI continues what the engine made (taking the fields over from the controller, as from Flux's).
    helm.run("rollback", "web", "2", "-n", namespace, "--wait", "--force-conflicts")
    history = await engine.call("history", target(cluster_info, namespace, "web"))
    assert [(r["version"], r["status"]) for r in history] == [
        (1, "superseded"), (2, "superseded"), (3, "superseded"), (4, "deployed")]
    assert (await kube.get("v1", "ConfigMap", "web-config", namespace))["data"] == {"greeting": "hey"}

    full = await engine.call("get", target(cluster_info, namespace, "web"))
    assert "kind: ConfigMap" in full["manifest"]
    assert full["config"] == {"greeting": "hey"}

    removed = await engine.call("uninstall", target(cluster_info, namespace, "web"))
    assert removed["release"]["status"] == "uninstalled"
    assert helm.json("list", "-n", namespace) == []
    with pytest.raises(EngineError) as missing:
        await engine.call("get", target(cluster_info, namespace, "web"))
    assert missing.value.kind == "ReleaseNotFound"


async def test_a_release_helm_installed_is_upgraded_in_place(
        engine: HelmEngine, helm: HelmCLI, cluster_info: ClusterInfo, kube: KubeClient, namespace: str,
        tmp_path: Path) -> None:
    chart = write_chart(tmp_path)
    helm.run("install", "adopted", str(chart), "-n", namespace, "--set", "greeting=from-cli", "--wait")
    upgraded = await engine.call("upgrade", target(cluster_info, namespace, "adopted", chart=str(chart),
                                                   values={"greeting": "from-headwater"}, force_conflicts=True))
    assert (upgraded["status"], upgraded["version"]) == ("deployed", 2)
    assert (await kube.get("v1", "ConfigMap", "adopted-config", namespace))["data"] == {"greeting": "from-headwater"}


async def test_post_renderers_and_a_failing_install_leave_a_failed_release(
        engine: HelmEngine, cluster_info: ClusterInfo, kube: KubeClient, namespace: str, tmp_path: Path) -> None:
    chart = str(write_chart(tmp_path))
    steps = [{"metadata": {"labels": {"helm.toolkit.fluxcd.io/name": "pr"}}},
             {"kustomize": {"patches": [{"target": {"kind": "ConfigMap"},
                                         "patch": '[{"op": "add", "path": "/data/extra", "value": "patched"}]'}],
                            "images": [{"name": "registry.example/greeter", "newTag": "2.0"}]}}]
    await engine.call("install", target(cluster_info, namespace, "pr", chart=chart, post_renderers=steps))
    config = await kube.get("v1", "ConfigMap", "pr-config", namespace)
    assert config["data"]["extra"] == "patched"
    assert config["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "pr"
    deployment = await kube.get("apps/v1", "Deployment", "pr", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/greeter:2.0"

    broken = write_chart(tmp_path / "broken")
    (broken / "templates" / "bad.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.deeper }}\n")
    with pytest.raises(EngineError) as failed:
        await engine.call("install", target(cluster_info, namespace, "broken", chart=str(broken)))
    assert failed.value.kind == "InstallFailed"
    assert "nil pointer evaluating interface {}.deeper" in failed.value.message


async def test_a_kind_defined_after_discovery_was_read_is_found_and_judged_by_the_controller(
        engine: HelmEngine, helm: HelmCLI, cluster_info: ClusterInfo, kube: KubeClient, namespace: str,
        tmp_path: Path, database_crd: Callable[[], Awaitable[str]]) -> None:
    # The engine reads discovery for the cluster, then a new kind appears (as another release's CRD would).
    await engine.call("install", target(cluster_info, namespace, "first", chart=str(write_chart(tmp_path / "a"))))
    group = await database_crd()
    chart = write_chart(tmp_path / "b")
    add_database(chart, group)
    checks = compile_health_checks([{"apiVersion": f"{group}/v1", "kind": "Database",
                                     "current": "status.phase == 'Ready'", "failed": "status.phase == 'Failed'"}])
    waiting = {"wait": "watcher", "health_checks": [{"group": group, "kind": "Database"}]}
    installed = await engine.call("install", target(cluster_info, namespace, "db", chart=str(chart),
                                                    values={"phase": "Ready"}, chart_version="0.1.0+0cc9a8446c95",
                                                    **waiting), health=checks)
    assert (installed["status"], installed["chart_version"]) == ("deployed", "0.1.0+0cc9a8446c95")
    [listed] = [entry for entry in helm.json("list", "-n", namespace) if entry["name"] == "db"]
    assert listed["chart"] == "greeter-0.1.0+0cc9a8446c95"

    # Failed as the controller judges it (kstatus alone calls an object without conditions Current).
    with pytest.raises(EngineError) as raised:
        await engine.call("upgrade", target(cluster_info, namespace, "db", chart=str(chart), values={"phase": "Failed"},
                                            timeout_seconds=60, **waiting), health=checks)
    assert raised.value.kind == "UpgradeFailed"
    assert f"resource Database/{namespace}/db-db not ready. status: Failed" in raised.value.message
    assert [h["status"] for h in helm.json("history", "db", "-n", namespace)] == ["deployed", "failed"]


async def test_a_request_with_a_client_of_its_own_releases_the_same(
        engine: HelmEngine, cluster_info: ClusterInfo, kube: KubeClient, namespace: str, tmp_path: Path) -> None:
    own = KubeTarget(kubeconfig=cluster_info.kubeconfig.read_text(), fresh=True)  # spec.persistentClient: false
    params = {**target(cluster_info, namespace, "solo", chart=str(write_chart(tmp_path)), values={"greeting": "own"}),
              "kube": own.as_params()}
    assert own.as_params()["fresh"] is True
    installed = await engine.call("install", params)
    assert (installed["status"], installed["version"]) == ("deployed", 1)
    assert (await kube.get("v1", "ConfigMap", "solo-config", namespace))["data"] == {"greeting": "own"}
