"""A Git smart-HTTP proxy that fails on purpose, in front of the real `git http-backend` server.

The source controller must survive what Git hosting does on a bad day: the server is down (connection
refused), slow (the answer comes after the GitRepository's timeout), answers HTTP 500, or sends a pack
that ends early, either with a well-formed HTTP response whose pack is cut short or by dropping the
connection in the middle of the pack. `FaultyGit` forwards every request to the real server unchanged
(credentials included) until told to fail one class of requests: `refs` (the ref advertisement,
`GET …/info/refs`), `pack` (the fetch, `POST …/git-upload-pack`) or `all`. It binds 127.0.0.1 only and
runs on the test's event loop; `injected` counts the requests it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from headwater.devcluster.ports import PortAllocator

MODES = ("pass", "down", "slow", "error", "truncate", "cut")
TARGETS = ("refs", "pack", "all")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host",
               "content-length"}


@dataclass(frozen=True)
class Fault:
    mode: str
    target: str = "all"

    def __str__(self) -> str:
        return f"{self.mode} ({self.target})"


class FaultyGit:
    """`url(repo)` is the proxied clone URL; `set(Fault(...))` makes it fail, `set(Fault("pass"))` heals."""

    def __init__(self, upstream: str, *, delay: float = 5.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay = delay  # how late a slow answer comes (longer than the GitRepository's timeout)
        self.fault = Fault("pass")
        self.injected = 0
        self.port = PortAllocator().allocate()  # fixed: it must come back on the same port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._session: aiohttp.ClientSession | None = None

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo.strip('/')}"

    async def __aenter__(self) -> FaultyGit:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # bodies pass through as sent: a gzip request body stays gzip for http-backend
        self._runner = web.AppRunner(app, auto_decompress=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        self._session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=60))
        await self._listen()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()

    async def set(self, fault: Fault) -> None:
        """Switch to `fault`; "down" closes the listening socket, anything else listens again."""
        if fault.mode not in MODES or fault.target not in TARGETS:
            raise ValueError(f"unknown fault {fault}")
        was_down = self.fault.mode == "down"
        self.fault = fault
        if fault.mode == "down" and not was_down and self._site is not None:
            await self._site.stop()
            self._site = None
        elif fault.mode != "down" and was_down:
            await self._listen()

    def _affected(self, request: web.Request) -> bool:
        if self.fault.mode == "pass":
            return False
        if self.fault.target == "all":
            return True
        is_pack = request.method == "POST" and request.path.endswith("/git-upload-pack")
        is_refs = request.path.endswith("/info/refs")
        return (self.fault.target == "pack" and is_pack) or (self.fault.target == "refs" and is_refs)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        mode = self.fault.mode
        affected = self._affected(request)
        if affected:
            self.injected += 1
            if mode == "error":
                return web.Response(status=500, text="internal server error\n")
            if mode == "slow":
                await asyncio.sleep(self.delay)  # the client has given up by now; answer anyway
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        async with self._session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                         data=body, allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            if affected and mode in ("truncate", "cut"):
                data = await upstream.read()
                await response.write(data[: len(data) // 2])
                if mode == "cut":
                    assert request.transport is not None
                    request.transport.abort()  # the connection drops mid-pack
                    return response
            else:
                with contextlib.suppress(ConnectionResetError):
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
            with contextlib.suppress(ConnectionResetError):
                await response.write_eof()
            return response
