"""A stand-in for `KubeClient` with just what the CLI's cluster commands call, for tests without a cluster.

It holds objects, serves discovery documents for a few built-in kinds and the Flux kinds, and answers a
reconcile request as a controller would: a merge patch carrying `reconcile.fluxcd.io/requestedAt` marks
the object handled (`status.lastHandledReconcileAt`) and Ready at once. `patched` records the order of
reconcile requests, so tests can see that `--with-source` reconciles the source first.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from headwater.api.kinds import ALL_KINDS

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"

#: (apiVersion, kind, plural, singular, short names, namespaced): the built-in kinds the tests trace.
BUILT_IN = [
    ("v1", "ConfigMap", "configmaps", "configmap", ["cm"], True),
    ("v1", "Namespace", "namespaces", "namespace", ["ns"], False),
    ("v1", "Pod", "pods", "pod", ["po"], True),
    ("apps/v1", "Deployment", "deployments", "deployment", ["deploy"], True),
    ("apps/v1", "StatefulSet", "statefulsets", "statefulset", ["sts"], True),
    ("v1", "Event", "events", "event", ["ev"], True),
]


class FakeResource:
    def __init__(self, namespaced: bool) -> None:
        self.namespaced = namespaced


class FakeCluster:
    timeout = 30.0

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.patched: list[str] = []
        self.kinds = [*BUILT_IN, *((k.api_version, k.kind, k.plural, k.singular, list(k.short_names), True)
                                   for k in ALL_KINDS)]
        for obj in objects:
            self.add(obj)

    def add(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta.get("namespace") or "", meta["name"])] = copy.deepcopy(obj)

    def _namespaced(self, api_version: str, kind: str) -> bool:
        from headwater.runtime.kube import UnknownKind

        for served in self.kinds:
            if served[0] == api_version and served[1] == kind:
                return served[5]
        raise UnknownKind(f"the cluster serves no kind {kind!r} in {api_version!r}")

    # -- what the CLI calls ----------------------------------------------------------------------

    async def request(self, method: str, path: str) -> dict[str, Any]:
        from headwater.runtime.kube import NotFound

        if path == "/apis":
            versions = sorted({served[0] for served in self.kinds if "/" in served[0]})
            return {"groups": [{"name": v.split("/")[0], "preferredVersion": {"groupVersion": v}} for v in versions]}
        api_version = path.removeprefix("/api/").removeprefix("/apis/")
        resources = [{"name": plural, "singularName": singular, "kind": kind, "shortNames": short,
                      "namespaced": namespaced}
                     for version, kind, plural, singular, short, namespaced in self.kinds if version == api_version]
        if not resources:
            raise NotFound(404, "NotFound", f"the server could not find {path}")
        return {"resources": resources}

    async def resource(self, api_version: str, kind: str) -> FakeResource:
        return FakeResource(self._namespaced(api_version, kind))

    async def get_or_none(self, api_version: str, kind: str, name: str,
                          namespace: str | None = None) -> dict[str, Any] | None:
        self._namespaced(api_version, kind)
        found = self.objects.get((kind, namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        from headwater.runtime.kube import NotFound

        found = await self.get_or_none(api_version, kind, name, namespace)
        if found is None:
            raise NotFound(404, "NotFound", f"{kind} {name!r} not found")
        return found

    async def list_all(self, api_version: str, kind: str, namespace: str | None = None,
                       label_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        self._namespaced(api_version, kind)
        items = [copy.deepcopy(obj) for (each, ns, _), obj in sorted(self.objects.items())
                 if each == kind and (namespace is None or ns == namespace)]
        return items, "1"

    async def list(self, api_version: str, kind: str, namespace: str | None = None, *,
                   field_selector: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """Events (`kind` Event), filtered by an `involvedObject.kind=…,involvedObject.name=…` selector."""
        wanted = dict(term.split("=", 1) for term in (field_selector or "").split(",") if term)
        items = [obj for obj in (await self.list_all(api_version, kind, namespace))[0]
                 if all(str(obj.get("involvedObject", {}).get(key.removeprefix("involvedObject."))) == value
                        for key, value in wanted.items())]
        return {"items": items, "metadata": {"resourceVersion": "1"}}

    async def patch(self, api_version: str, kind: str, name: str, patch: dict[str, Any], *,
                    namespace: str | None = None, field_manager: str = "") -> dict[str, Any]:
        obj = self.objects[(kind, namespace or "", name)]
        for section, values in patch.items():
            target = obj.setdefault(section, {})
            for key, value in values.items():
                if isinstance(value, dict):
                    target.setdefault(key, {}).update(value)
                else:
                    target[key] = value
        token = ((patch.get("metadata") or {}).get("annotations") or {}).get(REQUESTED_AT)
        if token:
            self.patched.append(f"{kind}/{name}")
            status = obj.setdefault("status", {})
            status["lastHandledReconcileAt"] = token
            status["conditions"] = [{"type": "Ready", "status": "True", "message": "ok"}]
        return copy.deepcopy(obj)

    async def close(self) -> None:
        pass


def use(monkeypatch: pytest.MonkeyPatch, cluster: FakeCluster) -> None:
    """Make the CLI's `connect()` hand out `cluster`."""
    import headwater.runtime.kube as kube

    monkeypatch.setattr(kube, "connect", lambda *args, **kwargs: cluster)
