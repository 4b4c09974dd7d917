"""Git credentials from a GitRepository's `secretRef` Secret, validated for the URL's transport.

Flux's key names: `username`/`password` (HTTP basic), `bearerToken` (HTTP), `identity`/`known_hosts`
(+ optional `password` for an encrypted key) for SSH, `ca.crt` (legacy `caFile`) for a custom CA and
`tls.crt`/`tls.key` (legacy `certFile`/`keyFile`) for client certificates. Credential values never appear
in `repr`, messages or logs: errors name the Secret and the key, never the value.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class GitAuthError(ValueError):
    """The Secret cannot authenticate to this URL (missing or malformed key)."""


@dataclass(frozen=True, repr=False)
class GitAuth:
    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    identity: bytes | None = None
    known_hosts: bytes | None = None
    ca: bytes | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = None

    def __repr__(self) -> str:
        present = [name for name, value in vars(self).items() if value]
        return f"GitAuth(<{', '.join(present) or 'anonymous'}>)"

    @property
    def is_anonymous(self) -> bool:
        return not any(vars(self).values())


@dataclass(frozen=True, repr=False)
class ProxyConfig:
    """From `spec.proxySecretRef`: `address` (required), `username`, `password`."""

    address: str
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"ProxyConfig({urlsplit(self.address).hostname or '?'})"


def secret_values(secret: dict[str, Any] | None) -> dict[str, bytes]:
    """Decoded `data` (and `stringData`) of a Secret object."""
    if not secret:
        return {}
    values: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(value, validate=True)
        except ValueError as err:
            raise GitAuthError(f"{_name(secret)}: key {key!r} is not valid base64") from err
    for key, value in (secret.get("stringData") or {}).items():
        values[key] = str(value).encode()
    return values


def auth_from_secret(url: str, secret: dict[str, Any] | None) -> GitAuth:
    """Credentials for `url` from the Secret (None: anonymous)."""
    data = secret_values(secret)
    scheme = urlsplit(url).scheme
    ca = data.get("ca.crt") or data.get("caFile")
    if scheme == "ssh":
        if not data:
            raise GitAuthError("an ssh:// URL needs a secretRef with 'identity' and 'known_hosts'")
        if "identity" not in data:
            raise GitAuthError(f"{_name(secret)}: key 'identity' (the private SSH key) is missing")
        if "known_hosts" not in data:
            raise GitAuthError(
                f"{_name(secret)}: key 'known_hosts' is missing; host keys are always verified"
            )
        return GitAuth(identity=data["identity"], known_hosts=data["known_hosts"],
                       password=_text(data.get("password")))
    if scheme in ("http", "https"):
        cert = data.get("tls.crt") or data.get("certFile")
        key = data.get("tls.key") or data.get("keyFile")
        if bool(cert) != bool(key):
            raise GitAuthError(f"{_name(secret)}: client certificates need both 'tls.crt' and 'tls.key'")
        if (cert or ca) and scheme == "http":
            raise GitAuthError(f"{_name(secret)}: TLS keys given for a plain http:// URL")
        bearer = _text(data.get("bearerToken"))
        username = _text(data.get("username"))
        if bearer and username:
            raise GitAuthError(f"{_name(secret)}: 'bearerToken' and 'username' cannot be used together")
        return GitAuth(username=username, password=_text(data.get("password")), bearer_token=bearer, ca=ca,
                       client_cert=cert, client_key=key)
    raise GitAuthError(f"unsupported URL scheme {scheme!r}: use http://, https:// or ssh://")


def proxy_from_secret(secret: dict[str, Any]) -> ProxyConfig:
    data = secret_values(secret)
    address = _text(data.get("address"))
    if not address:
        raise GitAuthError(f"{_name(secret)}: key 'address' (the proxy URL) is missing")
    if urlsplit(address).scheme not in ("http", "https", "socks5"):
        raise GitAuthError(f"{_name(secret)}: proxy address must be http://, https:// or socks5://")
    return ProxyConfig(address, _text(data.get("username")), _text(data.get("password")))


def _text(value: bytes | None) -> str | None:
    return value.decode().strip() if value else None


def _name(secret: dict[str, Any] | None) -> str:
    meta = (secret or {}).get("metadata") or {}
    return f"Secret '{meta.get('namespace', '')}/{meta.get('name', '')}'"
