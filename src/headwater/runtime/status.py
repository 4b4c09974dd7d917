"""Writing an object's status: the one apiserver write a reconcile makes about its own object.

Handed to each reconcile (``ctx.status_writer``) instead of the whole Controller, so a reconciler can
show progress before a long step and nothing else of the loop is within its reach.
"""

from __future__ import annotations

from typing import Any

from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import NotFound


class StatusWriter:
    """Merge-patches the status subresource with the object's whole status, as field manager ``owner``."""

    def __init__(self, kube: KubeClient, field_manager: str) -> None:
        self.kube = kube
        self.field_manager = field_manager
        self.writes = 0  # status writes made (observability and tests)

    async def write(self, obj: dict[str, Any]) -> None:
        try:
            await self.kube.patch_status(obj, obj.get("status") or {}, field_manager=self.field_manager)
            self.writes += 1
        except NotFound:
            pass  # deleted meanwhile; nothing left to report on


__all__ = ["StatusWriter"]
