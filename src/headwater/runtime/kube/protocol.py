"""`KubeClient`: the Kubernetes API as headwater code sees it, whoever answers it.

Every reconciler, the Controller, informers, the applier, pruning, health checks and the event recorder
talk to the apiserver through this surface only, and type their client as `KubeClient`. Two things
implement it: `HttpKubeClient` (the real, pooled aiohttp client `connect()` returns) and the in-memory
fake in `headwater.testing.fakekube`, which lets reconcile logic be tested as data, without a cluster.

The surface, by who needs it:

- objects: `get`, `get_or_none`, `list`, `list_all`, `create`, `replace`, `apply` (server-side, dry-run),
  `patch` (merge, JSON, strategic, apply), `patch_status`, `delete`, `watch`;
- discovery: `resource` (kind → REST resource, raising `UnknownKind`), `discovery.invalidate` (after CRDs
  change), `config` (server and impersonation: the applier keys its in-sync memo by them);
- identity: `impersonating` (a view acting as a service account, sharing connections);
- raw reads for what has no typed verb: `request` (OpenAPI documents), `request_text` and
  `stream_text_lines` (pod logs), `version`;
- lifecycle: `close`, `async with`.

Errors are the classes of `headwater.runtime.kube.errors` (`NotFound`, `Conflict`, `Invalid`, `Gone`, …)
for every implementation, so callers branch on types, never on an implementation.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from headwater.runtime.kube.config import ClusterConfig, Impersonation
from headwater.runtime.kube.resource import Resource

WATCH_TIMEOUT_SECONDS = 300


class DiscoveryCache(Protocol):
    """The client's memory of which kinds the server serves."""

    def invalidate(self, api_version: str | None = None) -> None:
        """Forget one group/version (or everything), so the next lookup asks the server again."""


class KubeClient(Protocol):
    """Async access to one apiserver as one identity (see the module docstring for the surface)."""

    @property
    def config(self) -> ClusterConfig: ...

    @property
    def discovery(self) -> DiscoveryCache: ...

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> KubeClient: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def close(self) -> None: ...

    def impersonating(self, who: Impersonation | None) -> KubeClient:
        """A client acting as `who` (None: as ourselves), sharing connections and discovery."""
        ...

    # -- raw requests ------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One request; the decoded JSON answer, or the matching `ApiError` subclass raised."""
        ...

    async def request_text(self, path: str) -> str: ...

    def stream_text_lines(self, path: str) -> AsyncIterator[str]:
        """The lines of a long-lived text GET (e.g. pods/log with follow) as they arrive."""
        ...

    async def version(self) -> dict[str, Any]: ...

    # -- typed verbs -------------------------------------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> Resource:
        """Where the kind lives; raises `UnknownKind` when the server does not serve it."""
        ...

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]: ...

    async def get_or_none(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None: ...

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]: ...

    async def list_all(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every item across pages, and the list's resourceVersion (to start a watch from)."""
        ...

    async def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]: ...

    async def replace(self, obj: Mapping[str, Any], subresource: str | None = None) -> dict[str, Any]: ...

    async def apply(
        self,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply; with `dry_run` the result the apply would give, nothing stored."""
        ...

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: str = "merge",
        subresource: str | None = None,
        field_manager: str | None = None,
    ) -> dict[str, Any]: ...

    async def patch_status(
        self, obj: Mapping[str, Any], status: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        """Merge-patch the status subresource of `obj` with `status`."""
        ...

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
        dry_run: bool = False,
        uid: str | None = None,
    ) -> dict[str, Any] | None:
        """Delete; None when it was already gone."""
        ...

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = WATCH_TIMEOUT_SECONDS,
        bookmarks: bool = True,
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events (`{"type": ADDED|MODIFIED|DELETED|BOOKMARK, "object": {...}}`); an expired
        resourceVersion raises `Gone` (the caller must list again)."""
        ...


__all__ = ["WATCH_TIMEOUT_SECONDS", "DiscoveryCache", "KubeClient"]
