"""Putting an installation on a cluster: staged server-side apply, then wait for the controllers.

The apply goes through `headwater.apply.apply_all`, the same staged SSA the kustomize controller uses:
CRDs and the Namespace first, waited for until Established/Active, then everything else, each object
reported as Flux's change-set line (`Deployment/flux-system/source-controller created`). Readiness is
kstatus's verdict on each Deployment (Available with the new ReplicaSet rolled out), as `flux install`
and `flux check` assess it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from headwater.install.options import InstallError

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

FIELD_MANAGER = "flux"
Report = Callable[[str, str], None]  # (symbol, message) as flux's logger prints them


async def apply_manifests(client: KubeClient, objects: Iterable[dict[str, Any]], *, timeout: float) -> list[str]:
    """Apply (CRDs and namespaces first); the change-set lines."""
    from headwater.apply.apply import ApplyError, apply_all

    try:
        changes = await apply_all(client, objects, field_manager=FIELD_MANAGER, force=False,
                                  wait_timeout=max(1.0, timeout))
    except ApplyError as err:
        raise InstallError(f"applying the manifests failed: {err}") from err
    return [str(entry) for entry in changes.entries]


async def deployment_status(client: KubeClient, namespace: str, name: str) -> tuple[bool, str]:
    """(ready, kstatus message) of one Deployment; a missing Deployment is not ready."""
    from headwater.apply.health import CURRENT, compute_status

    obj = await client.get_or_none("apps/v1", "Deployment", name, namespace)
    if obj is None:
        return False, "Deployment not found"
    status = compute_status(obj)
    return status.status == CURRENT, status.message


async def wait_deployments(client: KubeClient, namespace: str, names: Iterable[str], *, timeout: float,
                           report: Report, poll_interval: float = 0.5) -> None:
    """Wait until each Deployment is ready, reporting `✔ <name>: deployment ready` for each."""
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            ready, message = await deployment_status(client, namespace, name)
            if ready:
                report("✔", f"{name}: deployment ready")
                break
            if time.monotonic() >= deadline:
                raise InstallError(f"{name}: deployment not ready after {timeout:g}s: {message}")
            await asyncio.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))
