"""Clients for other clusters, from a kubeconfig stored in a Secret (`spec.kubeConfig.secretRef`).

Flux reads the kubeconfig from the Secret's `value` key, or `value.yaml` (the name Cluster API gives its
`<cluster>-kubeconfig` Secrets), or the key the reference names. Exec plugins are refused (see
`config.py`). Clients are cached per Secret content, so a reconcile does not rebuild TLS contexts and
connection pools every time, and a rotated kubeconfig gets a fresh client. Given `qps`/`burst` (the
controller's `--kube-api-qps`/`--kube-api-burst`), each remote cluster's client paces itself with a
bucket of its own: the limit protects each apiserver.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

from headwater.api import safeyaml
from headwater.runtime.kube.client import HttpKubeClient, KubeClient
from headwater.runtime.kube.config import config_from_dict
from headwater.runtime.kube.errors import ConfigError
from headwater.runtime.kube.ratelimit import TokenBucket

DEFAULT_KEYS = ("value", "value.yaml")


def kubeconfig_from_secret(secret: Mapping[str, object], key: str | None = None) -> bytes:
    """The kubeconfig bytes of a Secret; a clear error naming the Secret when the key is missing."""
    data = secret.get("data") or {}
    if not isinstance(data, dict):
        data = {}
    meta = secret.get("metadata") or {}
    name = f"{meta.get('namespace')}/{meta.get('name')}" if isinstance(meta, dict) else "?"
    keys = (key,) if key else DEFAULT_KEYS
    for candidate in keys:
        if candidate in data:
            try:
                return base64.b64decode(str(data[candidate]), validate=True)
            except ValueError as err:
                raise ConfigError(f"Secret {name} key {candidate!r} is not valid base64") from err
    raise ConfigError(f"Secret {name} has no kubeconfig under key {' or '.join(repr(k) for k in keys)}")


class RemoteClients:
    """KubeClients for kubeconfig Secrets, cached by content digest."""

    def __init__(self, user_agent: str = "headwater", *, qps: float | None = None, burst: int | None = None) -> None:
        self.user_agent = user_agent
        self.qps, self.burst = qps, burst
        self._clients: dict[str, KubeClient] = {}

    async def for_secret(self, secret: Mapping[str, object], key: str | None = None) -> KubeClient:
        raw = kubeconfig_from_secret(secret, key)
        digest = hashlib.sha256(raw).hexdigest()
        client = self._clients.get(digest)
        if client is None:
            try:
                parsed = safeyaml.load(raw.decode("utf-8"), source="the kubeconfig in the Secret")
            except UnicodeDecodeError as err:
                raise ConfigError("the kubeconfig in the Secret is not UTF-8 text") from err
            except safeyaml.YAMLInputError as err:
                raise ConfigError(str(err)) from err
            if not isinstance(parsed, dict):
                raise ConfigError("the kubeconfig in the Secret is not a YAML mapping")
            limiter = TokenBucket(self.qps, self.burst) if self.qps is not None and self.burst is not None else None
            client = HttpKubeClient(config_from_dict(parsed), user_agent=self.user_agent, rate_limiter=limiter)
            self._clients[digest] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
