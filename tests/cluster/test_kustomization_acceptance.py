"""Acceptance points of the Kustomization issue: controller flags, remote clusters, SSA annotations and
force, speed of a dependency chain and of a push, and no work at all when nothing changed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from headwater.devcluster.cluster import Cluster
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.kustomize.reconciler import KustomizationReconciler
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient, connect
from headwater.runtime.manager import Manager
from headwater.runtime.options import ControllerOptions
from tests.cluster.test_kustomization import KS_API, SRC_API, ks_ready, kustomization
from tests.cluster.test_kustomization_edges import not_ready
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster
ISOLATED = "headwater.dev/isolated"


def config_map(name: str, **data: str) -> str:
    values = ", ".join(f"{k}: '{v}'" for k, v in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{{values}}}\n"


def git_repository(namespace: str, url: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": SRC_API, "kind": "GitRepository",
            "metadata": {"name": "repo", "namespace": namespace, "labels": labels or {}},
            "spec": {"url": url, "interval": "10m", "ref": {"branch": "main"}}}


async def source_ready(kube: KubeClient, namespace: str, revision: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await kube.get(SRC_API, "GitRepository", "repo", namespace)
        artifact = (obj.get("status") or {}).get("artifact") or {}
        return obj if artifact.get("revision") == revision else None

    found = await wait_for(probe, f"GitRepository repo to have an artifact of {revision}", interval=0.02)
    assert found is not None
    return found


async def request_reconcile(kube: KubeClient, api: str, kind: str, name: str, namespace: str, token: str) -> None:
    await kube.patch(api, kind, name, {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}},
                     namespace=namespace)


@contextlib.asynccontextmanager
async def isolated_controller(kube: KubeClient, **flags: Any) -> AsyncIterator[dict[str, str]]:
    """A second kustomize controller with `flags`, reconciling only objects with the labels it yields
    (the session controller ignores every object labelled `headwater.dev/isolated`)."""
    from headwater.kustomize.spec import SPEC as KUSTOMIZE_SPEC

    labels = {ISOLATED: secrets.token_hex(4)}
    options = ControllerOptions(concurrent=2, metrics_addr="0", health_addr="0", min_retry_delay=0.5,
                                max_retry_delay=5.0, watch_label_selector=f"{ISOLATED}={labels[ISOLATED]}",
                                **flags)
    manager = Manager("kustomize-controller", kube, options)
    await KUSTOMIZE_SPEC.install(manager, options)
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run(stop))
    try:
        await asyncio.wait_for(manager.leading.wait(), 30)
        yield labels
    finally:
        try:
            await delete_kustomizations(kube, f"{ISOLATED}={labels[ISOLATED]}")
        finally:
            stop.set()
            await task


async def delete_kustomizations(kube: KubeClient, selector: str | None = None, namespace: str | None = None) -> None:
    """Delete Kustomizations and wait for their finalizers (run them while their controller still runs)."""
    for obj in (await kube.list(KS_API, "Kustomization", namespace, label_selector=selector))["items"]:
        await kube.delete(KS_API, "Kustomization", obj["metadata"]["name"], obj["metadata"]["namespace"])

    async def gone() -> bool:
        return not (await kube.list(KS_API, "Kustomization", namespace, label_selector=selector))["items"]

    await wait_for(gone, "the Kustomizations to be finalized and deleted", timeout=15)


def labelled(obj: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    obj["metadata"].setdefault("labels", {}).update(labels)
    return obj


# -- 1. controller flags -------------------------------------------------------------------------------


@pytest.mark.usefixtures("kustomize_controller", "source_controller")
async def test_default_service_account_flag_impersonates_when_none_is_named(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    role = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
            f"metadata: {{name: {namespace}-escalate}}\nrules: []\n")
    repo = repo_builder.create(repo_name, {"app/cfg.yaml": config_map("cfg", a="1"), "escalate/role.yaml": role})
    revision = f"main@sha1:{repo.head('main')}"
    await kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": "tenant", "namespace": namespace}})
    await kube.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                       "metadata": {"name": "tenant-admin", "namespace": namespace},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                       "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}]})
    async with isolated_controller(kube, default_service_account="tenant") as labels:
        await kube.create(git_repository(namespace, git_http.url(repo_name), labels))
        await kube.create(labelled(kustomization("app", namespace, "./app", namespace), labels))
        await kube.create(labelled(kustomization("escalate", namespace, "./escalate", namespace), labels))
        await ks_ready(kube, namespace, "app", revision)
        assert await kube.get_or_none("v1", "ConfigMap", "cfg", namespace) is not None
        # the controller itself could create a ClusterRole: the default service account cannot
        obj = await not_ready(kube, namespace, "escalate", "ReconciliationFailed")
        message = cond.get_message(obj["status"]["conditions"], "Ready")
        assert f"system:serviceaccount:{namespace}:tenant" in message, message
        assert "forbidden" in message.lower()
        assert await kube.get_or_none("rbac.authorization.k8s.io/v1", "ClusterRole", f"{namespace}-escalate") is None


@pytest.mark.usefixtures("kustomize_controller", "source_controller")
async def test_no_cross_namespace_refs_flag_denies_a_source_in_another_namespace(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, {"app/cfg.yaml": config_map("cfg", a="1")})
    revision = f"main@sha1:{repo.head('main')}"
    other = f"{namespace}-other"
    await kube.create({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": other, "labels": {"headwater.dev/test": "true"}}})
    try:
        async with isolated_controller(kube, no_cross_namespace_refs=True) as labels:
            await kube.create(git_repository(namespace, git_http.url(repo_name), labels))
            await source_ready(kube, namespace, revision)
            await kube.create(labelled(kustomization("local", namespace, "./app", namespace), labels))
            cross = kustomization("cross", other, "./app", other)
            cross["spec"]["sourceRef"]["namespace"] = namespace
            await kube.create(labelled(cross, labels))
            await ks_ready(kube, namespace, "local", revision)
            obj = await not_ready(kube, other, "cross", "AccessDenied")
            conds = obj["status"]["conditions"]
            assert cond.is_true(conds, "Stalled")
            assert cond.get_reason(conds, "Stalled") == "AccessDenied"
            assert "cross-namespace references are not allowed" in cond.get_message(conds, "Ready")
            assert await kube.get_or_none("v1", "ConfigMap", "cfg", other) is None
    finally:
        await kube.delete("v1", "Namespace", other)


# -- 2. remote cluster -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("kustomize_controller")
async def test_kubeconfig_secret_applies_into_the_remote_cluster_only(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    target = f"{namespace}-remote"
    repo = repo_builder.create(repo_name, {
        "app/namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {target}}}\n",
        "app/cfg.yaml": config_map("cfg", where="remote"),
    })
    revision = f"main@sha1:{repo.head('main')}"
    remote_cluster = Cluster(f"pytest-remote-{os.getpid()}", nodes=1)
    try:
        info = await asyncio.to_thread(remote_cluster.up, lambda _message: None)
        await kube.create({"apiVersion": "v1", "kind": "Secret",
                           "metadata": {"name": "remote-kubeconfig", "namespace": namespace},
                           "data": {"value": base64.b64encode(info.kubeconfig.read_bytes()).decode()}})
        await kube.create(git_repository(namespace, git_http.url(repo_name)))
        await kube.create(kustomization("remote", namespace, "./app", target,
                                        kubeConfig={"secretRef": {"name": "remote-kubeconfig"}}))
        obj = await ks_ready(kube, namespace, "remote", revision)
        assert sorted(e["id"] for e in obj["status"]["inventory"]["entries"]) == [
            f"_{target}__Namespace", f"{target}_cfg__ConfigMap"]
        remote = connect(info.kubeconfig, user_agent="headwater-tests")
        try:
            cfg = await remote.get("v1", "ConfigMap", "cfg", target)
            assert cfg["data"] == {"where": "remote"}
            assert cfg["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "remote"
        finally:
            await remote.close()
        assert await kube.get_or_none("v1", "Namespace", target) is None, "nothing may land in the local cluster"
        assert await kube.get_or_none("v1", "ConfigMap", "cfg", namespace) is None
        # deleting the Kustomization prunes in the remote cluster (while it still runs)
        await delete_kustomizations(kube, namespace=namespace)
        remote = connect(info.kubeconfig, user_agent="headwater-tests")
        try:
            assert await remote.get_or_none("v1", "ConfigMap", "cfg", target) is None
        finally:
            await remote.close()
    finally:
        await asyncio.to_thread(remote_cluster.down, lambda _message: None)


# -- 3. SSA annotations, force and prune: false -------------------------------------------------------------


def job(image: str) -> str:
    return f"""apiVersion: batch/v1
