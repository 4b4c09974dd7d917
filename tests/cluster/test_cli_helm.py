"""The CLI's Helm nouns against the real control plane: HelmRepository, HelmChart and HelmRelease objects.

The CLI runs as a user runs it (a subprocess); the helm controller and its engine run in this process
for the commands that wait for a release. The HelmRepository and HelmChart objects that would need a
network fetch are labelled `headwater.dev/isolated-source` (the session's source controller, if another
test started it, leaves them alone), so the commands that wait for those are checked for their timeout
message, the rest (export, get, suspend, resume of a static OCI repository, delete) act on the objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.devcluster.cluster import ClusterInfo
from headwater.runtime.kube import KubeClient
from headwater.runtime.manager import Manager
from tests.cluster.conftest import RunningSource
from tests.cluster.test_cli_create import cli, one_error_line
from tests.cluster.test_helmrelease import HR_API, SRC_API, condition, publish_chart
from tests.helm_charts import write_chart
from tests.waiting import wait_for

ISOLATED = "headwater.dev/isolated-source=cli"  # left alone by the session-wide source controller
pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def rows(out: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("\t")] for line in out.splitlines()]


@pytest.mark.usefixtures("flux_crds")
async def test_helm_sources_created_exported_listed_suspended_and_deleted(
        kube: KubeClient, cluster_info: ClusterInfo, namespace: str) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    exported = await cli(kc, "create", "source", "helm", "charts", "--url=https://charts.example.com/stable",
                         "--interval=30m", "--label=team=a", "-n", ns, "--export")
    assert exported.rc == 0, exported.err
    assert exported.out == ("---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n"
                            f"  labels:\n    team: a\n  name: charts\n  namespace: {ns}\nspec:\n  interval: 30m0s\n"
                            "  url: https://charts.example.com/stable\n\n")
    assert await kube.get_or_none(SRC_API, "HelmRepository", "charts", ns) is None, "--export applies nothing"

    # Credentials go into helm-<name>, referenced by the source; no controller fetches the index here.
    created = await cli(kc, "create", "source", "helm", "charts", "--url=https://charts.example.com/stable",
                        "--interval=30m", "--label=team=a", f"--label={ISOLATED}", "-u", "reader", "-p", "s3cr3t",
                        "--pass-credentials", "-n", ns, "--timeout=3s")
    one_error_line(created, f"HelmRepository '{ns}/charts'")
    assert "s3cr3t" not in created.out + created.err
    assert "✔ authentication configured" in created.err
    stored = await kube.get(SRC_API, "HelmRepository", "charts", ns)
    assert stored["spec"] == {**yaml.safe_load(exported.out)["spec"], "secretRef": {"name": "helm-charts"},
                              "passCredentials": True, "provider": "generic"}  # the CRD's default
    secret = await kube.get("v1", "Secret", "helm-charts", ns)
    assert sorted(secret["data"]) == ["password", "username"]

    oci = await cli(kc, "create", "source", "helm", "registry", "--url=oci://registry.example.com/charts", "-n", ns)
    assert oci.rc == 0, oci.err
    assert oci.err.strip().endswith("✔ HelmRepository source reconciliation completed")

    chart = await cli(kc, "create", "source", "chart", "podinfo", "--source=HelmRepository/charts", "--chart=podinfo",
                      "--chart-version=6.x", f"--label={ISOLATED}", "-n", ns, "--timeout=2s")
    one_error_line(chart, f"HelmChart '{ns}/podinfo'")
    assert (await kube.get(SRC_API, "HelmChart", "podinfo", ns))["spec"]["version"] == "6.x"

    listed = await cli(kc, "get", "sources", "helm", "-n", ns)
    assert listed.rc == 0, listed.err
    assert rows(listed.out) == [["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"],
                                ["charts", "", "False", "False", "waiting to be reconciled"],
                                ["registry", "", "False", "True", "Helm repository is Ready"]]

    suspended = await cli(kc, "suspend", "source", "helm", "charts", "registry", "-n", ns)
    assert suspended.rc == 0, suspended.err
    assert [(await kube.get(SRC_API, "HelmRepository", n, ns))["spec"].get("suspend") for n in ("charts", "registry")] \
        == [True, True]
    resumed = await cli(kc, "resume", "source", "helm", "registry", "-n", ns, "--timeout=5s")
    assert resumed.rc == 0, resumed.err
    assert "✔ reconciliation not supported by the object" in resumed.err
    reconciled = await cli(kc, "reconcile", "source", "helm", "registry", "-n", ns)
    assert reconciled.rc == 0, reconciled.err

    exported_all = await cli(kc, "export", "source", "helm", "--all", "--with-credentials", "-n", ns)
    assert exported_all.rc == 0, exported_all.err
    documents = list(yaml.safe_load_all(exported_all.out))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [
        ("HelmRepository", "charts"), ("Secret", "helm-charts"), ("HelmRepository", "registry")]
    assert "status" not in documents[0]

    for args in (["source", "chart", "podinfo"], ["source", "helm", "charts"], ["source", "helm", "registry"]):
        deleted = await cli(kc, "delete", *args, "-n", ns, "--silent")
        assert deleted.rc == 0, deleted.err
    for kind, name in (("HelmChart", "podinfo"), ("HelmRepository", "charts"), ("HelmRepository", "registry")):
        assert await kube.get_or_none(SRC_API, kind, name, ns) is None


async def test_helm_release_lifecycle_through_the_cli(
        helm_controller: Manager, source_controller: RunningSource, kube: KubeClient, cluster_info: ClusterInfo,
        namespace: str, tmp_path: Path) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    await publish_chart(kube, source_controller, ns, write_chart(tmp_path / "charts"), 7)
    (tmp_path / "base.yaml").write_text("greeting: hi\nreplicas: 1\n")
    (tmp_path / "override.yaml").write_text("greeting: hey\n")
    args = ["create", "hr", "web", "--chart-ref=ExternalArtifact/chart", f"--values={tmp_path / 'base.yaml'}",
            f"--values={tmp_path / 'override.yaml'}", "--interval=10m", "-n", ns]
    exported = await cli(kc, *args, "--export")
    assert exported.rc == 0, exported.err
    assert exported.out == ("---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n"
                            f"  namespace: {ns}\nspec:\n  chartRef:\n    kind: ExternalArtifact\n    name: chart\n"
                            "  interval: 10m0s\n  values:\n    greeting: hey\n    replicas: 1\n\n")

    created = await cli(kc, *args, "--timeout=2m", timeout=150)
    assert created.rc == 0, created.err
    assert created.err.splitlines()[-2:] == ["✔ HelmRelease web is ready", "✔ applied revision 0.1.0"]
    assert (await kube.get("v1", "ConfigMap", "web-config", ns))["data"] == {"greeting": "hey"}
    stored = await kube.get(HR_API, "HelmRelease", "web", ns)
    assert stored["spec"] == yaml.safe_load(exported.out)["spec"]

    listed = await cli(kc, "get", "hr", "-n", ns, "--show-source")
    assert listed.rc == 0, listed.err
    [header, row] = rows(listed.out)
    assert header == ["NAME", "SOURCE", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    assert row[:5] == ["web", f"ExternalArtifact/{ns}/chart", "0.1.0", "False", "True"]
    assert row[5] == f"Helm install succeeded for release {ns}/web.v1 with chart greeter@0.1.0"

    forced = await cli(kc, "reconcile", "hr", "web", "--force", "--reset", "-n", ns, "--timeout=2m", timeout=150)
    assert forced.rc == 0, forced.err
    assert forced.err.strip().endswith("✔ applied revision 0.1.0")
    after = await kube.get(HR_API, "HelmRelease", "web", ns)
    annotations = after["metadata"]["annotations"]
    token = annotations["reconcile.fluxcd.io/requestedAt"]
    assert annotations["reconcile.fluxcd.io/forceAt"] == annotations["reconcile.fluxcd.io/resetAt"] == token
    assert (after["status"]["lastHandledForceAt"], after["status"]["lastHandledResetAt"]) == (token, token)
    assert [entry["version"] for entry in after["status"]["history"]] == [2, 1], "--force upgrades once"
    ready = condition(after, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "UpgradeSucceeded"), ready
    assert condition(after, "Reconciling") == {}, "a forced upgrade ends the reconcile, no second attempt"
    events = (await kube.list("v1", "Event", ns, field_selector="involvedObject.name=web"))["items"]
    assert [(e["type"], e["reason"]) for e in events if e["type"] == "Warning"] == [], "the forced upgrade never failed"

    suspended = await cli(kc, "suspend", "hr", "web", "-n", ns)
    assert suspended.rc == 0, suspended.err
    assert rows((await cli(kc, "get", "hr", "web", "-n", ns, "--no-header")).out)[0][2] == "True"
    resumed = await cli(kc, "resume", "hr", "web", "-n", ns, "--timeout=2m", timeout=150)
    assert resumed.rc == 0, resumed.err
    assert "✔ HelmRelease reconciliation completed" in resumed.err

    traced = await cli(kc, "trace", "configmap/web-config", "-n", ns)
    assert traced.rc == 0, traced.err
    assert traced.out.splitlines()[1:6] == [
        "Object:         ConfigMap/web-config", f"Namespace:      {ns}", "Status:         Managed by Flux", "---",
        "HelmRelease:    web"]
    values = await cli(kc, "debug", "hr", "web", "--show-values", "-n", ns)
    assert values.rc == 0, values.err
    assert values.out == "greeting: hey\nreplicas: 1\n"
    history = await cli(kc, "debug", "hr", "web", "--show-history", "-n", ns)
    assert [entry["version"] for entry in yaml.safe_load(history.out)] == [2, 1]

    export = await cli(kc, "export", "hr", "web", "-n", ns)
    assert export.rc == 0, export.err
    [document] = list(yaml.safe_load_all(export.out))
    assert set(document) == {"apiVersion", "kind", "metadata", "spec"}
    assert document["spec"] == {**stored["spec"], "suspend": False}

    deleted = await cli(kc, "delete", "hr", "web", "-n", ns, "--silent")
    assert deleted.rc == 0, deleted.err

    async def uninstalled() -> bool:
        return await kube.get_or_none(HR_API, "HelmRelease", "web", ns) is None and \
            await kube.get_or_none("v1", "ConfigMap", "web-config", ns) is None
    await wait_for(uninstalled, "release uninstalled and HelmRelease gone", timeout=60)


async def test_create_helmrelease_reports_a_failed_release(
        helm_controller: Manager, kube: KubeClient, cluster_info: ClusterInfo, namespace: str) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    failed = await cli(kc, "create", "hr", "broken", "--chart-ref=OCIRepository/absent", "-n", ns, "--timeout=20s")
    one_error_line(failed, "HelmRelease")
    obj: dict[str, Any] = await kube.get(HR_API, "HelmRelease", "broken", ns)
    assert condition(obj, "Ready").get("status") != "True"
