"""`FakeKube`: a `KubeClient` answered from memory by a `FakeApiServer`.

It behaves as `HttpKubeClient` does towards its callers: the same verbs and defaults (a namespaced
object without a namespace goes to the client's namespace on create and apply; a get without one is
NotFound), the same errors, objects as fresh dicts, and `impersonating()` views over the same server.
Each call is logged in `server.calls` with the identity it was made as, which is how tests check what
a reconcile wrote (or did not write) and as whom.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from headwater.runtime.kube.config import ClusterConfig, Impersonation
from headwater.runtime.kube.errors import NotFound
from headwater.runtime.kube.protocol import WATCH_TIMEOUT_SECONDS, KubeClient
from headwater.runtime.kube.resource import Resource
from headwater.testing.fakekube import openapi
from headwater.testing.fakekube.kinds import KindInfo, resource_list
from headwater.testing.fakekube.server import Call, FakeApiServer
from headwater.testing.fakekube.watch import End

SERVER = "https://fake-apiserver.invalid"
VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.4-fake", "platform": "linux/amd64"}


class _NoDiscoveryCache:
    """The fake always knows its kinds: there is nothing to forget."""

    def invalidate(self, api_version: str | None = None) -> None:
        return None


class FakeKube:
    """A `KubeClient` over a `FakeApiServer` (a new, empty one unless given)."""

    def __init__(self, server: FakeApiServer | None = None, config: ClusterConfig | None = None) -> None:
        self.server = server if server is not None else FakeApiServer()
        self._config = config or ClusterConfig(server=SERVER)
        self._discovery = _NoDiscoveryCache()

    @property
    def config(self) -> ClusterConfig:
        return self._config

    @property
    def discovery(self) -> _NoDiscoveryCache:
        return self._discovery

    @property
    def user(self) -> str:
        return self._config.impersonate.user if self._config.impersonate else "admin"

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeKube:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        return None

    def impersonating(self, who: Impersonation | None) -> FakeKube:
        return FakeKube(self.server, self._config.with_impersonation(who))

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
        """Discovery, OpenAPI and `/version`; any other raw request is NotFound."""
        path = path.partition("?")[0]
        found: dict[str, Any] | None = None
        if method == "GET":
            if path == "/version":
                found = dict(VERSION)
            elif path == "/openapi/v3":
                found = openapi.index()
            elif path.startswith("/openapi/v3/"):
                found = openapi.document(path.removeprefix("/openapi/v3/"))
            elif path.startswith(("/api/", "/apis/")):
                api_version = path.removeprefix("/apis/").removeprefix("/api/")
                kinds = self.server.kinds.in_group_version(api_version)
                found = resource_list(api_version, kinds) if kinds else None
        if found is None:
            raise NotFound(404, "NotFound", f"the server could not find the requested resource ({method} {path})")
        return found

    async def request_text(self, path: str) -> str:
        """What a test put in `server.texts[path]` (e.g. a pod's log); NotFound otherwise."""
        text = self.server.texts.get(path)
        if text is None:
            raise NotFound(404, "NotFound", f"the fake apiserver serves no text at {path}")
        return text

    async def stream_text_lines(self, path: str) -> AsyncIterator[str]:
        for line in (await self.request_text(path)).splitlines(keepends=True):
            yield line

    async def version(self) -> dict[str, Any]:
        return dict(VERSION)

    # -- typed verbs -------------------------------------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> Resource:
        return self.server.kind_info(api_version, kind).resource

    def _call(self, verb: str, info: KindInfo, namespace: str | None, name: str = "", subresource: str | None = None,
              dry_run: bool = False) -> None:
        ns = (namespace or "") if info.resource.namespaced else ""
        self.server.record(Call(verb, info.api_version, info.kind, ns, name, subresource or "", dry_run, self.user))

    def _namespace_of(self, info: KindInfo, obj: Mapping[str, Any]) -> str | None:
        if not info.resource.namespaced:
            return None
        return str((obj.get("metadata") or {}).get("namespace") or self._config.namespace)

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        info = self.server.kind_info(api_version, kind)
        self._call("get", info, namespace, name)
        return self.server.read(info, namespace, name)

    async def get_or_none(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return await self.get(api_version, kind, name, namespace)
        except NotFound:
            return None

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
    ) -> dict[str, Any]:
        info = self.server.kind_info(api_version, kind)
        namespace = namespace if info.resource.namespaced else None
        self._call("list", info, namespace)
        items = self.server.list_objects(info, namespace, label_selector, field_selector)
        start = int(continue_token or 0)
        end = start + limit if limit else len(items)
        meta: dict[str, Any] = {"resourceVersion": str(self.server.revision)}
        if end < len(items):
            meta["continue"] = str(end)
        return {"apiVersion": api_version, "kind": f"{kind}List", "metadata": meta, "items": items[start:end]}

    async def list_all(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        page = await self.list(api_version, kind, namespace, label_selector=label_selector)
        return page["items"], str(page["metadata"]["resourceVersion"])

    async def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        info = self.server.kind_info(str(obj["apiVersion"]), str(obj["kind"]))
        namespace = self._namespace_of(info, obj)
        self._call("create", info, namespace, str((obj.get("metadata") or {}).get("name", "")), dry_run=dry_run)
        return self.server.create(info, obj, namespace, dry_run=dry_run)

    async def replace(self, obj: Mapping[str, Any], subresource: str | None = None) -> dict[str, Any]:
        info = self.server.kind_info(str(obj["apiVersion"]), str(obj["kind"]))
        namespace = self._namespace_of(info, obj)
        self._call("update", info, namespace, str(obj["metadata"]["name"]), subresource)
        return self.server.update(info, obj, namespace, subresource=subresource)

    async def apply(
        self,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        info = self.server.kind_info(str(obj["apiVersion"]), str(obj["kind"]))
        namespace = self._namespace_of(info, obj)
        self._call("apply", info, namespace, str(obj["metadata"]["name"]), subresource, dry_run)
        return self.server.apply(info, obj, namespace, field_manager=field_manager, dry_run=dry_run,
                                 subresource=subresource)

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
    ) -> dict[str, Any]:
        info = self.server.kind_info(api_version, kind)
        if patch_type == "apply":
            obj = {**patch, "apiVersion": api_version, "kind": kind}
            obj["metadata"] = {**(patch.get("metadata") or {}), "name": name,
                               **({"namespace": namespace} if namespace else {})}
            return await self.apply(obj, field_manager=field_manager or "fake", subresource=subresource)
        self._call("patch", info, namespace, name, subresource)
        return self.server.patch(info, namespace, name, patch, patch_type, subresource=subresource)

    async def patch_status(
        self, obj: Mapping[str, Any], status: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        meta = obj["metadata"]
        return await self.patch(obj["apiVersion"], obj["kind"], meta["name"], {"status": status},
                                namespace=meta.get("namespace"), subresource="status", field_manager=field_manager)

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
        info = self.server.kind_info(api_version, kind)
        self._call("delete", info, namespace, name, dry_run=dry_run)
        try:
            return self.server.delete(info, namespace, name, uid=uid, dry_run=dry_run)
        except NotFound:
            return None

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = WATCH_TIMEOUT_SECONDS,
        bookmarks: bool = True,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Events from `resource_version` (none: synthetic ADDED for what exists) until the server ends
        the watch (`server.end_watches()`), or `Gone` (`server.expire_watches()`, `server.compact()`).

        A watcher that stops reading before the end must `aclose()` the stream (cancelling the task
        reading it does that), or `server.settled()` waits for it forever."""
        info = self.server.kind_info(api_version, kind)
        namespace = namespace if info.resource.namespaced else None
        self._call("watch", info, namespace)
        watch = self.server.open_watch(info, namespace, label_selector, resource_version)
        try:
            while True:
                item = await watch.queue.get()
                try:
                    if isinstance(item, End):
                        return
                    if isinstance(item, BaseException):
                        raise item
                    yield item
                finally:
                    watch.handled()
        finally:
            self.server.close_watch(watch)


def fake_kube() -> KubeClient:
    """A fresh fake, typed as the protocol (mypy checks here that `FakeKube` implements it)."""
    return FakeKube()


__all__ = ["FakeKube", "fake_kube"]
