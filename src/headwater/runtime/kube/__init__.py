"""Kubernetes access for controllers and the CLI: configuration, an async JSON client, errors.

`connect()` is the one-liner most callers want: a client for a kubeconfig (or the in-cluster service
account), optionally impersonating someone. Type clients as `KubeClient` (the protocol every
implementation follows, the in-memory fake of `headwater.testing.fakekube` included); `HttpKubeClient`
is the implementation over HTTP that `connect()` returns. Controllers pass `qps`/`burst` (their
`--kube-api-qps`/`--kube-api-burst`) so the client paces itself; the CLI and tests do not.
"""

from __future__ import annotations

from pathlib import Path

from headwater.runtime.kube.client import HttpKubeClient
from headwater.runtime.kube.config import ClusterConfig, Impersonation, load
from headwater.runtime.kube.errors import (
    AlreadyExists,
    ApiError,
    ClusterUnreachable,
    ConfigError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    UnknownKind,
)
from headwater.runtime.kube.protocol import KubeClient
from headwater.runtime.kube.ratelimit import TokenBucket
from headwater.runtime.kube.resource import Resource


def connect(
    kubeconfig: str | Path | None = None,
    context: str | None = None,
    impersonate: Impersonation | None = None,
    user_agent: str = "headwater",
    *,
    qps: float | None = None,
    burst: int | None = None,
) -> HttpKubeClient:
    """A client for the given (or default) kubeconfig; the connection opens on first use.

    With `qps` and `burst` every request but a watch waits for a token of a client-side bucket
    (`ratelimit.TokenBucket`); without them the client is not paced."""
    config = load(kubeconfig, context).with_impersonation(impersonate)
    limiter = TokenBucket(qps, burst) if qps is not None and burst is not None else None
    return HttpKubeClient(config, user_agent=user_agent, rate_limiter=limiter)


__all__ = [
    "AlreadyExists",
    "ApiError",
    "ClusterConfig",
    "ClusterUnreachable",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "Gone",
    "HttpKubeClient",
    "Impersonation",
    "Invalid",
    "KubeClient",
    "KubeError",
    "NotFound",
    "Resource",
    "TokenBucket",
    "UnknownKind",
    "connect",
]
