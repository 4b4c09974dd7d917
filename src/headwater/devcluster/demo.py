"""The demo a newcomer runs first: a real cluster, an app deployed to it, converging live.

For now it shows the foundation working (control plane, scheduler, kwok nodes): a 3-replica Deployment
is applied and its rollout is printed until it is Available. The GitOps demo (Git server, controllers,
bootstrap) grows from here.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater.devcluster.cluster import Cluster
from headwater.runtime.kube import KubeClient, connect

DEMO_NAMESPACE = "demo"
FIELD_MANAGER = "headwater-demo"


def demo_objects() -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": "hello"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEMO_NAMESPACE}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hello", "namespace": DEMO_NAMESPACE, "labels": labels},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "hello", "image": "ghcr.io/stefanprodan/podinfo:6.7.0"}]},
                },
            },
        },
    ]


def run_demo(name: str, progress: Callable[[str], None], echo: Callable[[str], None]) -> None:
    info = Cluster(name).up(progress)
    asyncio.run(_deploy_and_watch(connect(info.kubeconfig), progress))
    echo("")
    echo(f"The cluster is yours. Its kubeconfig: {info.kubeconfig}")
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"  # the pinned one
    echo(f"  export KUBECONFIG={info.kubeconfig}")
    echo(f"  {kubectl} get deployments,pods -n {DEMO_NAMESPACE}")
    echo(f"  {kubectl} scale deployment hello -n {DEMO_NAMESPACE} --replicas=5   # watch it converge")
    echo(f"Stop everything with: headwater dev down --name {name}")


async def _deploy_and_watch(kube: KubeClient, progress: Callable[[str], None], timeout: float = 60) -> None:
    async with kube:
        for obj in demo_objects():
            await kube.apply(obj, field_manager=FIELD_MANAGER, force=True)
            progress(f"applied {obj['kind']}/{obj['metadata']['name']}")
        started = time.monotonic()
        last = ""
        while time.monotonic() - started < timeout:
            deployment = await kube.get("apps/v1", "Deployment", "hello", DEMO_NAMESPACE)
            status = deployment.get("status") or {}
            line = (f"Deployment/hello: {status.get('readyReplicas', 0)}/{deployment['spec']['replicas']} "
                    f"ready, {status.get('availableReplicas', 0)} available")
            if line != last:
                progress(line)
                last = line
            if any(c.get("type") == "Available" and c.get("status") == "True"
                   for c in status.get("conditions") or []) and status.get("readyReplicas") == 3:
                progress(f"Deployment/hello is Available after {time.monotonic() - started:.1f}s")
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"Deployment/hello did not become Available within {timeout:.0f}s")
