"""Kubernetes access for controllers and the CLI: configuration, an async JSON client, errors.

`connect()` is the one-liner most callers want: a client for a kubeconfig (or the in-cluster service
account), optionally impersonating someone. Type clients as `KubeClient` (the protocol every
implementation follows, the in-memory fake of `headwater.testing.fakekube` included); `HttpKubeClient`
is the implementation over HTTP that `connect()` returns.
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
from headwater.runtime.kube.resource import Resource


def connect(
    kubeconfig: str | Path | None = None,
    context: str | None = None,
    impersonate: Impersonation | None = None,
    user_agent: str = "headwater",
) -> HttpKubeClient:
    """A client for the given (or default) kubeconfig; the connection opens on first use."""
    config = load(kubeconfig, context).with_impersonation(impersonate)
    return HttpKubeClient(config, user_agent=user_agent)


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
    "UnknownKind",
    "connect",
]
