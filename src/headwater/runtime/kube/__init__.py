"""Kubernetes access for controllers and the CLI: configuration, an async JSON client, errors.

`connect()` is the one-liner most callers want: a `KubeClient` for a kubeconfig (or the in-cluster
service account), optionally impersonating someone.
"""

from __future__ import annotations

from pathlib import Path

from headwater.runtime.kube.client import KubeClient, Resource, UnknownKind
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
)


def connect(
    kubeconfig: str | Path | None = None,
    context: str | None = None,
    impersonate: Impersonation | None = None,
    user_agent: str = "headwater",
) -> KubeClient:
    """A client for the given (or default) kubeconfig; the connection opens on first use."""
    config = load(kubeconfig, context).with_impersonation(impersonate)
    return KubeClient(config, user_agent=user_agent)


__all__ = [
    "AlreadyExists",
    "ApiError",
    "ClusterConfig",
    "ClusterUnreachable",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "Gone",
    "Impersonation",
    "Invalid",
    "KubeClient",
    "KubeError",
    "NotFound",
    "Resource",
    "UnknownKind",
    "connect",
]
