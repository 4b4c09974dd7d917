"""Kustomization edge cases: tenancy, deletion policies, suspend, and bad input reported precisely."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from tests.cluster.test_kustomization import KS_API, SRC_API, ks_ready, kustomization
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster
CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n"


async def source(kube: KubeClient, namespace: str, url: str) -> None:
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": url, "interval": "10m", "ref": {"branch": "main"}}})


async def not_ready(kube: KubeClient, namespace: str, name: str, reason: str, timeout: float = 60) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await kube.get(KS_API, "Kustomization", name, namespace)
        conds = (obj.get("status") or {}).get("conditions") or []
        return obj if cond.get_reason(conds, "Ready") == reason and cond.is_false(conds, "Ready") else None

    return await wait_for(probe, f"Kustomization {name} Ready=False {reason}", timeout=timeout)


@pytest.mark.usefixtures("kustomize_controller")
async def test_a_tenant_service_account_cannot_create_cluster_objects(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    files = {"app/cfg.yaml": CONFIG,
             "app/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                              f"metadata: {{name: {namespace}-escalate}}\nrules: []\n"}
    repo_builder.create(repo_name, files)
    await source(kube, namespace, git_http.url(repo_name))
    await kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": "tenant", "namespace": namespace}})
    await kube.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                       "metadata": {"name": "tenant-admin", "namespace": namespace},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                       "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}]})
    await kube.create(kustomization("tenant", namespace, "./app", namespace, serviceAccountName="tenant"))
    obj = await not_ready(kube, namespace, "tenant", "ReconciliationFailed")
    message = cond.get_message(obj["status"]["conditions"], "Ready")
    assert f"ClusterRole/{namespace}-escalate" in message
    assert "forbidden" in message.lower()
    assert await kube.get_or_none("rbac.authorization.k8s.io/v1", "ClusterRole", f"{namespace}-escalate") is None
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", namespace) is None, "stage 1 failed: nothing later applied"


@pytest.mark.usefixtures("kustomize_controller")
async def test_deletion_prunes_by_default_and_orphan_keeps(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, {"a/cfg.yaml": CONFIG, "b/cfg.yaml": CONFIG.replace("cfg", "kept")})
    await source(kube, namespace, git_http.url(repo_name))
    await kube.create(kustomization("mirror", namespace, "./a", namespace))
    await kube.create(kustomization("orphan", namespace, "./b", namespace, deletionPolicy="Orphan"))
    revision = f"main@sha1:{repo.head('main')}"
    await ks_ready(kube, namespace, "mirror", revision)
    await ks_ready(kube, namespace, "orphan", revision)
    for name in ("mirror", "orphan"):
        await kube.delete(KS_API, "Kustomization", name, namespace)

    async def settled() -> bool:
        names = ("mirror", "orphan")
        gone = all([await kube.get_or_none(KS_API, "Kustomization", n, namespace) is None for n in names])
        return gone and await kube.get_or_none("v1", "ConfigMap", "cfg", namespace) is None

    await wait_for(settled, "both Kustomizations deleted, the MirrorPrune one's objects with it")
    assert await kube.get_or_none("v1", "ConfigMap", "kept", namespace) is not None


@pytest.mark.usefixtures("kustomize_controller")
async def test_suspend_stops_applying_and_resume_applies_the_latest(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, {"app/cfg.yaml": CONFIG})
    await source(kube, namespace, git_http.url(repo_name))
    await kube.create(kustomization("app", namespace, "./app", namespace))
    await ks_ready(kube, namespace, "app", f"main@sha1:{repo.head('main')}")
    await kube.patch(KS_API, "Kustomization", "app", {"spec": {"suspend": True}}, namespace=namespace)
    repo.commit({"app/cfg.yaml": CONFIG.replace("'1'", "'2'")}, "change while suspended")
    await kube.patch(SRC_API, "GitRepository", "repo",
                     {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "s"}}}, namespace=namespace)

    async def source_moved() -> bool:
        obj = await kube.get(SRC_API, "GitRepository", "repo", namespace)
        return repo.head("main") in ((obj.get("status") or {}).get("artifact") or {}).get("revision", "")

    await wait_for(source_moved, "the source to have the new commit")
    await kube.patch(KS_API, "Kustomization", "app",
                     {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "x"}}}, namespace=namespace)
    await asyncio.sleep(1.0)  # give the (suspended) controller time to act if it wrongly would
    assert (await kube.get("v1", "ConfigMap", "cfg", namespace))["data"] == {"a": "1"}, "suspended: nothing applied"
    obj = await kube.get(KS_API, "Kustomization", "app", namespace)
    assert obj["status"].get("lastHandledReconcileAt") != "x", "requestedAt is recorded only after resume"
    await kube.patch(KS_API, "Kustomization", "app", {"spec": {"suspend": False}}, namespace=namespace)
    await ks_ready(kube, namespace, "app", f"main@sha1:{repo.head('main')}")
    assert (await kube.get("v1", "ConfigMap", "cfg", namespace))["data"] == {"a": "2"}


@pytest.mark.usefixtures("kustomize_controller")
@pytest.mark.parametrize(
    ("files", "spec", "reason", "fragment"),
    [
        ({"app/bad.yaml": "kind: [oops\n"}, {}, "BuildFailed", "bad.yaml: invalid YAML"),
        ({"app/cfg.yaml": CONFIG}, {"path": "./nowhere"}, "BuildFailed", "spec.path './nowhere' not found"),
        ({"app/kustomization.yaml": "resources: [cfg.yaml]\nnotAField: 1\n", "app/cfg.yaml": CONFIG}, {},
         "BuildFailed", "notAField"),
        ({"app/cfg.yaml": CONFIG}, {"sourceRef": {"kind": "GitRepository", "name": "absent"}}, "ArtifactFailed",
         "Source 'GitRepository/"),
    ],
    ids=["invalid-yaml", "missing-path", "unknown-field", "missing-source"],
)
async def test_bad_input_is_reported_and_other_kustomizations_keep_working(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    files: dict[str, str], spec: dict[str, Any], reason: str, fragment: str,
) -> None:
    repo = repo_builder.create(repo_name, {**files, "good/cfg.yaml": CONFIG.replace("cfg", "good")})
    await source(kube, namespace, git_http.url(repo_name))
    path = spec.pop("path", "./app")
    await kube.create(kustomization("broken", namespace, path, namespace, **spec))
    await kube.create(kustomization("healthy", namespace, "./good", namespace))
    obj = await not_ready(kube, namespace, "broken", reason)
    assert fragment in cond.get_message(obj["status"]["conditions"], "Ready")
    await ks_ready(kube, namespace, "healthy", f"main@sha1:{repo.head('main')}")
    events = (await kube.list("v1", "Event", namespace, field_selector="involvedObject.name=broken"))["items"]
    assert any(e["reason"] == reason for e in events) or reason == "ArtifactFailed"


@pytest.mark.usefixtures("kustomize_controller")
async def test_a_dependency_cycle_is_reported_not_deadlocked(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    repo_builder.create(repo_name, {"app/cfg.yaml": CONFIG})
    await source(kube, namespace, git_http.url(repo_name))
    await kube.create(kustomization("a", namespace, "./app", namespace, dependsOn=[{"name": "b"}]))
    await kube.create(kustomization("b", namespace, "./app", namespace, dependsOn=[{"name": "a"}]))
    obj = await not_ready(kube, namespace, "a", "DependencyNotReady")
    assert cond.get_message(obj["status"]["conditions"], "Ready") == (
        f"circular dependency: {namespace}/a -> {namespace}/b -> {namespace}/a")


@pytest.mark.usefixtures("kustomize_controller")
async def test_ready_expr_replaces_the_built_in_dependency_check(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, {"app/cfg.yaml": CONFIG, "other/cfg.yaml": CONFIG.replace("cfg", "o")})
    await source(kube, namespace, git_http.url(repo_name))
    await kube.create(kustomization("base", namespace, "./other", namespace))
    never = "dep.metadata.name == 'somebody-else'"
    await kube.create(kustomization("waits", namespace, "./app", namespace,
                                    dependsOn=[{"name": "base", "readyExpr": never}]))
    await ks_ready(kube, namespace, "base", f"main@sha1:{repo.head('main')}")
    obj = await not_ready(kube, namespace, "waits", "DependencyNotReady")
    assert "(readyExpr)" in cond.get_message(obj["status"]["conditions"], "Ready")
    await kube.patch(KS_API, "Kustomization", "waits",
                     {"spec": {"dependsOn": [{"name": "base", "readyExpr": "dep.metadata.name == 'base'"}]}},
                     namespace=namespace)
    await ks_ready(kube, namespace, "waits", f"main@sha1:{repo.head('main')}")


@pytest.mark.usefixtures("kustomize_controller")
async def test_drift_ignore_rules_strip_or_adopt_and_other_drift_is_still_reverted(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    from tests.cluster.test_kustomization import deployment

    repo = repo_builder.create(repo_name, {"app/web.yaml": deployment("web", 2), "app/cfg.yaml": CONFIG})
    await source(kube, namespace, git_http.url(repo_name))
    ignore = [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}},
              {"paths": ["/data/a"], "target": {"kind": "ConfigMap", "name": "cfg"}}]
    await kube.create(kustomization("app", namespace, "./app", namespace, ignore=ignore))
    await ks_ready(kube, namespace, "app", f"main@sha1:{repo.head('main')}")

    # strip: an autoscaler takes replicas over with server-side apply
    await kube.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "web", "namespace": namespace}, "spec": {"replicas": 5}},
                     field_manager="hpa-controller", force=True)
    # adopt: someone edits a value only we apply
    await kube.patch("v1", "ConfigMap", "cfg", {"data": {"a": "edited"}}, namespace=namespace,
                     field_manager="kubectl-edit")
    # and an un-ignored drift
    await kube.patch("v1", "ConfigMap", "cfg", {"data": {"extra": "x"}}, namespace=namespace,
                     field_manager="kubectl-edit")
    for token in ("one", "two"):
        await kube.patch(KS_API, "Kustomization", "app",
                         {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}, namespace=namespace)

        async def handled(t: str = token) -> bool:
            obj = await kube.get(KS_API, "Kustomization", "app", namespace)
            return (obj.get("status") or {}).get("lastHandledReconcileAt") == t

        await wait_for(handled, f"reconcile {token}")
    assert (await kube.get("apps/v1", "Deployment", "web", namespace))["spec"]["replicas"] == 5
    cfg = await kube.get("v1", "ConfigMap", "cfg", namespace)
    assert cfg["data"]["a"] == "edited", "an ignored field we own adopts the live value"
    assert "extra" not in cfg["data"], "kubectl edits of what we manage are taken over and reverted"
    obj = await kube.get(KS_API, "Kustomization", "app", namespace)
    assert cond.is_true(obj["status"]["conditions"], "Ready")
