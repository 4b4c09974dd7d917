"""Where and as whom a HelmRelease's Helm actions run: the engine's kube target.

The engine takes a kubeconfig's content, never a path (a request cannot point it at a file). For the
controller's own cluster that kubeconfig is written from the controller's client configuration
(or left empty in a Pod: the engine then uses its in-cluster identity); `spec.kubeConfig.secretRef`
gives a remote cluster's. `spec.serviceAccountName` (or `--default-service-account`) is impersonated
with the groups Kubernetes gives a ServiceAccount, as Flux does.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from headwater.helm.engine import KubeTarget
from headwater.runtime.kube.config import ClusterConfig, Impersonation


def kubeconfig_of(config: ClusterConfig) -> str:
    """A kubeconfig (JSON is YAML) for one client configuration, or "" for the in-cluster identity."""
    if config.context_name == "in-cluster":
        return ""
    cluster: dict[str, Any] = {"server": config.server}
    if config.ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(config.ca_data).decode()
    if config.insecure:
        cluster["insecure-skip-tls-verify"] = True
    user: dict[str, Any] = {}
    if config.client_cert_data and config.client_key_data:
        user["client-certificate-data"] = base64.b64encode(config.client_cert_data).decode()
        user["client-key-data"] = base64.b64encode(config.client_key_data).decode()
    if config.token_file:
        user["tokenFile"] = config.token_file
    elif config.token:
        user["token"] = config.token
    if config.username:
        user["username"], user["password"] = config.username, config.password or ""
    document = {"apiVersion": "v1", "kind": "Config", "current-context": "controller",
                "clusters": [{"name": "controller", "cluster": cluster}],
                "users": [{"name": "controller", "user": user}],
                "contexts": [{"name": "controller", "context": {"cluster": "controller", "user": "controller"}}]}
    return json.dumps(document)


def kube_target(kubeconfig: str, service_account: str | None, namespace: str,
                qps: float = 0.0, burst: int = 0) -> KubeTarget:
    """The target for a HelmRelease in `namespace` acting as `service_account` (None: the controller)."""
    target = KubeTarget(kubeconfig=kubeconfig, qps=qps, burst=burst)
    if service_account:
        who = Impersonation.service_account(namespace, service_account)
        target.impersonate, target.impersonate_groups = who.user, list(who.groups)
    return target
