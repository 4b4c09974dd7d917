"""Cluster RBAC of an installation, named with the namespace suffix as Flux does (one install per namespace).

* `crd-controller-<ns>`: what every controller needs (its own kinds, reading Secrets/ConfigMaps, events,
  leases for leader election, service-account tokens), bound to every component's ServiceAccount.
* `cluster-reconciler-<ns>`: cluster-admin for the controllers that apply arbitrary objects.
* `flux-edit-<ns>` / `flux-view-<ns>`: aggregated into the built-in admin/edit/view roles so users
  granted those can manage or read Flux objects.
"""

from __future__ import annotations

from typing import Any

from headwater.install.options import TOOLKIT_GROUPS, Component, InstallOptions, common_labels

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io/v1"
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> Obj:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def crd_controller_role(opts: InstallOptions) -> Obj:
    all_verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
    rules = [_rule([group], ["*"], ["*"]) for group in TOOLKIT_GROUPS]
    rules += [
        _rule([""], ["namespaces", "secrets", "configmaps", "serviceaccounts"], ["get", "list", "watch"]),
        _rule([""], ["events"], ["create", "patch"]),
        _rule([""], ["configmaps"], all_verbs),
        _rule([""], ["configmaps/status"], ["get", "update", "patch"]),
        _rule(["coordination.k8s.io"], ["leases"], all_verbs),
        _rule([""], ["serviceaccounts/token"], ["create"]),
    ]
    return {"apiVersion": RBAC, "kind": "ClusterRole",
            "metadata": {"name": f"crd-controller-{opts.namespace}", "labels": common_labels(opts)},
            "rules": rules}


def _aggregated(opts: InstallOptions, name: str, verbs: list[str], to: list[str]) -> Obj:
    labels = {**common_labels(opts), **{f"{AGGREGATE}{role}": "true" for role in to}}
    return {"apiVersion": RBAC, "kind": "ClusterRole",
            "metadata": {"name": f"{name}-{opts.namespace}", "labels": labels},
            "rules": [_rule(list(TOOLKIT_GROUPS), ["*"], verbs)]}


def edit_role(opts: InstallOptions) -> Obj:
    return _aggregated(opts, "flux-edit", ["create", "delete", "deletecollection", "patch", "update"],
                       ["admin", "edit"])


def view_role(opts: InstallOptions) -> Obj:
    return _aggregated(opts, "flux-view", ["get", "list", "watch"], ["admin", "edit", "view"])


def _binding(opts: InstallOptions, name: str, role: str, subjects: list[Component]) -> Obj:
    return {"apiVersion": RBAC, "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{name}-{opts.namespace}", "labels": common_labels(opts)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": c.name, "namespace": opts.namespace}
                         for c in subjects]}


def cluster_roles(opts: InstallOptions) -> list[Obj]:
    return [crd_controller_role(opts), edit_role(opts), view_role(opts)]


def cluster_role_bindings(opts: InstallOptions, components: list[Component]) -> list[Obj]:
    bindings = [_binding(opts, "crd-controller", f"crd-controller-{opts.namespace}", components)]
    reconcilers = [c for c in components if c.reconciler]
    if reconcilers:
        bindings.append(_binding(opts, "cluster-reconciler", "cluster-admin", reconcilers))
    return bindings
