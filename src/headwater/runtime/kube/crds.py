"""Install CustomResourceDefinitions and wait until the apiserver serves them.

A CRD is usable only once its `Established` condition is True; creating custom objects before then
fails with 404. Used by the test harness, `headwater install` and the demo.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from headwater.runtime.kube.client import KubeClient

CRD_API = "apiextensions.k8s.io/v1"


def load_manifests(paths: Iterable[Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def is_established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def install_crds(
    kube: KubeClient, crds: Iterable[dict[str, Any]], *, field_manager: str = "headwater", timeout: float = 30.0
) -> list[str]:
    """Server-side apply each CRD, then wait until every one is Established. Returns their names."""
    names = []
    for crd in crds:
        if crd.get("kind") != "CustomResourceDefinition":
            raise ValueError(f"not a CustomResourceDefinition: {crd.get('kind')}/{crd.get('metadata', {}).get('name')}")
        await kube.apply(crd, field_manager=field_manager, force=True)
        names.append(crd["metadata"]["name"])
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in sorted(pending):
            if is_established(await kube.get(CRD_API, "CustomResourceDefinition", name)):
                pending.discard(name)
        if not pending:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not Established after {timeout:.0f}s: {', '.join(sorted(pending))}")
        await asyncio.sleep(0.1)
    for group_version in await _served_group_versions(names, kube):
        kube.discovery.invalidate(group_version)
    return names


async def _served_group_versions(names: list[str], kube: KubeClient) -> set[str]:
    versions: set[str] = set()
    for name in names:
        crd = await kube.get(CRD_API, "CustomResourceDefinition", name)
        group = crd["spec"]["group"]
        versions.update(f"{group}/{v['name']}" for v in crd["spec"]["versions"] if v.get("served"))
    return versions
