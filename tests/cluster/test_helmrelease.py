"""HelmRelease on the real control plane: the helm controller and its engine, checked with the helm CLI.

The chart comes as an ExternalArtifact (the artifact contract any producer can fill), published on
the session source controller's artifact server; the HelmChart path is the source side's own tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from headwater.artifact.storage import ObjectRef
from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.helmtools import HelmTools
from headwater.runtime.kube import KubeClient
from headwater.runtime.manager import Manager
from tests.cluster.conftest import RunningSource
from tests.helm_charts import add_database, write_chart
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

HR_API = "helm.toolkit.fluxcd.io/v2"
SRC_API = "source.toolkit.fluxcd.io/v1"


async def publish_chart(kube: KubeClient, source: RunningSource, namespace: str, chart: Path, serial: int) -> None:
    """An ExternalArtifact `chart` in `namespace` whose artifact is `chart` (packaged as a tarball)."""
    ref = ObjectRef("ExternalArtifact", namespace, "chart")
    artifact = source.store.new_artifact(ref, f"0.1.0@sha256:{serial:064x}", f"chart-{serial}.tar.gz")
    stored = source.store.archive(artifact, chart).to_dict()
    existing = await kube.get_or_none(SRC_API, "ExternalArtifact", "chart", namespace)
    if existing is None:
        existing = await kube.create({"apiVersion": SRC_API, "kind": "ExternalArtifact",
                                      "metadata": {"name": "chart", "namespace": namespace}, "spec": {}})
    now = "2026-01-01T00:00:00Z"
    await kube.patch_status(existing, {"artifact": stored, "conditions": [
        {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok", "lastTransitionTime": now}]})


def helm_json(tools: HelmTools, cluster: ClusterInfo, home: Path, *args: str) -> Any:
    done = subprocess.run([str(tools.helm), *args, "-o", "json"], capture_output=True, text=True, timeout=120,
                          env={"HOME": str(home), "KUBECONFIG": str(cluster.kubeconfig), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


async def release(kube: KubeClient, namespace: str, spec: dict[str, Any], name: str = "web") -> None:
    await kube.create({"apiVersion": HR_API, "kind": "HelmRelease", "metadata": {"name": name, "namespace": namespace},
                       "spec": {"interval": "10m", "chartRef": {"kind": "ExternalArtifact", "name": "chart"}, **spec}})


async def until(kube: KubeClient, namespace: str, what: str, check: Any, timeout: float = 90) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await kube.get_or_none(HR_API, "HelmRelease", "web", namespace)
        return obj if obj is not None and check(obj) else None
    found: dict[str, Any] = await wait_for(probe, what, timeout=timeout)
    return found


def ready_with(reason: str, generation: int | None = None) -> Any:
    def check(obj: dict[str, Any]) -> bool:
        ready = condition(obj, "Ready")
        fresh = generation is None or obj["status"].get("observedGeneration") == generation
        return bool(ready.get("status") == "True" and ready.get("reason") == reason and fresh)
    return check


async def test_install_upgrade_remediate_stall_reset_and_uninstall(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        helm_tools: HelmTools, cluster_info: ClusterInfo, tmp_path: Path) -> None:
    chart = write_chart(tmp_path / "charts")
    (chart / "templates" / "extra.yaml").write_text(
        "{{- if .Values.badKey }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-bad\n"
        "data:\n  'not a valid key!': x\n{{- end }}\n")
    await publish_chart(kube, source_controller, namespace, chart, 1)
    await release(kube, namespace, {"values": {"greeting": "hi"},
                                    "upgrade": {"remediation": {"retries": 1}}})

    installed = await until(kube, namespace, "installed", ready_with("InstallSucceeded"))
    [snapshot] = installed["status"]["history"]
    assert (snapshot["version"], snapshot["status"], snapshot["chartName"]) == (1, "deployed", "greeter")
    assert condition(installed, "Released")["message"] == (
        f"Helm install succeeded for release {namespace}/web.v1 with chart greeter@0.1.0")
    ids = [entry["id"] for entry in installed["status"]["inventory"]["entries"]]
    assert ids == [f"{namespace}_web-config__ConfigMap", f"{namespace}_web_apps_Deployment"]
    config = await kube.get("v1", "ConfigMap", "web-config", namespace)
    assert config["data"] == {"greeting": "hi"}
    assert config["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"
    home = tmp_path / "helm-home"
    [listed] = helm_json(helm_tools, cluster_info, home, "list", "-n", namespace)
    assert (listed["name"], listed["status"], listed["revision"]) == ("web", "deployed", "1")

    await kube.patch(HR_API, "HelmRelease", "web", namespace=namespace, patch={"spec": {"values": {"greeting": "hey"}}})
    upgraded = await until(kube, namespace, "upgraded", ready_with("UpgradeSucceeded", generation=2))
    assert [s["version"] for s in upgraded["status"]["history"]] == [2, 1]
    assert (await kube.get("v1", "ConfigMap", "web-config", namespace))["data"] == {"greeting": "hey"}

    # An upgrade the apiserver refuses stores a failed release: rolled back, tried again, rolled back, stalled.
    await kube.patch(HR_API, "HelmRelease", "web", namespace=namespace, patch={"spec": {"values": {"greeting": "hey",
                                                                                    "badKey": True}}})
    stalled = await until(kube, namespace, "stalled", lambda o: condition(o, "Stalled").get("status") == "True",
                          timeout=120)
    assert condition(stalled, "Stalled")["reason"] == "RetriesExceeded"
    assert stalled["status"]["upgradeFailures"] == 2
    assert condition(stalled, "Remediated")["reason"] == "RollbackSucceeded"
    history = helm_json(helm_tools, cluster_info, home, "history", "web", "-n", namespace)
    assert [h["status"] for h in history][-1] == "deployed"
    assert "rollback" in history[-1]["description"].lower()
    assert (await kube.get("v1", "ConfigMap", "web-config", namespace))["data"] == {"greeting": "hey"}

    # Fixed values: the failure counters reset with the new digest, and the upgrade goes through.
    await kube.patch(HR_API, "HelmRelease", "web", namespace=namespace, patch={"spec": {"values": {"greeting": "fixed",
                                                                                                 "badKey": None}}})
    fixed = await until(kube, namespace, "upgraded after the fix", ready_with("UpgradeSucceeded", generation=4))
    assert "upgradeFailures" not in fixed["status"]
    assert (await kube.get("v1", "ConfigMap", "web-config", namespace))["data"] == {"greeting": "fixed"}

    await kube.delete(HR_API, "HelmRelease", "web", namespace)

    async def uninstalled() -> bool:
        return helm_json(helm_tools, cluster_info, home, "list", "-n", namespace) == [] and \
            await kube.get_or_none(HR_API, "HelmRelease", "web", namespace) is None
    await wait_for(uninstalled, "release uninstalled and HelmRelease gone", timeout=60)


async def test_values_from_a_secret_with_target_path_and_a_new_chart_artifact(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        tmp_path: Path) -> None:
    chart = write_chart(tmp_path / "charts")
    await publish_chart(kube, source_controller, namespace, chart, 2)
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "greeting", "namespace": namespace},
                       "stringData": {"word": "from-a-secret"}})
    await release(kube, namespace, {"valuesFrom": [{"kind": "Secret", "name": "greeting", "valuesKey": "word",
                                                    "targetPath": "greeting"}]})
    await until(kube, namespace, "installed", ready_with("InstallSucceeded"))
    assert (await kube.get("v1", "ConfigMap", "web-config", namespace))["data"] == {"greeting": "from-a-secret"}

    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: greeter\nversion: 0.2.0\nappVersion: '1.0'\n")
    await publish_chart(kube, source_controller, namespace, chart, 3)
    upgraded = await until(kube, namespace, "upgraded to 0.2.0", lambda o: ready_with("UpgradeSucceeded")(o) and
                           o["status"]["history"][0]["chartVersion"] == "0.2.0")
    assert upgraded["status"]["lastAttemptedRevision"] == "0.2.0"


async def test_a_missing_values_reference_is_reported_and_nothing_is_installed(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        tmp_path: Path) -> None:
    await publish_chart(kube, source_controller, namespace, write_chart(tmp_path / "charts"), 4)
    await release(kube, namespace, {"valuesFrom": [{"kind": "ConfigMap", "name": "absent"}]})
    failed = await until(kube, namespace, "values failure", lambda o: condition(o, "Ready").get("status") == "False")
    assert condition(failed, "Ready")["reason"] == "InitFailed"
    assert condition(failed, "Ready")["message"] == (
        f"could not resolve ConfigMap chart values reference '{namespace}/absent' with key 'values.yaml': "
        "resource not found")
    await asyncio.sleep(1)
    assert await kube.get_or_none("v1", "Secret", "sh.helm.release.v1.web.v1", namespace) is None



async def test_a_chart_that_does_not_render_and_a_missing_values_key_apply_nothing(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        tmp_path: Path) -> None:
    chart = write_chart(tmp_path / "charts")
    (chart / "templates" / "bad.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.deeper }}\n")
    await publish_chart(kube, source_controller, namespace, chart, 9)
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tuning", "namespace": namespace},
                       "data": {"other.yaml": "greeting: hey\n"}})
    await release(kube, namespace, {"valuesFrom": [{"kind": "ConfigMap", "name": "tuning", "valuesKey": "web.yaml"}]})
    missing = await until(kube, namespace, "values key failure",
                          lambda o: condition(o, "Ready").get("status") == "False")
    assert (condition(missing, "Ready")["reason"], condition(missing, "Ready")["message"]) == (
        "InitFailed", f"could not resolve ConfigMap chart values reference '{namespace}/tuning' with key 'web.yaml': "
                      "key not found")

    await kube.patch(HR_API, "HelmRelease", "web", {"spec": {"valuesFrom": None}}, namespace=namespace)
    broken = await until(kube, namespace, "render failure", lambda o: condition(o, "Ready").get("reason") ==
                         "InstallFailed")
    message = condition(broken, "Ready")["message"]
    assert message.startswith(f"Helm install failed for release {namespace}/web with chart greeter@0.1.0: "), message
    assert "bad.yaml" in message
    assert "nil pointer evaluating interface {}.deeper" in message
    assert condition(broken, "Released")["status"] == "False"
    for kind, api, name in (("ConfigMap", "v1", "web-config"), ("Deployment", "apps/v1", "web")):
        assert await kube.get_or_none(api, kind, name, namespace) is None, f"{kind} {name} applied by a failed render"
    events = (await kube.list("v1", "Event", namespace, field_selector="involvedObject.name=web"))["items"]
    assert any(e["type"] == "Warning" and e["reason"] == "InstallFailed" for e in events)

async def test_tests_run_after_the_install_and_are_recorded_in_the_history(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        tmp_path: Path) -> None:
    chart = write_chart(tmp_path / "charts")
    (chart / "templates" / "test.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-smoke\n"
        "  annotations: {helm.sh/hook: test}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n"
        "      containers: [{name: smoke, image: registry.example/smoke:1}]\n")
    await publish_chart(kube, source_controller, namespace, chart, 5)
    await release(kube, namespace, {"test": {"enable": True}})
    tested = await until(kube, namespace, "tested", ready_with("TestSucceeded"))
    assert condition(tested, "TestSuccess")["message"] == (
        f"Helm test succeeded for release {namespace}/web.v1 with chart greeter@0.1.0: "
        "1 test hooks completed successfully")
    hooks = tested["status"]["history"][0]["testHooks"]
    assert list(hooks) == ["web-smoke"]
    assert hooks["web-smoke"]["phase"] == "Succeeded"
    assert condition(tested, "Released")["reason"] == "InstallSucceeded"


async def request_reconcile(kube: KubeClient, namespace: str, token: str) -> None:
    await kube.patch(HR_API, "HelmRelease", "web", namespace=namespace, patch={
        "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}})


@pytest.mark.parametrize("mode", ["enabled", "warn"])
async def test_drift_is_corrected_when_enabled_and_only_reported_with_warn(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        tmp_path: Path, mode: str) -> None:
    await publish_chart(kube, source_controller, namespace, write_chart(tmp_path / "charts"), 6)
    await release(kube, namespace, {"values": {"greeting": "hi"}, "driftDetection": {"mode": mode}})
    installed = await until(kube, namespace, "installed", ready_with("InstallSucceeded"))
    assert condition(installed, "Drifted")["reason"] == "NoDriftDetected", condition(installed, "Drifted")
    # A user edits a release object by hand, as `kubectl edit` would.
    await kube.patch("v1", "ConfigMap", "web-config", namespace=namespace, patch={"data": {"greeting": "edited"}},
                     field_manager="kubectl-edit")
    await request_reconcile(kube, namespace, "drift-1")
    handled = await until(kube, namespace, "the drift handled",
                          lambda o: o["status"].get("lastHandledReconcileAt") == "drift-1")
    data = (await kube.get("v1", "ConfigMap", "web-config", namespace))["data"]
    events = await kube.list("v1", "Event", namespace=namespace)
    reasons = {e["reason"] for e in events["items"] if e["involvedObject"]["name"] == "web"}
    assert "DriftDetected" in reasons
    if mode == "enabled":
        assert data == {"greeting": "hi"}
        assert "DriftCorrected" in reasons
        assert condition(handled, "Drifted")["status"] == "False"
    else:
        assert data == {"greeting": "edited"}
        assert condition(handled, "Drifted")["status"] == "True"
        assert "ConfigMap/" + namespace + "/web-config changed" in condition(handled, "Drifted")["message"]
    assert condition(handled, "Ready")["status"] == "True"


async def test_a_new_target_namespace_moves_the_release(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        tmp_path: Path) -> None:
    await publish_chart(kube, source_controller, namespace, write_chart(tmp_path / "charts"), 7)
    await release(kube, namespace, {})
    await until(kube, namespace, "installed", ready_with("InstallSucceeded"))
    other = f"{namespace[:50]}-b"
    await kube.patch(HR_API, "HelmRelease", "web", namespace=namespace,
                     patch={"spec": {"targetNamespace": other, "install": {"createNamespace": True}}})
    moved = await until(kube, namespace, "installed in the new namespace", ready_with("InstallSucceeded", 2))
    assert [(s["name"], s["namespace"], s["version"]) for s in moved["status"]["history"]] == [
        (f"{other}-web", other, 1)]
    assert await kube.get_or_none("v1", "ConfigMap", "web-config", namespace) is None
    assert await kube.get_or_none("v1", "ConfigMap", f"{other}-web-config", other) is not None
    await kube.delete(HR_API, "HelmRelease", "web", namespace)

    async def gone() -> bool:
        return await kube.get_or_none(HR_API, "HelmRelease", "web", namespace) is None
    await wait_for(gone, "the HelmRelease uninstalled and deleted", timeout=60)
    await kube.delete("v1", "Namespace", other)


async def test_health_check_expressions_judge_a_custom_kind_and_common_metadata_upgrades(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        helm_tools: HelmTools, cluster_info: ClusterInfo, tmp_path: Path,
        database_crd: Callable[[], Awaitable[str]]) -> None:
    group = await database_crd()
    chart = write_chart(tmp_path / "charts")
    add_database(chart, group)
    await publish_chart(kube, source_controller, namespace, chart, 1)
    await release(kube, namespace, {
        "values": {"phase": "Ready"}, "timeout": "40s", "upgrade": {"remediation": {"retries": 1}},
        "healthCheckExprs": [{"apiVersion": f"{group}/v1", "kind": "Database",
                              "inProgress": "status.phase == 'Provisioning'",
                              "failed": "status.phase == 'Failed'", "current": "status.phase == 'Ready'"}]})

    installed = await until(kube, namespace, "installed", ready_with("InstallSucceeded"))
    status = installed["status"]
    assert status["lastAttemptedReleaseAction"] == "install"
    assert re.fullmatch(r"(\d+m)?\d+(\.\d+)?(s|ms)", status["lastAttemptedReleaseActionDuration"])
    assert "observedCommonMetadataDigest" not in status
    assert "lastAttemptedRevisionDigest" not in status  # an ExternalArtifact chart carries no OCI digest
    assert "ociDigest" not in status["history"][0]

    # commonMetadata alone (same chart, same values) makes an upgrade, and its digest is observed.
    await kube.patch(HR_API, "HelmRelease", "web", namespace=namespace,
                     patch={"spec": {"commonMetadata": {"labels": {"team": "storage"}}}})
    labelled = await until(kube, namespace, "upgraded for commonMetadata", ready_with("UpgradeSucceeded", 2))
    assert labelled["status"]["observedCommonMetadataDigest"].startswith("sha256:")
    database = await kube.get(f"{group}/v1", "Database", "web-db", namespace)
    assert database["metadata"]["labels"]["team"] == "storage"

    # The object turns Failed: Helm's wait ends with it, the release is failed and rolled back, as a failed wait.
    await kube.patch(HR_API, "HelmRelease", "web", namespace=namespace, patch={"spec": {"values": {"phase": "Failed"}}})
    remediated = await until(kube, namespace, "rolled back",
                             lambda o: condition(o, "Remediated").get("reason") == "RollbackSucceeded", timeout=120)
    released = condition(remediated, "Released")
    assert (released["status"], released["reason"]) == ("False", "UpgradeFailed")
    assert f"Database/{namespace}/web-db not ready" in released["message"]
    assert "status: Failed" in released["message"]
    home = tmp_path / "helm-home"
    history = helm_json(helm_tools, cluster_info, home, "history", "web", "-n", namespace)
    assert "failed" in [entry["status"] for entry in history]
    assert (await kube.get(f"{group}/v1", "Database", "web-db", namespace))["status"]["phase"] == "Ready"


async def publish_oci_chart(kube: KubeClient, source: RunningSource, namespace: str, chart: Path, digest: str) -> None:
    """An OCIRepository `chart` whose artifact is `chart`, as if pulled as `0.1.0@<digest>` (labelled so the
    session's source controller leaves it alone: nothing is pulled)."""
    ref = ObjectRef("OCIRepository", namespace, "chart")
    artifact = source.store.new_artifact(ref, f"0.1.0@{digest}", f"chart-{digest[7:19]}.tar.gz")
    stored = source.store.archive(artifact, chart).to_dict()
    existing = await kube.get_or_none(SRC_API, "OCIRepository", "chart", namespace)
    if existing is None:
        existing = await kube.create({
            "apiVersion": SRC_API, "kind": "OCIRepository",
            "metadata": {"name": "chart", "namespace": namespace,
                         "labels": {"headwater.dev/isolated-source": "helmrelease-test"}},
            "spec": {"url": "oci://registry.invalid/charts/greeter", "interval": "10m", "ref": {"tag": "0.1.0"}}})
    now = "2026-01-01T00:00:00Z"
    await kube.patch_status(existing, {"artifact": stored, "conditions": [
        {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok", "lastTransitionTime": now}]})


async def test_an_oci_chart_pushed_again_under_the_same_version_is_upgraded(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        helm_tools: HelmTools, cluster_info: ClusterInfo, tmp_path: Path) -> None:
    first, second = f"sha256:{'ab' * 32}", f"sha256:{'cd' * 32}"
    chart = write_chart(tmp_path / "charts")
    await publish_oci_chart(kube, source_controller, namespace, chart, first)
    await release(kube, namespace, {"chartRef": {"kind": "OCIRepository", "name": "chart"}})

    installed = await until(kube, namespace, "installed", ready_with("InstallSucceeded"))
    status = installed["status"]
    assert (status["lastAttemptedRevision"], status["lastAttemptedRevisionDigest"]) == ("0.1.0+abababababab", first)
    [snapshot] = status["history"]
    assert (snapshot["chartVersion"], snapshot["ociDigest"]) == ("0.1.0+abababababab", first)
    home = tmp_path / "helm-home"
    [listed] = helm_json(helm_tools, cluster_info, home, "list", "-n", namespace)
    assert listed["chart"] == "greeter-0.1.0+abababababab"

    await publish_oci_chart(kube, source_controller, namespace, chart, second)
    upgraded = await until(kube, namespace, "upgraded to the re-pushed chart",
                           lambda o: o["status"].get("lastAttemptedRevisionDigest") == second
                           and ready_with("UpgradeSucceeded")(o))
    assert [(s["chartVersion"], s.get("ociDigest")) for s in upgraded["status"]["history"]] == [
        ("0.1.0+cdcdcdcdcdcd", second), ("0.1.0+abababababab", first)]


async def test_a_dependency_is_ready_when_its_ready_expr_says_so(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, namespace: str,
        tmp_path: Path) -> None:
    await publish_chart(kube, source_controller, namespace, write_chart(tmp_path / "charts"), 1)
    await release(kube, namespace, {"values": {"greeting": "v1"}}, name="backend")
    await release(kube, namespace, {"values": {"greeting": "v2"}, "dependsOn": [
        {"name": "backend", "readyExpr": "dep.spec.values.greeting == self.spec.values.greeting && "
                                         "dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"}]},
                  name="frontend")

    async def frontend(check: Any) -> dict[str, Any] | None:
        obj = await kube.get_or_none(HR_API, "HelmRelease", "frontend", namespace)
        return obj if obj is not None and check(obj) else None

    def waiting(obj: dict[str, Any]) -> bool:
        return condition(obj, "Ready").get("reason") == "DependencyNotReady"
    blocked = await wait_for(lambda: frontend(waiting), "frontend waiting for its dependency")
    assert condition(blocked, "Ready")["message"] == f"dependency '{namespace}/backend' is not ready (readyExpr)"
    assert "history" not in blocked["status"]

    await kube.patch(HR_API, "HelmRelease", "backend", namespace=namespace,
                     patch={"spec": {"values": {"greeting": "v2"}}})
    installed = await wait_for(lambda: frontend(ready_with("InstallSucceeded")), "frontend installed", timeout=90)
    assert installed["status"]["history"][0]["status"] == "deployed"
