"""A HelmRelease's values: `spec.valuesFrom` resolved from ConfigMaps and Secrets, composed by the engine.

Resolution is Flux's (fluxcd/pkg chartutil): each reference read once per reconcile; a missing object
or key is an error unless `optional`; the key defaults to `values.yaml`; the messages are Flux's
("could not resolve Secret chart values reference 'ns/name' with key 'values.yaml': ..."). The merge
itself, and Helm's `--set` parser for `targetPath`, run in the engine so the result is Helm's to the
type (`values.py` never parses a `--set` expression itself).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from headwater.helm.engine import EngineError, HelmEngine
from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import NotFound


class ValuesError(Exception):
    """A values reference could not be resolved; the message is Flux's."""

    reason = "InitFailed"


@dataclass(frozen=True)
class ComposedValues:
    values: dict[str, Any]
    config_digest: str


def describe(ref: dict[str, Any], namespace: str) -> str:
    optional = "optional " if ref.get("optional") else ""
    key = ref.get("valuesKey") or "values.yaml"
    return f"{optional}{ref.get('kind')} chart values reference '{namespace}/{ref.get('name')}' with key '{key}'"


async def resolve_layers(kube: KubeClient, namespace: str, refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The engine's value layers for `refs`, read from the cluster (each object once)."""
    objects: dict[tuple[str, str], dict[str, Any] | None] = {}
    layers = []
    for ref in refs:
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        label = describe(ref, namespace)
        if kind not in ("ConfigMap", "Secret"):
            raise ValuesError(f"could not resolve {label}: unsupported values reference kind")
        if (kind, name) not in objects:
            try:
                objects[(kind, name)] = await kube.get("v1", kind, name, namespace)
            except NotFound:
                objects[(kind, name)] = None
        found = objects[(kind, name)]
        if found is None:
            if ref.get("optional"):
                continue
            raise ValuesError(f"could not resolve {label}: resource not found")
        key = str(ref.get("valuesKey") or "values.yaml")
        data = (found.get("data") or {})
        if key not in data:
            if ref.get("optional"):
                continue
            raise ValuesError(f"could not resolve {label}: key not found")
        text = data[key]
        if kind == "Secret":
            try:
                text = base64.b64decode(text, validate=True).decode("utf-8")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise ValuesError(f"could not resolve {label}: failed to read values data") from None
        layers.append({"data": text, "target_path": ref.get("targetPath") or "", "literal": bool(ref.get("literal")),
                       "source": label})
    return layers


async def compose(engine: HelmEngine, kube: KubeClient, namespace: str, spec: dict[str, Any]) -> ComposedValues:
    layers = await resolve_layers(kube, namespace, list(spec.get("valuesFrom") or []))
    try:
        result = await engine.call("values", {"layers": layers, "values": spec.get("values") or {}})
    except EngineError as err:
        raise ValuesError(err.message) from None
    return ComposedValues(values=result["values"] or {}, config_digest=result["config_digest"])
