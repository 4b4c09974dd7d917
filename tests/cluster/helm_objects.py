"""Helm source objects for the cluster tests: creating HelmRepositories and HelmCharts, waiting on them, reading
their conditions and artifacts, and asking the real helm CLI about releases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.helmtools import HelmTools
from headwater.runtime.kube import KubeClient
from tests.waiting import wait_for

SRC = "source.toolkit.fluxcd.io/v1"
HR = "helm.toolkit.fluxcd.io/v2"


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


async def until(kube: KubeClient, api: str, kind: str, name: str, namespace: str, check: Any, what: str,
                timeout: float = 90) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await kube.get_or_none(api, kind, name, namespace)
        return obj if obj is not None and check(obj) else None
    found = await wait_for(probe, f"{kind} {name}: {what}", timeout=timeout)
    assert found is not None
    return found


def ready(obj: dict[str, Any]) -> bool:
    return bool(condition(obj, "Ready").get("status") == "True")


def not_ready(reason: str) -> Any:
    return lambda obj: condition(obj, "Ready").get("status") == "False" and condition(obj, "Ready")["reason"] == reason


async def helm_repository(kube: KubeClient, namespace: str, name: str, url: str, **spec: Any) -> None:
    await kube.create({"apiVersion": SRC, "kind": "HelmRepository", "metadata": {"name": name, "namespace": namespace},
                       "spec": {"interval": "10m", "url": url, **spec}})


async def helm_chart(kube: KubeClient, namespace: str, name: str, chart: str, source: tuple[str, str],
                     **spec: Any) -> None:
    await kube.create({"apiVersion": SRC, "kind": "HelmChart", "metadata": {"name": name, "namespace": namespace},
                       "spec": {"interval": "10m", "chart": chart, "sourceRef": {"kind": source[0], "name": source[1]},
                                **spec}})


async def download(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.read()


def helm_json(tools: HelmTools, cluster: ClusterInfo, home: Path, *args: str) -> Any:
    done = subprocess.run([str(tools.helm), *args, "-o", "json"], capture_output=True, text=True, timeout=120,
                          env={"HOME": str(home), "KUBECONFIG": str(cluster.kubeconfig), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def deployment_available(kube: KubeClient, name: str, namespace: str, replicas: int) -> None:
    """Wait until the Deployment is Available with `replicas` ready (kwok runs its Pods)."""
    async def available() -> bool:
        deployment = await kube.get_or_none("apps/v1", "Deployment", name, namespace)
        conditions = ((deployment or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Available" and c["status"] == "True" for c in conditions) and \
            deployment is not None and deployment["status"].get("readyReplicas") == replicas
    await wait_for(available, f"Deployment {name} Available with {replicas} replicas", timeout=120)
