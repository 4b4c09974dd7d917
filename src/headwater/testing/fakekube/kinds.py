"""The kinds the fake apiserver serves: a few built-in ones, every Flux kind, and CRDs applied to it.

Discovery is what decides, for the real client and the applier, whether a kind exists, where it lives
and whether it is namespaced; the fake answers the same questions from this table. `status` says
whether the kind has a status subresource (writes to the object then leave its status alone, and only
`patch_status` changes it), as it does on a real apiserver.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from headwater.api.kinds import ALL_KINDS
from headwater.runtime.kube.resource import Resource

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class KindInfo:
    resource: Resource
    status: bool  # has a status subresource

    @property
    def api_version(self) -> str:
        return self.resource.api_version

    @property
    def kind(self) -> str:
        return self.resource.kind


def _kind(api_version: str, kind: str, plural: str, *, namespaced: bool = True, status: bool = False) -> KindInfo:
    group, _, version = api_version.rpartition("/")
    return KindInfo(Resource(group, version, kind, plural, namespaced, VERBS), status)


BUILT_IN: tuple[KindInfo, ...] = (
    _kind("v1", "ConfigMap", "configmaps"),
    _kind("v1", "Secret", "secrets"),
    _kind("v1", "ServiceAccount", "serviceaccounts"),
    _kind("v1", "Event", "events"),
    _kind("v1", "Service", "services", status=True),
    _kind("v1", "Pod", "pods", status=True),
    _kind("v1", "Namespace", "namespaces", namespaced=False, status=True),
    _kind("apps/v1", "Deployment", "deployments", status=True),
    _kind("apps/v1", "StatefulSet", "statefulsets", status=True),
    _kind("apps/v1", "DaemonSet", "daemonsets", status=True),
    _kind("batch/v1", "Job", "jobs", status=True),
    _kind("coordination.k8s.io/v1", "Lease", "leases"),
    _kind("events.k8s.io/v1", "Event", "events"),
    _kind("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    _kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _kind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions",
          namespaced=False, status=True),
)

FLUX: tuple[KindInfo, ...] = tuple(
    _kind(api_version, k.kind, k.plural, namespaced=k.scope == "Namespaced", status=k.status is not None)
    for k in ALL_KINDS for api_version in k.api_versions()
)


def crd_kinds(crd: Mapping[str, Any]) -> list[KindInfo]:
    """The kinds a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    found = []
    for version in spec.get("versions") or []:
        if version.get("served", True):
            status = "status" in (version.get("subresources") or {})
            found.append(_kind(f"{spec.get('group')}/{version.get('name')}", str(names.get("kind")),
                               str(names.get("plural")), namespaced=spec.get("scope") != "Cluster", status=status))
    return found


class KindTable:
    """Kinds by (apiVersion, kind); starts with the built-in and Flux kinds."""

    def __init__(self, kinds: Iterable[KindInfo] = (*BUILT_IN, *FLUX)) -> None:
        self._kinds: dict[tuple[str, str], KindInfo] = {}
        for info in kinds:
            self.add(info)

    def add(self, info: KindInfo) -> None:
        self._kinds[(info.api_version, info.kind)] = info

    def remove(self, api_version: str, kind: str) -> None:
        self._kinds.pop((api_version, kind), None)

    def find(self, api_version: str, kind: str) -> KindInfo | None:
        return self._kinds.get((api_version, kind))

    def in_group_version(self, api_version: str) -> list[KindInfo]:
        return [info for (version, _), info in self._kinds.items() if version == api_version]

    def api_versions(self) -> list[str]:
        return sorted({version for version, _ in self._kinds})


def resource_list(api_version: str, kinds: Iterable[KindInfo]) -> dict[str, Any]:
    """The `APIResourceList` discovery document of one group/version."""
    resources: list[dict[str, Any]] = []
    for info in kinds:
        res = info.resource
        resources.append({"name": res.plural, "singularName": res.kind.lower(), "namespaced": res.namespaced,
                          "kind": res.kind, "verbs": list(res.verbs)})
        if info.status:
            resources.append({"name": f"{res.plural}/status", "singularName": "", "namespaced": res.namespaced,
                              "kind": res.kind, "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": resources}


__all__ = ["BUILT_IN", "FLUX", "KindInfo", "KindTable", "crd_kinds", "resource_list"]
