"""The async client's server-side apply, discovery and status subresource against the real apiserver."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.runtime.kube import Conflict, KubeClient, NotFound, UnknownKind

pytestmark = pytest.mark.cluster


def config_map(namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": namespace},
            "data": data}


async def test_server_side_apply_conflicts_force_and_dry_run(kube: KubeClient, namespace: str) -> None:
    first = await kube.apply(config_map(namespace, owner="alpha"), field_manager="alpha")
    assert first["data"] == {"owner": "alpha"}

    with pytest.raises(Conflict) as conflict:
        await kube.apply(config_map(namespace, owner="beta"), field_manager="beta")
    assert 'conflict with "alpha"' in conflict.value.message
    assert ".data.owner" in conflict.value.message

    dry = await kube.apply(config_map(namespace, owner="beta"), field_manager="beta", force=True, dry_run=True)
    assert dry["data"] == {"owner": "beta"}
    assert (await kube.get("v1", "ConfigMap", "shared", namespace))["data"] == {"owner": "alpha"}

    forced = await kube.apply(config_map(namespace, owner="beta"), field_manager="beta", force=True)
    assert forced["data"] == {"owner": "beta"}
    managers = {entry["manager"] for entry in forced["metadata"]["managedFields"]}
    assert "beta" in managers

    again = await kube.apply(config_map(namespace, owner="beta"), field_manager="beta")
    assert again["metadata"]["resourceVersion"] == forced["metadata"]["resourceVersion"], "a no-op apply writes nothing"


async def test_discovery_finds_any_kind_and_reports_unknown_ones(kube: KubeClient) -> None:
    deployment = await kube.resource("apps/v1", "Deployment")
    assert (deployment.plural, deployment.namespaced) == ("deployments", True)
    cluster_role = await kube.resource("rbac.authorization.k8s.io/v1", "ClusterRole")
    assert (cluster_role.plural, cluster_role.namespaced) == ("clusterroles", False)
    lease = await kube.resource("coordination.k8s.io/v1", "Lease")
    assert "watch" in lease.verbs
    with pytest.raises(UnknownKind, match="no kind 'Nope'"):
        await kube.resource("apps/v1", "Nope")
    with pytest.raises(UnknownKind, match=r"no API group/version 'nope\.example\.com/v1'"):
        await kube.resource("nope.example.com/v1", "Thing")


async def test_delete_of_a_missing_object_is_not_an_error(kube: KubeClient, namespace: str) -> None:
    assert await kube.delete("v1", "ConfigMap", "never-existed", namespace) is None
    with pytest.raises(NotFound):
        await kube.get("v1", "ConfigMap", "never-existed", namespace)
