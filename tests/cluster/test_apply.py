"""The apply engine against the real apiserver: staged apply, drift detection with no writes in steady
state, managed-fields takeover, ssa policies, immutable fields with and without force, pruning."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from headwater.apply import inventory
from headwater.apply.apply import ApplyError, ImmutableFieldError, apply_all
from headwater.apply.inventory import InventoryEntry
from headwater.apply.objects import Action
from headwater.apply.prune import PruneError, TerminationTimeout, delete_all, prune
from headwater.apply.unchanged import UnchangedMemo
from headwater.runtime.kube import KubeClient
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster

OWNER = ("apps", "flux-system")
NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"


def configmap(name: str, namespace: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, **meta},
            "data": data or {"a": "1"}}


def deployment(namespace: str, replicas: int = 1, name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1",
                                                       "ports": [{"containerPort": 80}]}]}}},
    }


async def settled(kube: KubeClient, namespace: str, name: str = "web") -> None:
    """Wait until the deployment controller has written its revision annotation for the current generation:
    a write racing between our GET and dry-run is real drift (Flux would apply too), not what a test checks."""

    async def probe() -> bool:
        live = await kube.get("apps/v1", "Deployment", name, namespace)
        return bool((live["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")) and (
            live.get("status", {}).get("observedGeneration") == live["metadata"]["generation"])

    await wait_for(probe, f"Deployment {namespace}/{name} to be observed", timeout=15)


def managers(obj: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["manager"], m["operation"]) for m in obj["metadata"].get("managedFields") or []
            if not m.get("subresource")}


@pytest.fixture
async def cluster_scoped(kube: KubeClient) -> AsyncIterator[list[tuple[str, str, str]]]:
    """Cluster-scoped objects a test creates, as (apiVersion, kind, name), deleted afterwards."""
    created: list[tuple[str, str, str]] = []
    yield created
    for api_version, kind, name in reversed(created):
        await kube.delete(api_version, kind, name)


async def test_staged_apply_creates_then_reports_unchanged_without_writes(
    kube: KubeClient, cluster_scoped: list[tuple[str, str, str]]
) -> None:
    suffix = secrets.token_hex(3)
    group, ns, role, storage = (f"t{suffix}.headwater.dev", f"apply-ns-{suffix}", f"apply-role-{suffix}",
                                f"apply-sc-{suffix}")
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object",
                                                               "x-kubernetes-preserve-unknown-fields": True}}}}}]},
    }
    cluster_scoped += [("storage.k8s.io/v1", "StorageClass", storage),
                       ("rbac.authorization.k8s.io/v1", "ClusterRole", role), ("v1", "Namespace", ns),
                       ("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")]
    objects = [  # deliberately out of order: the CR first, its CRD and Namespace last
        {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": ns},
         "spec": {"size": 3}},
        deployment(ns),
        configmap("settings", ns),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": role},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": storage},
         "provisioner": "example.com/none"},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        crd,
    ]

    first = await apply_all(kube, objects, owner=OWNER)
    await settled(kube, ns)

    assert str(first).splitlines() == [
        f"CustomResourceDefinition/widgets.{group} created",
        f"Namespace/{ns} created",
        f"ClusterRole/{role} created",
        f"StorageClass/{storage} created",
        f"ConfigMap/{ns}/settings created",
        f"Deployment/{ns}/web created",
        f"Widget/{ns}/w created",
    ]
    assert first.calls.applies == 7
    widget = await kube.get(f"{group}/v1", "Widget", "w", ns)
    assert widget["spec"] == {"size": 3}
    assert widget["metadata"]["labels"] == {NAME_LABEL: "apps", NAMESPACE_LABEL: "flux-system"}
    assert inventory.to_status(inventory.from_change_set(first))["entries"][0] == {
        "id": f"_widgets.{group}_apiextensions.k8s.io_CustomResourceDefinition", "v": "v1"}
    assert objects[1]["metadata"].get("labels") is None, "the caller's objects are not modified"

    second = await apply_all(kube, objects, owner=OWNER)

    assert second.counts() == {Action.UNCHANGED: 7}
    assert second.changes_log() == ""
    assert (second.calls.applies, second.calls.cleanups, second.calls.writes) == (0, 0, 0)
    assert second.calls.dry_runs == 7


async def test_changed_replicas_are_configured(kube: KubeClient, namespace: str) -> None:
    await apply_all(kube, [deployment(namespace, replicas=1), configmap("c", namespace)], owner=OWNER)

    result = await apply_all(kube, [deployment(namespace, replicas=3), configmap("c", namespace)], owner=OWNER)

    assert result.changes_log() == f"Deployment/{namespace}/web configured"
    assert result.action_of(f"ConfigMap/{namespace}/c") == Action.UNCHANGED
    assert result.calls.applies == 1
    assert (await kube.get("apps/v1", "Deployment", "web", namespace))["spec"]["replicas"] == 3


async def test_kubectl_drift_is_reverted_and_its_managed_fields_taken_over(kube: KubeClient, namespace: str) -> None:
    await apply_all(kube, [deployment(namespace, replicas=2)], owner=OWNER)
    await settled(kube, namespace)
    # `kubectl scale`/`kubectl edit`-style drift, plus kubectl's client-side-apply annotation and a label
    # only kubectl set.
    await kube.patch("apps/v1", "Deployment", "web", {
        "metadata": {"labels": {"edited": "by-hand"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"replicas": 5},
    }, namespace=namespace, field_manager="kubectl-client-side-apply")

    result = await apply_all(kube, [deployment(namespace, replicas=2)], owner=OWNER)

    assert result.changes_log() == f"Deployment/{namespace}/web configured"
    assert result.calls.cleanups == 1
    assert result.calls.applies == 1
    live = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert live["spec"]["replicas"] == 2
    assert "edited" not in live["metadata"]["labels"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (live["metadata"].get("annotations") or {})
    assert managers(live) == {("kustomize-controller", "Apply")}

    await settled(kube, namespace)
    steady = await apply_all(kube, [deployment(namespace, replicas=2)], owner=OWNER)
    assert steady.counts() == {Action.UNCHANGED: 1}
    assert steady.calls.writes == 0


async def test_fields_of_other_managers_we_do_not_set_are_left_alone(kube: KubeClient, namespace: str) -> None:
    await apply_all(kube, [deployment(namespace)], owner=OWNER)
    await settled(kube, namespace)
    await kube.patch("apps/v1", "Deployment", "web", {
        "metadata": {"annotations": {"autoscaler/last-seen": "now"}}, "spec": {"minReadySeconds": 7},
    }, namespace=namespace, field_manager="some-operator")

    result = await apply_all(kube, [deployment(namespace)], owner=OWNER)

    assert result.counts() == {Action.UNCHANGED: 1}
    assert result.calls.writes == 0
    live = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert live["spec"]["minReadySeconds"] == 7
    assert live["metadata"]["annotations"]["autoscaler/last-seen"] == "now"


async def test_ssa_merge_keeps_kubectl_fields(kube: KubeClient, namespace: str) -> None:
    merge = {"annotations": {"kustomize.toolkit.fluxcd.io/ssa": "Merge"}}
    await apply_all(kube, [configmap("c", namespace, **merge)], owner=OWNER)
    await kube.patch("v1", "ConfigMap", "c", {"data": {"extra": "kept"}}, namespace=namespace,
                     field_manager="kubectl-edit")

    result = await apply_all(kube, [configmap("c", namespace, **merge)], owner=OWNER)

    assert result.counts() == {Action.UNCHANGED: 1}
    assert result.calls.cleanups == 0
    live = await kube.get("v1", "ConfigMap", "c", namespace)
    assert live["data"] == {"a": "1", "extra": "kept"}
    assert ("kubectl-edit", "Update") in managers(live)


async def test_if_not_present_is_created_once_and_never_overwritten(kube: KubeClient, namespace: str) -> None:
    once = {"annotations": {"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}}
    created = await apply_all(kube, [configmap("seed", namespace, {"v": "1"}, **once)], owner=OWNER)
    assert created.changes_log() == f"ConfigMap/{namespace}/seed created"
    await kube.patch("v1", "ConfigMap", "seed", {"data": {"v": "changed-in-cluster"}}, namespace=namespace,
                     field_manager="someone")

    again = await apply_all(kube, [configmap("seed", namespace, {"v": "2"}, **once)], owner=OWNER)

    assert str(again) == f"ConfigMap/{namespace}/seed skipped"
    assert again.calls.dry_runs == 0
    assert again.calls.writes == 0
    assert (await kube.get("v1", "ConfigMap", "seed", namespace))["data"] == {"v": "changed-in-cluster"}


async def test_ssa_ignore_and_reconcile_disabled_are_skipped(kube: KubeClient, namespace: str) -> None:
    ignored = {"annotations": {"kustomize.toolkit.fluxcd.io/ssa": "ignore"}}
    result = await apply_all(kube, [configmap("never", namespace, **ignored)], owner=OWNER)
    assert str(result) == f"ConfigMap/{namespace}/never skipped"
    assert await kube.get_or_none("v1", "ConfigMap", "never", namespace) is None

    # The opt-out may also sit on the live object only (someone took it over by hand).
    await apply_all(kube, [configmap("taken", namespace, {"v": "1"})], owner=OWNER)
    await kube.patch("v1", "ConfigMap", "taken", {"metadata": {"labels": {
        "kustomize.toolkit.fluxcd.io/reconcile": "disabled"}}, "data": {"v": "manual"}}, namespace=namespace)
    result = await apply_all(kube, [configmap("taken", namespace, {"v": "2"})], owner=OWNER)
    assert str(result) == f"ConfigMap/{namespace}/taken skipped"
    assert (await kube.get("v1", "ConfigMap", "taken", namespace))["data"] == {"v": "manual"}


def service(namespace: str, cluster_ip: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": namespace, **meta},
            "spec": {"clusterIP": cluster_ip, "ports": [{"port": 80}], "selector": {"app": "web"}}}


def free_ips() -> tuple[str, str]:
    third, fourth = 150 + secrets.randbelow(100), 2 + secrets.randbelow(250)
    return f"10.96.{third}.{fourth}", f"10.96.{third}.{fourth + 1 if fourth < 250 else fourth - 1}"


async def test_immutable_field_fails_without_force_and_is_recreated_with_force(
    kube: KubeClient, namespace: str
) -> None:
    first_ip, second_ip = free_ips()
    await apply_all(kube, [service(namespace, first_ip)], owner=OWNER)
    before = await kube.get("v1", "Service", "svc", namespace)

    with pytest.raises(ImmutableFieldError) as failure:
        await apply_all(kube, [service(namespace, second_ip)], owner=OWNER)
    message = str(failure.value)
    assert message.startswith(f"Service/{namespace}/svc dry-run failed (Invalid): ")
    assert "spec.clusterIPs[0]" in message
    assert "may not change once set" in message
    assert "force" in message
    assert failure.value.fields == ["spec.clusterIPs[0]"]
    assert (await kube.get("v1", "Service", "svc", namespace))["spec"]["clusterIP"] == first_ip

    forced = await apply_all(kube, [service(namespace, second_ip)], owner=OWNER, force=True)

    assert str(forced) == f"Service/{namespace}/svc created"
    assert forced.calls.deletes == 1
    after = await kube.get("v1", "Service", "svc", namespace)
    assert after["spec"]["clusterIP"] == second_ip
    assert after["metadata"]["uid"] != before["metadata"]["uid"]


async def test_force_annotation_recreates_a_job_with_a_new_template(kube: KubeClient, namespace: str) -> None:
    def job(image: str) -> dict[str, Any]:
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "migrate", "namespace": namespace,
                             "annotations": {"kustomize.toolkit.fluxcd.io/force": "enabled"}},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "m", "image": image}]}}}}

    await apply_all(kube, [job("migrate:1")], owner=OWNER)

    result = await apply_all(kube, [job("migrate:2")], owner=OWNER)

    assert str(result) == f"Job/{namespace}/migrate created"
    live = await kube.get("batch/v1", "Job", "migrate", namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "migrate:2"


async def test_errors_name_the_object_and_keep_the_partial_change_set(kube: KubeClient, namespace: str) -> None:
    broken = deployment(namespace, name="broken")
    del broken["spec"]["selector"]
    suffix = secrets.token_hex(3)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": f"apply-err-{suffix}"}, "rules": []}
    try:
        with pytest.raises(ApplyError) as failure:
            await apply_all(kube, [role, configmap("fine", namespace), broken], owner=OWNER)
        assert str(failure.value).startswith(f"Deployment/{namespace}/broken dry-run failed (Invalid): ")
        assert "spec.selector" in str(failure.value)
        assert str(failure.value.change_set) == f"ClusterRole/apply-err-{suffix} created"
        assert await kube.get_or_none("v1", "ConfigMap", "fine", namespace) is None, "no apply in a failed stage"
    finally:
        await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRole", f"apply-err-{suffix}")

    no_namespace = configmap("floating", namespace)
    del no_namespace["metadata"]["namespace"]
    with pytest.raises(ApplyError, match=r"^ConfigMap/floating namespace not specified"):
        await apply_all(kube, [no_namespace], owner=OWNER)
    with pytest.raises(ApplyError, match=r'no matches for kind "Gadget" in version "nowhere\.example\.com/v1"'):
        await apply_all(kube, [{"apiVersion": "nowhere.example.com/v1", "kind": "Gadget",
                                "metadata": {"name": "g", "namespace": namespace}}], owner=OWNER)


async def test_prune_deletes_only_stale_objects_that_are_still_ours(kube: KubeClient, namespace: str) -> None:
    keep = {"annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"}}
    old_set = [configmap("stays", namespace), configmap("removed", namespace), configmap("pinned", namespace, **keep),
               configmap("replaced", namespace), configmap("adopted", namespace)]
    old = inventory.from_change_set(await apply_all(kube, old_set, owner=OWNER))
    # Since the last apply: "replaced" was recreated by someone else without our labels (same name);
    # "adopted" now belongs to another Kustomization; "vanished" and a kind whose CRD is gone were tracked.
    await kube.delete("v1", "ConfigMap", "replaced", namespace)
    await kube.create(configmap("replaced", namespace, {"owner": "someone-else"}))
    await kube.patch("v1", "ConfigMap", "adopted", {"metadata": {"labels": {NAME_LABEL: "other"}}},
                     namespace=namespace)
    old += [InventoryEntry(f"{namespace}_vanished__ConfigMap", "v1"),
            InventoryEntry(f"{namespace}_w_gone.example.com_Widget", "v1")]
    new = inventory.from_change_set(await apply_all(kube, [configmap("stays", namespace)], owner=OWNER))

    stale = inventory.diff(old, new)
    result = await prune(kube, stale, owner=OWNER)

    assert result.to_map() == {
        f"ConfigMap/{namespace}/adopted": "skipped",
        f"ConfigMap/{namespace}/pinned": "skipped",
        f"ConfigMap/{namespace}/removed": "deleted",
        f"ConfigMap/{namespace}/replaced": "skipped",
        f"ConfigMap/{namespace}/vanished": "deleted",
        f"Widget/{namespace}/w": "skipped",
    }
    assert result.calls.deletes == 1
    present = {cm["metadata"]["name"] for cm in (await kube.list("v1", "ConfigMap", namespace))["items"]}
    assert {"stays", "pinned", "replaced", "adopted"} <= present
    assert "removed" not in present


async def test_delete_all_waits_for_termination(kube: KubeClient, namespace: str) -> None:
    held = configmap("held", namespace, finalizers=["headwater.dev/test-hold"])
    entries = inventory.from_change_set(
        await apply_all(kube, [configmap("plain", namespace), held], owner=OWNER))

    with pytest.raises(TerminationTimeout) as timeout:
        await delete_all(kube, entries, owner=OWNER, wait=True, timeout=1.0)
    assert isinstance(timeout.value, PruneError)
    assert [e.subject for e in timeout.value.failed] == [f"ConfigMap/{namespace}/held"]
    assert timeout.value.change_set.counts() == {Action.DELETED: 2}
    assert await kube.get_or_none("v1", "ConfigMap", "plain", namespace) is None

    await kube.patch("v1", "ConfigMap", "held", {"metadata": {"finalizers": None}}, namespace=namespace)
    done = await delete_all(kube, entries, owner=OWNER, wait=True, timeout=10.0)
    assert done.counts() == {Action.DELETED: 2}
    assert done.calls.deletes == 0


async def test_an_in_sync_memo_skips_dry_runs_until_someone_else_writes(kube: KubeClient, namespace: str) -> None:
    memo = UnchangedMemo()
    objects = [configmap("settings", namespace, {"a": "1"}), configmap("other", namespace, {"b": "2"})]
    first = await apply_all(kube, objects, owner=OWNER, memo=memo)
    assert first.counts() == {Action.CREATED: 2}
    assert len(memo) == 2  # remembered from the real applies' answers

    idle = await apply_all(kube, objects, owner=OWNER, memo=memo)
    assert idle.counts() == {Action.UNCHANGED: 2}
    assert idle.calls.dry_runs == 0
    assert idle.calls.gets == 2  # the live objects are still read: that is how other writers are noticed

    await kube.patch("v1", "ConfigMap", "settings", {"data": {"a": "changed by hand"}}, namespace=namespace,
                     field_manager="kubectl-edit")
    drifted = await apply_all(kube, objects, owner=OWNER, memo=memo)
    assert drifted.changes_log() == f"ConfigMap/{namespace}/settings configured"
    assert drifted.calls.dry_runs == 1  # only the object someone else wrote
    live = await kube.get("v1", "ConfigMap", "settings", namespace)
    assert live["data"] == {"a": "1"}

    changed = [configmap("settings", namespace, {"a": "2"}), objects[1]]
    desired = await apply_all(kube, changed, owner=OWNER, memo=memo)
    assert desired.changes_log() == f"ConfigMap/{namespace}/settings configured"
    assert (await apply_all(kube, changed, owner=OWNER, memo=memo)).calls.dry_runs == 0
