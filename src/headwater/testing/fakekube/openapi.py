"""OpenAPI v3 answers for the fake apiserver: enough field types of the core kinds for post-build.

Post-build substitution asks the apiserver's schema whether `replicas: ${REPLICAS}` is a number
(`headwater.runtime.kube.openapi`). The fake serves the same two documents a real apiserver does (the
`/openapi/v3` index and one document per group/version) with the fields tests substitute into:
ConfigMap and Secret data, Deployment replicas and containers, Service ports, Namespace metadata.
The schemas are written here as small type trees, not copied from Kubernetes; a field they leave out
is "unknown", which substitution treats as a string, as it does for a kind the apiserver has no
schema for.
"""

from __future__ import annotations

from typing import Any

# A type tree: a type name, a dict of properties, a one-element list (array of), or ("map", values).
Tree = str | dict[str, Any] | list[Any] | tuple[str, Any]

_META: dict[str, Tree] = {"name": "string", "namespace": "string", "labels": ("map", "string"),
                          "annotations": ("map", "string")}
_CONTAINER: dict[str, Tree] = {
    "name": "string", "image": "string", "args": ["string"], "command": ["string"],
    "env": [{"name": "string", "value": "string"}],
    "ports": [{"name": "string", "containerPort": "integer", "protocol": "string"}],
    "resources": {"limits": ("map", "int-or-string"), "requests": ("map", "int-or-string")},
}
_POD_TEMPLATE: dict[str, Tree] = {"metadata": _META, "spec": {
    "containers": [_CONTAINER], "initContainers": [_CONTAINER], "serviceAccountName": "string",
    "terminationGracePeriodSeconds": "integer", "hostNetwork": "boolean"}}
_WORKLOAD_SPEC: dict[str, Tree] = {
    "replicas": "integer", "paused": "boolean", "revisionHistoryLimit": "integer", "minReadySeconds": "integer",
    "progressDeadlineSeconds": "integer", "selector": {"matchLabels": ("map", "string")}, "template": _POD_TEMPLATE,
}

KINDS: dict[tuple[str, str], dict[str, Tree]] = {
    ("v1", "ConfigMap"): {"data": ("map", "string"), "binaryData": ("map", "string"), "immutable": "boolean"},
    ("v1", "Secret"): {"data": ("map", "string"), "stringData": ("map", "string"), "type": "string",
                       "immutable": "boolean"},
    ("v1", "Namespace"): {"spec": {"finalizers": ["string"]}},
    ("v1", "ServiceAccount"): {"automountServiceAccountToken": "boolean"},
    ("v1", "Service"): {"spec": {
        "type": "string", "clusterIP": "string", "selector": ("map", "string"),
        "ports": [{"name": "string", "port": "integer", "targetPort": "int-or-string", "nodePort": "integer",
                   "protocol": "string"}]}},
    ("apps/v1", "Deployment"): {"spec": _WORKLOAD_SPEC},
    ("apps/v1", "StatefulSet"): {"spec": {**_WORKLOAD_SPEC, "serviceName": "string"}},
}


def schema(tree: Tree) -> dict[str, Any]:
    """An OpenAPI schema for a type tree."""
    if isinstance(tree, str):
        return {"x-kubernetes-int-or-string": True} if tree == "int-or-string" else {"type": tree}
    if isinstance(tree, tuple):
        return {"type": "object", "additionalProperties": schema(tree[1])}
    if isinstance(tree, list):
        return {"type": "array", "items": schema(tree[0])}
    return {"type": "object", "properties": {name: schema(sub) for name, sub in tree.items()}}


def document_key(api_version: str) -> str:
    """`api/v1` or `apis/<group>/<version>`: how `/openapi/v3` names a group/version."""
    return f"apis/{api_version}" if "/" in api_version else f"api/{api_version}"


def index() -> dict[str, Any]:
    """The `/openapi/v3` answer: where each group/version's document is."""
    keys = sorted({document_key(api_version) for api_version, _ in KINDS})
    return {"paths": {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash=fake"} for key in keys}}


def document(key: str) -> dict[str, Any] | None:
    """The document of one group/version (`api/v1`, `apis/apps/v1`), or None."""
    schemas: dict[str, Any] = {}
    for (api_version, kind), fields in KINDS.items():
        if document_key(api_version) != key:
            continue
        group, _, version = api_version.rpartition("/")
        body = schema({"apiVersion": "string", "kind": "string", "metadata": _META, **fields})
        body["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
        schemas[f"{api_version.replace('/', '.')}.{kind}"] = body
    return {"openapi": "3.0.0", "components": {"schemas": schemas}} if schemas else None


__all__ = ["KINDS", "document", "document_key", "index", "schema"]
