"""The Helm nouns of every verb, on the in-memory apiserver (`headwater.testing.fakekube`).

A status hook stands in for the controllers: an object carrying a new `reconcile.fluxcd.io/requestedAt`
is marked handled and Ready, as the source and helm controllers would. The tables are what flux prints
for the same objects (columns, revisions, messages, annotations, order of reconciliation). trace
resolves kinds through discovery, which only the CLI's own stand-in (`fake_cluster`) serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from headwater.api.kinds import HELM_CHART, HELM_RELEASE, HELM_REPOSITORY, OCI_REPOSITORY
from headwater.cli.main import cli
from headwater.testing.fakekube import FakeKube
from tests.unit.cli.fake_cluster import FakeCluster, use

pytestmark = pytest.mark.unit

NS = "flux-system"
DIGEST = "sha256:" + "ab" * 32


class Cluster(FakeKube):
    timeout = 30.0


def answer_reconcile_requests(obj: dict[str, Any]) -> Mapping[str, Any] | None:
    token = ((obj.get("metadata") or {}).get("annotations") or {}).get("reconcile.fluxcd.io/requestedAt")
    status = dict(obj.get("status") or {})
    if not token or status.get("lastHandledReconcileAt") == token:
        return None
    status["lastHandledReconcileAt"] = token
    status["observedGeneration"] = obj["metadata"].get("generation")
    status["conditions"] = [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok",
                             "lastTransitionTime": "2024-05-01T12:00:00Z"}]
    return status


def cluster(*objects: dict[str, Any]) -> Cluster:
    fake = Cluster()
    for kind in (HELM_REPOSITORY, HELM_CHART, HELM_RELEASE, OCI_REPOSITORY):
        fake.server.status_hook(kind.api_version, kind.kind, answer_reconcile_requests)
    fake.server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for obj in objects:
        fake.server.put(obj)
    return fake


def ready(message: str, status: str = "True") -> list[dict[str, str]]:
    return [{"type": "Ready", "status": status, "reason": "Succeeded", "message": message,
             "lastTransitionTime": "2024-05-01T12:00:00Z"}]


def helm_repository(name: str = "podinfo", url: str = "https://charts.example.com", **spec: Any) -> dict[str, Any]:
    status = {} if url.startswith("oci://") else {
        "artifact": {"revision": DIGEST, "digest": DIGEST, "path": "x", "url": "http://x", "lastUpdateTime": "t"},
        "conditions": ready(f"stored artifact: revision '{DIGEST}'")}
    return {"apiVersion": HELM_REPOSITORY.api_version, "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"url": url, "interval": "10m", **({"type": "oci"} if url.startswith("oci://") else {}), **spec},
            "status": status}


def helm_chart(name: str = f"{NS}-podinfo", source: str = "podinfo") -> dict[str, Any]:
    return {"apiVersion": HELM_CHART.api_version, "kind": "HelmChart", "metadata": {"name": name, "namespace": NS},
            "spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": source}, "interval": "1m"},
            "status": {"artifact": {"revision": "6.5.4+0123456789abcdef"},
                       "conditions": ready("pulled 'podinfo' chart with version '6.5.4+0123456789abcdef'")}}


def helm_release(name: str = "podinfo", chart_ref: dict[str, str] | None = None, history: bool = True,
                 suspend: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"interval": "5m", "suspend": suspend}
    if chart_ref:
        spec["chartRef"] = chart_ref
    else:
        spec["chart"] = {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}
    status: dict[str, Any] = {"lastAttemptedRevision": "6.5.4+0123456789ab",
                              "conditions": ready(f"Helm upgrade succeeded for release {NS}/{name}.v2 with chart "
                                                  "podinfo@6.5.4")}
    if history:
        status["history"] = [{"chartName": "podinfo", "chartVersion": "6.5.4", "version": 2, "status": "deployed"}]
    return {"apiVersion": HELM_RELEASE.api_version, "kind": "HelmRelease", "metadata": {"name": name, "namespace": NS},
            "spec": spec, "status": status}


def invoke(monkeypatch: pytest.MonkeyPatch, fake: Cluster, args: list[str], stdin: str | None = None) -> Result:
    import headwater.runtime.kube as kube

    monkeypatch.setattr(kube, "connect", lambda *args, **kwargs: fake)
    return CliRunner().invoke(cli, args, input=stdin, env={"FLUX_SYSTEM_NAMESPACE": None, "KUBECONFIG": None})


def table(result: Result) -> list[list[str]]:
    assert result.exit_code == 0, result.output
    return [[cell.strip() for cell in line.split("\t")] for line in result.stdout.splitlines()]


# -- get -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "objects", "rows"), [
    (["get", "hr"], [helm_release()],
     [["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"],
      ["podinfo", "6.5.4", "False", "True", f"Helm upgrade succeeded for release {NS}/podinfo.v2 with chart "
                                             "podinfo@6.5.4"]]),
    (["get", "helmreleases", "--no-header"], [helm_release(history=False)],  # no history: the attempted revision
     [["podinfo", "6.5.4+0123456789ab", "False", "True",
       f"Helm upgrade succeeded for release {NS}/podinfo.v2 with chart podinfo@6.5.4"]]),
    (["get", "hr", "--show-source", "--no-header"], [helm_release()],
     [["podinfo", f"HelmRepository/{NS}/podinfo", "6.5.4", "False", "True",
       f"Helm upgrade succeeded for release {NS}/podinfo.v2 with chart podinfo@6.5.4"]]),
    (["get", "hr", "--show-source", "-A"], [helm_release(chart_ref={"kind": "OCIRepository", "name": "app",
                                                                    "namespace": "apps"})],
     [["NAMESPACE", "NAME", "SOURCE", "REVISION", "SUSPENDED", "READY", "MESSAGE"],
      [NS, "podinfo", "OCIRepository/apps/app", "6.5.4", "False", "True",
       f"Helm upgrade succeeded for release {NS}/podinfo.v2 with chart podinfo@6.5.4"]]),
    (["get", "sources", "helm", "--no-header"], [helm_repository()],  # a digest is shortened, in the message too
     [["podinfo", "sha256:abababab", "False", "True", "stored artifact: revision 'sha256:abababab'"]]),
    (["get", "sources", "helm", "--no-header"], [helm_repository(url="oci://ghcr.io/charts")],  # static
     [["podinfo", "", "False", "True", "Helm repository is Ready"]]),
    (["get", "sources", "chart", "--no-header"], [helm_chart()],  # a chart version is not shortened
     [[f"{NS}-podinfo", "6.5.4+0123456789abcdef", "False", "True",
       "pulled 'podinfo' chart with version '6.5.4+0123456789abcdef'"]]),
    (["get", "hr", "--status-selector", "ready=false"], [helm_release()], []),
])
def test_get_tables(monkeypatch: pytest.MonkeyPatch, args: list[str], objects: list[dict[str, Any]],
                    rows: list[list[str]]) -> None:
    assert table(invoke(monkeypatch, cluster(*objects), args)) == rows


# -- reconcile, suspend, resume ------------------------------------------------------------------------


def patched(fake: Cluster) -> list[str]:
    return [f"{call.kind}/{call.name}" for call in fake.server.calls if call.verb == "patch"]


@pytest.mark.parametrize(("args", "objects", "order"), [
    (["reconcile", "hr", "podinfo"], [helm_release()], ["HelmRelease/podinfo"]),
    (["reconcile", "hr", "podinfo", "--with-source"], [helm_repository(), helm_chart(), helm_release()],
     ["HelmRepository/podinfo", f"HelmChart/{NS}-podinfo", "HelmRelease/podinfo"]),
    (["reconcile", "hr", "podinfo", "--with-source"],
     [helm_repository(), helm_chart("shared"), helm_release(chart_ref={"kind": "HelmChart", "name": "shared"})],
     ["HelmRepository/podinfo", "HelmChart/shared", "HelmRelease/podinfo"]),
    (["reconcile", "source", "chart", f"{NS}-podinfo", "--with-source"], [helm_repository(), helm_chart()],
     ["HelmRepository/podinfo", f"HelmChart/{NS}-podinfo"]),
    (["reconcile", "source", "helm", "podinfo"], [helm_repository()], ["HelmRepository/podinfo"]),
    (["reconcile", "helmrepositories", "podinfo"], [helm_repository(url="oci://ghcr.io/charts")], []),  # static
])
def test_reconcile_order(monkeypatch: pytest.MonkeyPatch, args: list[str], objects: list[dict[str, Any]],
                         order: list[str]) -> None:
    fake = cluster(*objects)
    result = invoke(monkeypatch, fake, args)
    assert result.exit_code == 0, result.output
    assert patched(fake) == order


@pytest.mark.parametrize(("flags", "annotations"), [
    ([], {"reconcile.fluxcd.io/requestedAt"}),
    (["--force"], {"reconcile.fluxcd.io/requestedAt", "reconcile.fluxcd.io/forceAt"}),
    (["--reset"], {"reconcile.fluxcd.io/requestedAt", "reconcile.fluxcd.io/resetAt"}),
    (["--force", "--reset=true"], {"reconcile.fluxcd.io/requestedAt", "reconcile.fluxcd.io/forceAt",
                                   "reconcile.fluxcd.io/resetAt"}),
    (["--force=false"], {"reconcile.fluxcd.io/requestedAt"}),
])
def test_reconcile_force_and_reset_share_the_token(monkeypatch: pytest.MonkeyPatch, flags: list[str],
                                                   annotations: set[str]) -> None:
    fake = cluster(helm_release())
    result = invoke(monkeypatch, fake, ["reconcile", "hr", "podinfo", *flags])
    assert result.exit_code == 0, result.output
    assert "✔ applied revision 6.5.4" in result.output
    stored = fake.server.get_object(HELM_RELEASE.api_version, "HelmRelease", "podinfo", NS) or {}
    found = stored["metadata"]["annotations"]
    assert set(found) == annotations
    assert len(set(found.values())) == 1


def test_reconcile_with_source_of_an_external_artifact_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = cluster(helm_release(chart_ref={"kind": "ExternalArtifact", "name": "chart"}))
    result = invoke(monkeypatch, fake, ["reconcile", "hr", "podinfo", "--with-source"])
    assert result.exit_code == 1
    assert result.output.strip() == (f"✗ HelmRelease '{NS}/podinfo' reads ExternalArtifact '{NS}/chart', "
                                     "which cannot be reconciled")
    assert patched(fake) == []


def test_suspend_and_resume_several_and_all(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = cluster(helm_release("a"), helm_release("b"), helm_release("c"))
    result = invoke(monkeypatch, fake, ["suspend", "hr", "a", "b"])
    assert result.exit_code == 0, result.output
    assert "► suspending helmrelease a in flux-system namespace\n✔ helmrelease suspended" in result.output

    def suspended() -> list[bool]:
        return [bool((fake.server.get_object(HELM_RELEASE.api_version, "HelmRelease", name, NS) or {})["spec"]
                     .get("suspend")) for name in "abc"]

    assert suspended() == [True, True, False]
    result = invoke(monkeypatch, fake, ["resume", "helmrelease", "--all"])
    assert result.exit_code == 0, result.output
    assert suspended() == [False, False, False]
    assert result.output.count("✔ HelmRelease reconciliation completed") == 3


def test_resume_of_an_oci_helm_repository_does_not_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = cluster(helm_repository(url="oci://ghcr.io/charts", suspend=True))
    result = invoke(monkeypatch, fake, ["resume", "source", "helm", "podinfo", "--timeout=1s"])
    assert result.exit_code == 0, result.output
    assert "✔ reconciliation not supported by the object" in result.output


# -- export, delete ------------------------------------------------------------------------------------


def test_export_helm_repository_with_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = cluster(helm_repository(secretRef={"name": "helm-podinfo"}),
                   {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "helm-podinfo", "namespace": NS},
                    "type": "Opaque", "data": {"username": "dXNlcg==", "password": "cGFzcw=="}})
    result = invoke(monkeypatch, fake, ["export", "source", "helm", "podinfo", "--with-credentials"])
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    assert [doc["kind"] for doc in documents] == ["HelmRepository", "Secret"]
    assert "status" not in documents[0]
    assert "uid" not in documents[0]["metadata"]
    assert documents[1]["data"] == {"password": "cGFzcw==", "username": "dXNlcg=="}


def test_export_all_helm_releases_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke(monkeypatch, cluster(helm_release("b"), helm_release("a")), ["export", "hr", "--all"])
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    assert [doc["metadata"]["name"] for doc in documents] == ["a", "b"]
    assert documents[0] == {"apiVersion": HELM_RELEASE.api_version, "kind": "HelmRelease",
                            "metadata": {"name": "a", "namespace": NS}, "spec": helm_release("a")["spec"]}


@pytest.mark.parametrize(("args", "stdin", "gone", "prompt"), [
    (["delete", "hr", "podinfo", "--silent"], None, True, False),
    (["delete", "helmrelease", "podinfo"], "y\n", True, True),
    (["delete", "helmrelease", "podinfo"], "n\n", False, True),
    (["delete", "source", "chart", f"{NS}-podinfo", "-s"], None, True, False),
])
def test_delete(monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str | None, gone: bool,
                prompt: bool) -> None:
    fake = cluster(helm_release(), helm_chart())
    result = invoke(monkeypatch, fake, args, stdin)
    assert result.exit_code == (0 if gone else 1), result.output
    kind = "HelmChart" if "chart" in args else "HelmRelease"
    name = f"{NS}-podinfo" if kind == "HelmChart" else "podinfo"
    assert (fake.server.get_object(HELM_RELEASE.api_version if kind == "HelmRelease" else HELM_CHART.api_version,
                                   kind, name, NS) is None) == gone
    assert ("Are you sure you want to delete this helmrelease" in result.output) == prompt


# -- tree, trace -----------------------------------------------------------------------------------------


def entry(namespace: str, name: str, group: str, kind: str, version: str = "v1") -> dict[str, str]:
    return {"id": f"{namespace}_{name}_{group}_{kind}", "v": version}


def kustomization(entries: list[dict[str, str]]) -> dict[str, Any]:
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": NS},
            "spec": {"interval": "10m", "path": "./apps", "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}},
            "status": {"inventory": {"entries": entries}}}


def released(kubeconfig: bool = False) -> dict[str, Any]:
    hr = helm_release()
    hr["spec"]["targetNamespace"] = "apps"
    if kubeconfig:
        hr["spec"]["kubeConfig"] = {"secretRef": {"name": "remote"}}
    hr["status"]["helmChart"] = f"{NS}/{NS}-podinfo"
    hr["status"]["inventory"] = {"entries": [entry("apps", "podinfo", "apps", "Deployment"),
                                             entry("apps", "podinfo", "", "Service")]}
    return hr


@pytest.mark.parametrize(("args", "remote", "text"), [
    (["tree", "ks", "apps"], False,
     f"Kustomization/{NS}/apps\n├── HelmRelease/{NS}/podinfo\n│   ├── Deployment/apps/podinfo\n"
     f"│   └── Service/apps/podinfo\n└── HelmRepository/{NS}/podinfo\n"),
    (["tree", "ks", "apps", "--compact"], False,
     f"Kustomization/{NS}/apps\n├── HelmRelease/{NS}/podinfo\n└── HelmRepository/{NS}/podinfo\n"),
    (["tree", "ks", "apps"], True,  # a release in another cluster is not read
     f"Kustomization/{NS}/apps\n├── HelmRelease/{NS}/podinfo\n└── HelmRepository/{NS}/podinfo\n"),
])
def test_tree_expands_helm_releases(monkeypatch: pytest.MonkeyPatch, args: list[str], remote: bool,
                                    text: str) -> None:
    ks = kustomization([entry(NS, "podinfo", "helm.toolkit.fluxcd.io", "HelmRelease", "v2"),
                        entry(NS, "podinfo", "source.toolkit.fluxcd.io", "HelmRepository")])
    result = invoke(monkeypatch, cluster(ks, released(remote), helm_repository()), args)
    assert result.exit_code == 0, result.output
    assert result.stdout == text


HELM_TRACE = f"""
Object:         {{object}}
Namespace:      apps
Status:         Managed by Flux
---
HelmRelease:    podinfo
Namespace:      {NS}
Target:         apps
Revision:       6.5.4+0123456789ab
Status:         Last reconciled at 2024-05-01 12:00:00 +0000 UTC
Message:        Helm upgrade succeeded for release {NS}/podinfo.v2 with chart podinfo@6.5.4
---
HelmChart:      {NS}-podinfo
Namespace:      {NS}
Chart:          podinfo
Version:        
Revision:       6.5.4+0123456789abcdef
Status:         Last reconciled at 2024-05-01 12:00:00 +0000 UTC
Message:        pulled 'podinfo' chart with version '6.5.4+0123456789abcdef'
---
HelmRepository: podinfo
Namespace:      {NS}
URL:            https://charts.example.com
Revision:       {DIGEST}
Status:         Last reconciled at 2024-05-01 12:00:00 +0000 UTC
Message:        stored artifact: revision '{DIGEST}'
"""  # noqa: W291 - flux prints the empty Version after its padding


@pytest.mark.parametrize(("args", "traced"), [
    (["trace", "deploy/podinfo", "-n", "apps"], "Deployment/podinfo"),
    (["trace", "pod", "podinfo-1", "-n", "apps"], "Pod/podinfo-1"),  # through its owner, the Deployment
])
def test_trace_an_object_of_a_helm_release(monkeypatch: pytest.MonkeyPatch, args: list[str], traced: str) -> None:
    labels = {"helm.toolkit.fluxcd.io/name": "podinfo", "helm.toolkit.fluxcd.io/namespace": NS}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "podinfo", "namespace": "apps", "labels": labels}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "podinfo-1", "namespace": "apps",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo", "uid": "u"}]}}
    # the stand-in that serves discovery, which trace reads to resolve `deploy` and `pod`
    fake = FakeCluster(deployment, pod, released(), helm_chart(), helm_repository())
    use(monkeypatch, fake)
    result = CliRunner().invoke(cli, args, env={"FLUX_SYSTEM_NAMESPACE": None, "KUBECONFIG": None})
    assert result.exit_code == 0, result.output
    assert result.stdout == HELM_TRACE.format(object=traced)


# -- debug ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "text"), [
    (["--show-history"], "- chartName: podinfo\n  chartVersion: 6.5.4\n  status: deployed\n  version: 2\n"),
    (["--show-status", "--show-history"],
     f"conditions:\n- lastTransitionTime: \"2024-05-01T12:00:00Z\"\n  message: Helm upgrade succeeded for release "
     f"{NS}/podinfo.v2 with chart podinfo@6.5.4\n  reason: Succeeded\n  status: \"True\"\n  type: Ready\n"
     "history:\n- chartName: podinfo\n  chartVersion: 6.5.4\n  status: deployed\n  version: 2\n"
     "lastAttemptedRevision: 6.5.4+0123456789ab\n"
     "---\n- chartName: podinfo\n  chartVersion: 6.5.4\n  status: deployed\n  version: 2\n"),
])
def test_debug_helmrelease_status_and_history(monkeypatch: pytest.MonkeyPatch, flags: list[str], text: str) -> None:
    result = invoke(monkeypatch, cluster(helm_release()), ["debug", "hr", "podinfo", *flags])
    assert result.exit_code == 0, result.output
    assert result.stdout == text


@pytest.mark.parametrize(("args", "message"), [
    (["debug", "hr", "podinfo"], "✗ either --show-status, --show-values or --show-history must be set"),
    (["debug", "helmrelease", "--show-status"], "✗ HelmRelease name is required"),
    (["debug", "hr", "nope", "--show-status"], f"✗ HelmRelease '{NS}/nope' not found"),
])
def test_debug_helmrelease_refusals(monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    result = invoke(monkeypatch, cluster(helm_release()), args)
    assert result.exit_code == 1
    assert result.output.strip() == message


# -- stats ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "text"), [
    (0, "-"), (1, "1 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 * 1024**2, "5.0 MiB"),
    (3 * 1024**3 + 1, "3.0 GiB"),
])
def test_stats_sizes_are_flux(size: int, text: str) -> None:
    from headwater.cli.stats import format_size

    assert format_size(size) == text


def test_stats_counts_helm_releases(monkeypatch: pytest.MonkeyPatch) -> None:
    failing = helm_release("c")
    failing["status"]["conditions"] = ready("install failed", status="False")
    repository = helm_repository()
    repository["status"]["artifact"]["size"] = 2048
    fake = cluster(helm_release("a"), helm_release("b", suspend=True), failing, repository)
    rows = {row[0]: row[1:] for row in table(invoke(monkeypatch, fake, ["stats"]))}
    assert rows["RECONCILERS"] == ["RUNNING", "FAILING", "SUSPENDED", "STORAGE"]
    assert rows["HelmRelease"] == ["2", "1", "1", "-"]
    assert rows["HelmRepository"] == ["1", "0", "0", "2.0 KiB"]
    assert rows["Kustomization"] == ["0", "0", "0", "-"]


# -- events --------------------------------------------------------------------------------------------


def event(kind: str, name: str, reason: str, second: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{kind}.{name}.{reason}", "namespace": NS},
            "involvedObject": {"kind": kind, "name": name}, "type": "Normal", "reason": reason, "message": reason,
            "lastTimestamp": f"2026-01-01T00:00:0{second}Z", "firstTimestamp": f"2026-01-01T00:00:0{second}Z"}


@pytest.mark.parametrize(("release", "objects"), [
    (helm_release(), ["HelmRepository/podinfo", f"HelmChart/{NS}-podinfo", "HelmRelease/podinfo"]),
    (helm_release(chart_ref={"kind": "OCIRepository", "name": "podinfo"}),
     ["OCIRepository/podinfo", "HelmRelease/podinfo"]),
])
def test_events_for_a_helm_release_include_its_chart_and_source(monkeypatch: pytest.MonkeyPatch,
                                                                release: dict[str, Any], objects: list[str]) -> None:
    fake = FakeCluster(release, event("HelmRepository", "podinfo", "NewArtifact", 1),
                       event("OCIRepository", "podinfo", "NewArtifact", 2),
                       event("HelmChart", f"{NS}-podinfo", "ChartPullSucceeded", 3),
                       event("HelmRelease", "podinfo", "UpgradeSucceeded", 4),
                       event("HelmRelease", "other", "InstallSucceeded", 5))
    use(monkeypatch, fake)
    result = CliRunner().invoke(cli, ["events", "--for", "HelmRelease/podinfo"],
                                env={"FLUX_SYSTEM_NAMESPACE": None, "KUBECONFIG": None})
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:]]
    assert [row[3].strip() for row in rows] == objects


@pytest.mark.parametrize(("conditions", "settled"), [
    ([{"type": "Ready", "status": "True", "reason": "UpgradeSucceeded"}], True),
    ([{"type": "Ready", "status": "False", "reason": "UpgradeFailed"}], True),
    ([{"type": "Ready", "status": "False", "reason": "UpgradeFailed"},
      {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry"}], True),
    ([{"type": "Ready", "status": "False", "reason": "UpgradeSucceeded"},
      {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry"}], False),  # on its way
    ([{"type": "Ready", "status": "Unknown", "reason": "Progressing"}], False),
])
def test_a_success_on_the_way_is_not_a_verdict(conditions: list[dict[str, str]], settled: bool) -> None:
    from headwater.cli.reconcile import settled as settled_of

    obj = {"metadata": {"generation": 1}, "status": {"lastHandledReconcileAt": "t", "observedGeneration": 1,
                                                     "conditions": conditions}}
    assert (settled_of(obj, "t") is not None) == settled
