"""Builders of the Flux objects and manifests the reconcile tables seed into the fake apiserver."""

from __future__ import annotations

import base64
from typing import Any

from tests.unit.reconcile.expect import ready_condition
from tests.unit.reconcile.harness import KS_API, NAMESPACE, SOURCE_API

Obj = dict[str, Any]
OWNER_LABELS = {"kustomize.toolkit.fluxcd.io/name": "app", "kustomize.toolkit.fluxcd.io/namespace": NAMESPACE}


def config_map_yaml(name: str = "settings", **data: str) -> str:
    values = ", ".join(f"{k}: '{v}'" for k, v in (data or {"a": "1"}).items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {NAMESPACE}}}\ndata: {{{values}}}\n"


def deployment_yaml(name: str = "web", replicas: str = "1") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: app, image: "example.invalid/{name}:1"}}]}}
"""


def git_repository(name: str = "repo", namespace: str = NAMESPACE, artifact: Obj | None = None,
                   **spec: Any) -> Obj:
    obj: Obj = {"apiVersion": SOURCE_API, "kind": "GitRepository", "metadata": {"name": name, "namespace": namespace},
                "spec": {"url": "https://git.example.invalid/repo.git", "interval": "10m", **spec}}
    if artifact is not None:
        obj["status"] = {"artifact": artifact, "conditions": [ready_condition()], "observedGeneration": 1}
    return obj


def kustomization(name: str, *, status: Obj | None = None, annotations: dict[str, str] | None = None,
                  **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": NAMESPACE}
    if annotations:
        meta["annotations"] = annotations
    obj: Obj = {"apiVersion": KS_API, "kind": "Kustomization", "metadata": meta,
                "spec": {"interval": "10m", "retryInterval": "2m", "path": "./", "prune": True,
                         "sourceRef": {"kind": "GitRepository", "name": "repo"}, **spec}}
    if status is not None:
        obj["status"] = status
    return obj


def applied(revision: str, ready: bool = True) -> Obj:
    """The status of a Kustomization that applied `revision` (Ready, or not)."""
    return {"conditions": [ready_condition("ReconciliationSucceeded" if ready else "HealthCheckFailed",
                                           "True" if ready else "False")],
            "observedGeneration": 1, "lastAppliedRevision": revision, "lastAttemptedRevision": revision}


def secret(name: str, namespace: str = NAMESPACE, **data: str) -> Obj:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": encoded}


def config_map(name: str, namespace: str = NAMESPACE, **data: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def deployment_status(ready: bool) -> Any:
    """A status hook standing in for the Deployment controller: rolled out, or past its deadline."""

    def hook(obj: Obj) -> Obj:
        generation = obj["metadata"].get("generation", 1)
        replicas = int((obj.get("spec") or {}).get("replicas", 1))
        if not ready:
            return {"observedGeneration": generation, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet has timed out progressing."}]}
        return {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas, "availableReplicas": replicas, "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}

    return hook


__all__ = ["OWNER_LABELS", "applied", "config_map", "config_map_yaml", "deployment_status", "deployment_yaml",
           "git_repository", "kustomization", "secret"]
