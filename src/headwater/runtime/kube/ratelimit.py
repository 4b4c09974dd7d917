"""The client-side token bucket behind `--kube-api-qps` and `--kube-api-burst`.

Flux's controllers pace their own requests so that a burst of work (a thousand Kustomizations due at
once, a controller restarting over a warm cluster) does not flood the apiserver: client-go puts a token
bucket in front of every request, `qps` tokens a second up to `burst` saved, full at start. headwater
does the same, with the same semantics as golang.org/x/time/rate that client-go uses:

- every request takes one token; when none is left it *reserves* the next one and waits for it, so
  waiters are served in arrival order and the long-run rate never exceeds `qps`;
- a request cancelled while waiting gives its token back;
- long-running watches are not counted (client-go's `Request.Watch` skips the limiter: a watch is one
  request that lasts minutes, and informers must be able to re-establish them promptly).

The clock and the sleep are injectable so that the arithmetic is tested without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ["TokenBucket"]

_log = logging.getLogger("headwater.kube")

# client-go logs "Waited for … due to client-side throttling" at info level past one second.
LONG_WAIT_SECONDS: Final = 1.0


class TokenBucket:
    """`qps` tokens per second, at most `burst` saved; starts full."""

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (math.isfinite(qps) and qps > 0) or burst < 1:
            raise ValueError(f"a token bucket needs a positive qps and burst (got qps={qps}, burst={burst})")
        self.qps = float(qps)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()

    def _advance(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now

    def reserve(self) -> float:
        """Take a token now; the seconds to wait before using it (0 when one was saved)."""
        self._advance(self._clock())
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def cancel(self) -> None:
        """Give back a token reserved by a request that was not sent."""
        self._advance(self._clock())
        self._tokens = min(float(self.burst), self._tokens + 1.0)

    async def acquire(self, what: str = "request") -> float:
        """Wait for a token; the seconds waited."""
        delay = self.reserve()
        if delay <= 0:
            return 0.0
        try:
            await self._sleep(delay)
        except asyncio.CancelledError:
            self.cancel()
            raise
        if delay > LONG_WAIT_SECONDS:
            _log.info("waited %.1fs due to client-side throttling (--kube-api-qps=%g, --kube-api-burst=%d) "
                      "before %s", delay, self.qps, self.burst, what)
        return delay
