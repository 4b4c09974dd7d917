"""Field types from the apiserver's OpenAPI v3 documents, for any kind it serves (built-in or CRD).

Post-build substitution needs to know whether `replicas: ${REPLICAS}` should become a number: Flux
decides from the quoting in the source files, which `kubectl kustomize` does not preserve. The
apiserver's schema answers the same question exactly. Documents are fetched once per group/version and
kept; a kind's schema is found by its `x-kubernetes-group-version-kind`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import KubeError

PathPart = str | int


class OpenAPITypes:
    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self._index: dict[str, str] | None = None
        self._documents: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()

    async def type_at(self, api_version: str, kind: str, path: Sequence[PathPart]) -> str | None:
        """`integer`, `number`, `boolean`, `string`, `object`, `array`, or None when unknown."""
        document = await self._document(api_version)
        if document is None:
            return None
        schemas = (document.get("components") or {}).get("schemas") or {}
        group, _, version = api_version.rpartition("/")
        wanted = {"group": group, "version": version, "kind": kind}
        schema = next((s for s in schemas.values() if wanted in (s.get("x-kubernetes-group-version-kind") or [])),
                      None)
        for part in path:
            if schema is None:
                return None
            schema = _resolve(schema, schemas)
            if isinstance(part, int):
                schema = schema.get("items")
            else:
                properties = schema.get("properties") or {}
                schema = properties.get(part) if part in properties else _additional(schema)
        if schema is None:
            return None
        schema = _resolve(schema, schemas)
        found = schema.get("type")
        if isinstance(found, str):
            return found
        if schema.get("x-kubernetes-int-or-string"):
            return "int-or-string"
        return None

    async def _document(self, api_version: str) -> dict[str, Any] | None:
        key = f"apis/{api_version}" if "/" in api_version else f"api/{api_version}"
        if key in self._documents:
            return self._documents[key]
        async with self._lock:
            if key in self._documents:
                return self._documents[key]
            try:
                if self._index is None:
                    paths = (await self.kube.request("GET", "/openapi/v3")).get("paths") or {}
                    self._index = {name: str(entry.get("serverRelativeURL")) for name, entry in paths.items()}
                url = self._index.get(key)
                document = await self.kube.request("GET", url) if url else None
            except KubeError:
                return None
            if document is not None:
                self._documents[key] = document
            return document

    def forget(self) -> None:
        """Drop cached documents (e.g. after CRDs changed)."""
        self._index = None
        self._documents.clear()


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    for _ in range(10):
        ref = schema.get("$ref")
        if not ref and schema.get("allOf") and len(schema["allOf"]) == 1:
            ref = schema["allOf"][0].get("$ref")
        if not ref:
            return schema
        schema = schemas.get(str(ref).rsplit("/", 1)[-1]) or {}
    return schema


def _additional(schema: dict[str, Any]) -> dict[str, Any] | None:
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, dict) else None