kind: Job
metadata: {{name: once-off}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: run, image: "example.invalid/{image}"}}]
"""


def ssa_files(version: str, kept: bool) -> dict[str, str]:
    created_once = config_map("created-once", version=version).replace(
        "metadata: {name: created-once}",
        "metadata: {name: created-once, annotations: {kustomize.toolkit.fluxcd.io/ssa: IfNotPresent}}")
    files = {"app/created-once.yaml": created_once, "app/job.yaml": job(f"task:{version}"),
             "app/plain.yaml": config_map("plain", version=version)}
    if kept:
        files["app/kept.yaml"] = config_map("kept", version=version)
    return files


@pytest.mark.usefixtures("kustomize_controller")
async def test_if_not_present_immutable_fields_force_and_no_prune(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, ssa_files("1", kept=True))
    await kube.create(git_repository(namespace, git_http.url(repo_name)))
    await kube.create(kustomization("app", namespace, "./app", namespace, prune=False))
    await ks_ready(kube, namespace, "app", f"main@sha1:{repo.head('main')}")
    first_job = await kube.get("batch/v1", "Job", "once-off", namespace)
    assert (await kube.get("v1", "ConfigMap", "created-once", namespace))["data"] == {"version": "1"}

    repo.commit(ssa_files("2", kept=False), "version 2, kept removed", replace=True)
    revision = f"main@sha1:{repo.head('main')}"
    await request_reconcile(kube, SRC_API, "GitRepository", "repo", namespace, "v2")
    obj = await not_ready(kube, namespace, "app", "ReconciliationFailed")
    message = cond.get_message(obj["status"]["conditions"], "Ready")
    assert f"Job/{namespace}/once-off" in message, message
    assert "immutable" in message, message
    assert obj["status"]["lastAttemptedRevision"] == revision
    job_now = await kube.get("batch/v1", "Job", "once-off", namespace)
    assert job_now["metadata"]["uid"] == first_job["metadata"]["uid"], "without force the Job must stay"

    await kube.patch(KS_API, "Kustomization", "app", {"spec": {"force": True}}, namespace=namespace)
    await ks_ready(kube, namespace, "app", revision)
    recreated = await kube.get("batch/v1", "Job", "once-off", namespace)
    assert recreated["metadata"]["uid"] != first_job["metadata"]["uid"], "force recreates the Job"
    assert recreated["spec"]["template"]["spec"]["containers"][0]["image"] == "example.invalid/task:2"
    assert (await kube.get("v1", "ConfigMap", "plain", namespace))["data"] == {"version": "2"}
    assert (await kube.get("v1", "ConfigMap", "created-once", namespace))["data"] == {"version": "1"}, \
        "ssa: IfNotPresent is created once and never updated"
    kept = await kube.get_or_none("v1", "ConfigMap", "kept", namespace)
    assert kept is not None, "prune: false keeps a removed object"
    assert kept["data"] == {"version": "1"}


# -- 4. speed --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("kustomize_controller")
async def test_dependency_chain_converges_in_3s_and_a_push_applies_in_2s(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    def files(version: str) -> dict[str, str]:
        return {"infrastructure/settings.yaml": config_map("settings", version=version),
                "apps/app.yaml": config_map("app", version=version)}

    repo = repo_builder.create(repo_name, files("1"))
    revision = f"main@sha1:{repo.head('main')}"
    await kube.create(git_repository(namespace, git_http.url(repo_name)))
    await source_ready(kube, namespace, revision)

    started = time.monotonic()
    await kube.create(kustomization("apps", namespace, "./apps", namespace, dependsOn=[{"name": "infrastructure"}]))
    await kube.create(kustomization("infrastructure", namespace, "./infrastructure", namespace))
    await ks_ready(kube, namespace, "infrastructure", revision)
    await ks_ready(kube, namespace, "apps", revision)
    converged = time.monotonic() - started
    print(f"\ninfrastructure -> apps converged in {converged:.2f}s")
    assert converged < 3, f"the dependency chain took {converged:.2f}s"

    repo.commit(files("2"), "version 2")
    new_revision = f"main@sha1:{repo.head('main')}"
    await request_reconcile(kube, SRC_API, "GitRepository", "repo", namespace, "push")
    await source_ready(kube, namespace, new_revision)
    artifact_seen = time.monotonic()
    await ks_ready(kube, namespace, "infrastructure", new_revision)
    await ks_ready(kube, namespace, "apps", new_revision)
    applied = time.monotonic() - artifact_seen
    print(f"push applied by infrastructure -> apps {applied:.2f}s after the new artifact")
    assert applied < 2, f"the push took {applied:.2f}s after the artifact"
    assert (await kube.get("v1", "ConfigMap", "app", namespace))["data"] == {"version": "2"}


# -- 5. no work when nothing changed -------------------------------------------------------------------------


async def test_requested_reconcile_of_unchanged_kustomizations_builds_and_applies_nothing(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    kustomize_controller: Manager,
) -> None:
    count = 20
    reconciler = kustomize_controller.controllers[0].reconciler
    assert isinstance(reconciler, KustomizationReconciler)
    repo = repo_builder.create(repo_name, {f"app-{i}/cfg.yaml": config_map(f"cfg-{i}", i=str(i))
                                           for i in range(count)})
    revision = f"main@sha1:{repo.head('main')}"
    await kube.create(git_repository(namespace, git_http.url(repo_name)))
    names = [f"app-{i}" for i in range(count)]
    for name in names:
        await kube.create(kustomization(name, namespace, f"./{name}", namespace))
    await asyncio.gather(*(ks_ready(kube, namespace, name, revision) for name in names))

    builds, applies = reconciler.builds_run, reconciler.applies_sent
    started = time.monotonic()
    for name in names:
        await request_reconcile(kube, KS_API, "Kustomization", name, namespace, "again")

    async def all_handled() -> bool:
        items = (await kube.list(KS_API, "Kustomization", namespace))["items"]
        return len(items) == count and all(
            (o.get("status") or {}).get("lastHandledReconcileAt") == "again" and cond.is_true(
                o["status"].get("conditions") or [], "Ready") for o in items)

    await wait_for(all_handled, f"all {count} Kustomizations to handle the requested reconcile")
    print(f"\n{count} unchanged Kustomizations reconciled in {time.monotonic() - started:.2f}s")
    assert reconciler.builds_run == builds, "no kustomize build may run when nothing changed"
    assert reconciler.applies_sent == applies, "no apply may be sent when nothing changed"
    await delete_kustomizations(kube, namespace=namespace)  # finalized now, not during a later test
