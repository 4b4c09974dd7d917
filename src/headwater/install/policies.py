"""Namespace-level guard rails of an installation: the namespace itself, its quota and network policies.

* The namespace carries the instance/part-of/version labels and Pod Security "restricted" warnings.
* `critical-pods-<ns>`: the ResourceQuota that lets `system-cluster-critical` pods run outside
  kube-system (the apiserver only admits that priority class where a quota allows it).
* NetworkPolicies (`--network-policy`): `allow-egress` (pods talk among themselves and out),
  `allow-scraping` (metrics port 8080 from any namespace), `allow-webhooks` (the notification
  controller's receivers from anywhere).
"""

from __future__ import annotations

from typing import Any

from headwater.install.options import InstallOptions, common_labels

Obj = dict[str, Any]
NETWORKING = "networking.k8s.io/v1"


def namespace(opts: InstallOptions) -> Obj:
    labels = {**common_labels(opts), "pod-security.kubernetes.io/warn": "restricted",
              "pod-security.kubernetes.io/warn-version": "latest"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": opts.namespace, "labels": labels}}


def resource_quota(opts: InstallOptions) -> Obj:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": f"critical-pods-{opts.namespace}", "namespace": opts.namespace,
                         "labels": common_labels(opts)},
            "spec": {"hard": {"pods": "1000"},
                     "scopeSelector": {"matchExpressions": [
                         {"operator": "In", "scopeName": "PriorityClass",
                          "values": ["system-node-critical", "system-cluster-critical"]}]}}}


def _policy(opts: InstallOptions, name: str, spec: Obj) -> Obj:
    return {"apiVersion": NETWORKING, "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": opts.namespace, "labels": common_labels(opts)},
            "spec": spec}


def network_policies(opts: InstallOptions) -> list[Obj]:
    if not opts.network_policy:
        return []
    return [
        _policy(opts, "allow-egress", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}],
                                       "egress": [{}], "policyTypes": ["Ingress", "Egress"]}),
        _policy(opts, "allow-scraping", {"podSelector": {},
                                         "ingress": [{"from": [{"namespaceSelector": {}}],
                                                      "ports": [{"port": 8080, "protocol": "TCP"}]}],
                                         "policyTypes": ["Ingress"]}),
        _policy(opts, "allow-webhooks", {"podSelector": {"matchLabels": {"app": "notification-controller"}},
                                         "ingress": [{"from": [{"namespaceSelector": {}}]}],
                                         "policyTypes": ["Ingress"]}),
    ]
