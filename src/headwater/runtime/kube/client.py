"""A thin async Kubernetes client that speaks plain JSON dicts.

Controllers handle thousands of objects, so the hot path stays as close to the wire as possible: objects
are the decoded JSON dicts the apiserver sent (no model classes built per object), requests go over one
pooled aiohttp session, and resource paths come from a discovery cache. The client covers what
controllers need: CRUD, server-side apply with a field manager, status subresources, paging, watches
with bookmarks, discovery of any group/version/kind, and impersonation (a view of the client that adds
`Impersonate-*` headers and shares the connection pool).

A controller's client paces itself with a token bucket (`ratelimit.py`, `--kube-api-qps`/`--kube-api-burst`)
as client-go does: every request but a watch waits for a token. Impersonating views share the bucket of
the client they come from, so a controller's budget is per apiserver, whoever it acts as.

`HttpKubeClient` is the implementation of the `KubeClient` protocol (`protocol.py`) that talks to a real
apiserver; code types its client as `KubeClient` so that the in-memory fake can stand in for it.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from headwater.runtime.kube.config import ClusterConfig, Impersonation
from headwater.runtime.kube.errors import ClusterUnreachable, Gone, NotFound, UnknownKind, from_status
from headwater.runtime.kube.protocol import WATCH_TIMEOUT_SECONDS, KubeClient
from headwater.runtime.kube.ratelimit import TokenBucket
from headwater.runtime.kube.resource import Resource

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": APPLY_PATCH,
}
DEFAULT_TIMEOUT = 30.0


class Discovery:
    """Group/version → kinds, fetched once per group/version and refreshed on a miss."""

    def __init__(self) -> None:
        self._by_gv: dict[str, dict[str, Resource]] = {}
        self._lock = asyncio.Lock()

    def invalidate(self, api_version: str | None = None) -> None:
        if api_version is None:
            self._by_gv.clear()
        else:
            self._by_gv.pop(api_version, None)

    async def resource(self, client: HttpKubeClient, api_version: str, kind: str) -> Resource:
        known = self._by_gv.get(api_version)
        if known is not None and kind in known:
            return known[kind]
        async with self._lock:
            self._by_gv[api_version] = await self._fetch(client, api_version)
        found = self._by_gv[api_version].get(kind)
        if found is None:
            raise UnknownKind(f"the cluster serves no kind {kind!r} in {api_version!r}")
        return found

    async def _fetch(self, client: HttpKubeClient, api_version: str) -> dict[str, Resource]:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{version}"
        try:
            listing = await client.request("GET", path)
        except NotFound as err:
            raise UnknownKind(f"the cluster serves no API group/version {api_version!r}") from err
        kinds: dict[str, Resource] = {}
        for item in listing.get("resources", []):
            if "/" in item["name"]:  # subresources such as deployments/status
                continue
            kinds[item["kind"]] = Resource(
                group=group, version=version, kind=item["kind"], plural=item["name"],
                namespaced=bool(item.get("namespaced")), verbs=tuple(item.get("verbs", ())),
            )
        return kinds


class HttpKubeClient:
    """`KubeClient` over HTTP: one apiserver as one identity; cheap `impersonating()` views share the pool."""

    def __init__(
        self,
        config: ClusterConfig,
        *,
        user_agent: str = "headwater",
        max_connections: int = 64,
        timeout: float = DEFAULT_TIMEOUT,
        rate_limiter: TokenBucket | None = None,
        _shared: HttpKubeClient | None = None,
    ) -> None:
        self.config = config
        self.user_agent = user_agent
        self.timeout = timeout
        self._max_connections = max_connections
        self._root: HttpKubeClient = _shared._root if _shared else self
        self.discovery: Discovery = _shared.discovery if _shared else Discovery()
        self.rate_limiter: TokenBucket | None = _shared.rate_limiter if _shared else rate_limiter
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool = config.ssl_context() if _shared is None else _shared._ssl

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> HttpKubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        root = self._root
        if root._session is not None:
            await root._session.close()
            root._session = None

    def impersonating(self, who: Impersonation | None) -> HttpKubeClient:
        """A client acting as `who` (None: as ourselves) over the same connections and discovery."""
        return HttpKubeClient(self.config.with_impersonation(who), user_agent=self.user_agent,
                          timeout=self.timeout, _shared=self._root)

    def _get_session(self) -> aiohttp.ClientSession:
        root = self._root
        if root._session is None or root._session.closed:
            connector = aiohttp.TCPConnector(limit=root._max_connections, ssl=root._ssl)
            root._session = aiohttp.ClientSession(connector=connector)
        return root._session

    def _headers(self, content_type: str | None, accept: str = JSON) -> dict[str, str] | list[tuple[str, str]]:
        headers: list[tuple[str, str]] = [("Accept", accept), ("User-Agent", self.user_agent)]
        if content_type:
            headers.append(("Content-Type", content_type))
        token = self.config.bearer_token()
        if token:
            headers.append(("Authorization", f"Bearer {token}"))
        elif self.config.username is not None and self.config.password is not None:
            auth = aiohttp.BasicAuth(self.config.username, self.config.password)
            headers.append(("Authorization", auth.encode()))
        if self.config.impersonate is not None:
            headers.extend(self.config.impersonate.headers())
        return headers

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
        data = None
        if body is not None:
            data = body if isinstance(body, bytes | str) else json.dumps(body, separators=(",", ":"))
            content_type = content_type or JSON
        await self._throttle(method, path)
        session = self._get_session()
        try:
            async with session.request(
                method,
                self.config.server + path,
                params=_clean(params),
                data=data,
                headers=self._headers(content_type),
                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
            ) as response:
                payload = await response.read()
                status = response.status
        except (aiohttp.ClientConnectionError, TimeoutError, aiohttp.ClientPayloadError) as err:
            raise ClusterUnreachable(
                f"cannot reach the Kubernetes API at {self.config.server}: {_describe(err)}"
            ) from err
        decoded = _decode(payload)
        if status >= 400:
            fallback = payload[:300].decode(errors="replace")
            raise from_status(status, decoded if isinstance(decoded, dict) else None, fallback)
        return decoded if isinstance(decoded, dict) else {"raw": payload.decode(errors="replace")}

    async def _throttle(self, method: str, path: str) -> None:
        if self.rate_limiter is not None:
            await self.rate_limiter.acquire(f"{method} {path}")

    async def request_text(self, path: str) -> str:
        await self._throttle("GET", path)
        session = self._get_session()
        try:
            async with session.get(self.config.server + path, headers=self._headers(None, "*/*"),
                                   timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                text = await response.text()
                if response.status >= 400:
                    raise from_status(response.status, _decode(text.encode()) or None, text[:300])
                return text
        except (aiohttp.ClientConnectionError, TimeoutError) as err:
            raise ClusterUnreachable(
                f"cannot reach the Kubernetes API at {self.config.server}: {_describe(err)}"
            ) from err

    async def stream_text_lines(self, path: str) -> AsyncIterator[str]:
        """The lines of a long-lived text GET (e.g. pods/log with follow) as they arrive; no total timeout.
        Counted once against the rate limit, as client-go's `Request.Stream` is."""
        await self._throttle("GET", path)
        session = self._get_session()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)
        try:
            async with session.get(self.config.server + path, headers=self._headers(None, "*/*"),
                                   timeout=timeout) as response:
                if response.status >= 400:
                    text = await response.text()
                    raise from_status(response.status, _decode(text.encode()) or None, text[:300])
                async for raw in response.content:
                    yield raw.decode("utf-8", errors="replace")
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as err:
            raise ClusterUnreachable(f"reading {path} from {self.config.server} interrupted: {_describe(err)}") \
                from err

    # -- typed verbs over discovery ----------------------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> Resource:
        return await self.discovery.resource(self, api_version, kind)

    async def _path_of(self, obj: Mapping[str, Any], subresource: str | None = None, named: bool = True) -> str:
        res = await self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or (self.config.namespace if res.namespaced else None)
        return res.path(namespace, meta["name"] if named else None, subresource)

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        res = await self.resource(api_version, kind)
        return await self.request("GET", res.path(namespace, name))

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
        res = await self.resource(api_version, kind)
        params = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit,
            "continue": continue_token,
            "resourceVersion": resource_version,
        }
        return await self.request("GET", res.path(namespace), params=params)  # type: ignore[arg-type]

    async def list_all(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every item across pages, and the list's resourceVersion (to start a watch from)."""
        items: builtins.list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = await self.list(api_version, kind, namespace, label_selector=label_selector,
                                   limit=page_size, continue_token=token)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items, str((page.get("metadata") or {}).get("resourceVersion", ""))

    async def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        params = {"dryRun": "All"} if dry_run else None
        return await self.request("POST", await self._path_of(obj, named=False), params=params, body=obj)

    async def replace(self, obj: Mapping[str, Any], subresource: str | None = None) -> dict[str, Any]:
        return await self.request("PUT", await self._path_of(obj, subresource), body=obj)

    async def apply(
        self,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply (`application/apply-patch+yaml`; JSON is valid YAML)."""
        params: dict[str, str] = {"fieldManager": field_manager}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        return await self.request("PATCH", await self._path_of(obj, subresource), params=params, body=obj,
                                  content_type=APPLY_PATCH)

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
        res = await self.resource(api_version, kind)
        params = {"fieldManager": field_manager} if field_manager else None
        return await self.request("PATCH", res.path(namespace, name, subresource), params=params, body=patch,
                                  content_type=PATCH_TYPES[patch_type])

    async def patch_status(
        self, obj: Mapping[str, Any], status: Mapping[str, Any], *, field_manager: str | None = None
    ) -> dict[str, Any]:
        """Merge-patch the status subresource of `obj` with `status`."""
        meta = obj["metadata"]
        return await self.patch(obj["apiVersion"], obj["kind"], meta["name"], {"status": status},
                                namespace=meta.get("namespace"), subresource="status",
                                field_manager=field_manager)

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
        res = await self.resource(api_version, kind)
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            options["dryRun"] = ["All"]
        if uid:
            options["preconditions"] = {"uid": uid}
        try:
            return await self.request("DELETE", res.path(namespace, name), body=options)
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
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events (`{"type": ADDED|MODIFIED|DELETED|BOOKMARK, "object": {...}}`) until the server
        closes the stream. An expired resourceVersion raises `Gone`: the caller must re-list.
        Not rate limited (client-go's `Request.Watch` skips the limiter too); discovery of the kind is."""
        res = await self.resource(api_version, kind)
        params: dict[str, str | int] = {"watch": "1", "timeoutSeconds": timeout_seconds}
        if bookmarks:
            params["allowWatchBookmarks"] = "true"
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        session = self._get_session()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_seconds + 30)
        try:
            async with session.get(self.config.server + res.path(namespace), params=params,
                                   headers=self._headers(None), timeout=timeout) as response:
                if response.status >= 400:
                    payload = await response.read()
                    decoded = _decode(payload)
                    raise from_status(response.status, decoded if isinstance(decoded, dict) else None)
                buffer = b""
                async for chunk in response.content.iter_any():
                    # Split once per chunk: re-slicing the remainder after every event is quadratic.
                    lines = (buffer + chunk).split(b"\n") if buffer else chunk.split(b"\n")
                    buffer = lines.pop()  # the incomplete last line, or b""
                    for line in lines:
                        if line.strip():
                            yield _watch_event(json.loads(line))
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as err:
            raise ClusterUnreachable(f"watch of {res.plural} interrupted: {_describe(err)}") from err

    async def version(self) -> dict[str, Any]:
        return await self.request("GET", "/version")


if TYPE_CHECKING:
    def _implements_protocol(client: HttpKubeClient) -> KubeClient:
        return client  # mypy proves here that HttpKubeClient is a KubeClient


__all__ = ["APPLY_PATCH", "PATCH_TYPES", "Discovery", "HttpKubeClient", "KubeClient", "Resource", "UnknownKind"]


def _watch_event(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        code = int(status.get("code") or 500)
        if code == 410:
            raise Gone(410, "Expired", str(status.get("message", "resourceVersion too old")))
        raise from_status(code, status)
    return event


def _decode(payload: bytes) -> Any:
    if not payload:
        return {}
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _clean(params: Mapping[str, str | int | None] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: str(v) for k, v in params.items() if v is not None}


def _describe(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.replace("\n", " ")[:300]
