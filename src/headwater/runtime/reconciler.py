"""The reconciler contract: one required method, four optional hooks with declared defaults.

controller-runtime's `Reconcile(ctx, req) (Result, error)` is the model. A headwater reconciler says
which kind it reconciles (``api_version``, ``kind``) and implements ``reconcile``; the hooks below have
defaults here (``finalize``, ``close``, ``is_static``, ``retry_interval``), so the Controller calls
them directly instead of probing with ``getattr`` and a new
reconciler sees in one place what it may override.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from headwater.runtime.context import ReconcileContext
    from headwater.runtime.result import Result


class Reconciler(ABC):
    """Base of every reconciler (see the module docstring)."""

    api_version: ClassVar[str]
    kind: ClassVar[str]

    @abstractmethod
    async def reconcile(self, ctx: ReconcileContext) -> Result:
        """Make the world match ``ctx.obj``'s spec and record what was found in its status."""

    async def finalize(self, ctx: ReconcileContext) -> None:  # noqa: B027 (an optional hook)
        """Clean up before the object's finalizer is removed; raise to retry later. Default: nothing."""

    async def close(self) -> None:  # noqa: B027 (an optional hook)
        """Release what the reconciler holds (connections, caches) when its controller stops."""

    def is_static(self, obj: dict[str, Any]) -> bool:
        """Whether ``obj`` is a static object the controller keeps no state for; default: never.

        Flux's OCI HelmRepository is one: a holder of a URL and credentials that HelmCharts read, with no
        finalizer and an empty status. For such an object the controller removes a finalizer and a status
        left from before (calling ``finalize`` first) and does nothing else.
        """
        return False

    def retry_interval(self, obj: dict[str, Any]) -> float | None:
        """Seconds until a failed object is retried; ``None`` means exponential backoff (the default).

        Flux's appliers (kustomize, helm) retry at ``spec.retryInterval`` instead of backing off.
        """
        return None


__all__ = ["Reconciler"]
