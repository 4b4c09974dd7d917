"""The client-side token bucket (`--kube-api-qps`/`--kube-api-burst`) and where the client consults it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from headwater.runtime.kube import ClusterConfig, HttpKubeClient, TokenBucket

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# (qps, burst, the times requests arrive at, the wait each one gets): golang.org/x/time/rate's answers,
# which client-go's token bucket is.
CASES = [
    ("a full bucket serves a burst at once", 10.0, 3, [0, 0, 0], [0, 0, 0]),
    ("past the burst, waiters queue at 1/qps each", 10.0, 2, [0, 0, 0, 0, 0], [0, 0, 0.1, 0.2, 0.3]),
    ("tokens refill at qps", 10.0, 1, [0, 0.05, 0.2], [0, 0.05, 0]),
    ("the saved tokens never exceed the burst", 1.0, 2, [0, 0, 100, 100, 100], [0, 0, 0, 0, 1.0]),
    ("a waiter's reservation delays the next arrival", 2.0, 1, [0, 0, 0.25], [0, 0.5, 0.75]),
    ("fractional qps", 0.5, 1, [0, 0, 1], [0, 2.0, 3.0]),
    ("Flux's defaults allow 300 at once, then 50 a second", 50.0, 300, [0] * 301, [0] * 300 + [0.02]),
]


@pytest.mark.parametrize(("qps", "burst", "arrivals", "waits"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reservations(qps: float, burst: int, arrivals: list[float], waits: list[float]) -> None:
    clock = Clock()
    bucket = TokenBucket(qps, burst, clock=clock)
    start = clock.now
    got = []
    for at in arrivals:
        clock.now = start + at
        got.append(bucket.reserve())
    assert got == pytest.approx(waits)


@pytest.mark.parametrize(("qps", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (float("nan"), 1), (1, 0)])
def test_nonsense_limits_are_refused(qps: float, burst: int) -> None:
    with pytest.raises(ValueError, match="positive qps and burst"):
        TokenBucket(qps, burst)


async def test_acquire_sleeps_for_the_reservation_and_a_cancelled_waiter_gives_its_token_back() -> None:
    clock, slept = Clock(), []
    release = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await release.wait()

    bucket = TokenBucket(4.0, 1, clock=clock, sleep=sleep)
    assert await bucket.acquire() == 0.0
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    assert slept == [0.25]
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    # The cancelled request was never sent: the next one waits as if it had not been made.
    assert bucket.reserve() == pytest.approx(0.25)


# --------------------------------------------------------------------------- in the client


@pytest.fixture
async def apiserver() -> AsyncIterator[str]:
    """A loopback server answering discovery, a GET and a (short) watch the way an apiserver does."""

    async def discovery(_: web.Request) -> web.Response:
        return web.json_response({"resources": [
            {"name": "configmaps", "kind": "ConfigMap", "namespaced": True, "verbs": ["get", "list", "watch"]}]})

    async def configmaps(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch"):
            response = web.StreamResponse()
            await response.prepare(request)
            await response.write(b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}\n')
            return response
        return web.json_response({"items": [], "metadata": {"resourceVersion": "7"}})

    async def one(_: web.Request) -> web.Response:
        return web.json_response({"metadata": {"name": "x"}})

    app = web.Application()
    app.router.add_get("/api/v1", discovery)
    app.router.add_get("/api/v1/namespaces/default/configmaps", configmaps)
    app.router.add_get("/api/v1/namespaces/default/configmaps/x", one)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_every_request_but_a_watch_takes_a_token(apiserver: str) -> None:
    clock, slept = Clock(), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    bucket = TokenBucket(10.0, 2, clock=clock, sleep=sleep)
    async with HttpKubeClient(ClusterConfig(server=apiserver), rate_limiter=bucket) as kube:
        events: list[dict[str, Any]] = [e async for e in kube.watch("v1", "ConfigMap", "default")]  # + discovery
        assert [e["type"] for e in events] == ["BOOKMARK"]
        assert slept == [], "discovery took the first token, the watch none"
        as_someone = kube.impersonating(None)
        assert as_someone.rate_limiter is bucket, "impersonating views share the bucket"
        await as_someone.get("v1", "ConfigMap", "x", "default")  # the second token
        await kube.list("v1", "ConfigMap", "default")  # none left: waits 1/qps
        async for _ in kube.watch("v1", "ConfigMap", "default"):
            pass
        assert slept == pytest.approx([0.1])


def test_without_limits_the_client_is_not_paced() -> None:
    assert HttpKubeClient(ClusterConfig(server="http://127.0.0.1:1")).rate_limiter is None
