"""Open a dulwich Git client for a URL with credentials, and classify what goes wrong.

HTTP(S) goes through urllib3 with our own TLS context (custom CA, client certificates) and proxy. SSH
goes through the OpenSSH client with strict host-key checking against the Secret's `known_hosts` only:
never the user's files, never trust-on-first-use (pygit2 is avoided precisely because it skips this).
Key material is written to a private temporary directory for the lifetime of one operation and removed
afterwards; an encrypted private key is decrypted in memory with its `password` first.

dulwich is synchronous: callers run these operations in a worker thread.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import urllib3
from cryptography.hazmat.primitives import serialization
from dulwich.client import GitClient, HttpGitClient, SSHGitClient

from headwater.source.git.auth import GitAuth, ProxyConfig


class GitError(Exception):
    """A Git operation failed; `reason` is the Flux condition reason to report."""

    reason = "GitOperationFailed"


class AuthenticationFailed(GitError):
    reason = "AuthenticationFailed"


class HostKeyMismatch(GitError):
    reason = "AuthenticationFailed"


class InvalidURL(GitError):
    reason = "URLInvalid"


@dataclass(frozen=True)
class Remote:
    client: GitClient
    path: str
    display: str  # the URL without credentials, for messages


@contextlib.contextmanager
def open_remote(
    url: str, auth: GitAuth, *, proxy: ProxyConfig | None = None, timeout: float = 60.0
) -> Iterator[Remote]:
    parts = validate_url(url)
    assert parts.hostname is not None
    with tempfile.TemporaryDirectory(prefix="hw-git-") as tmp:
        if parts.scheme == "ssh":
            yield Remote(_ssh_client(parts.hostname, parts.port, parts.username, auth, Path(tmp), timeout),
                         parts.path, redact(url))
        else:
            base = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
            yield Remote(_http_client(base, auth, proxy, Path(tmp), timeout), parts.path, redact(url))


def validate_url(url: str) -> SplitResult:
    """The parts of a Git URL headwater fetches from (http, https or ssh with a host), else InvalidURL.

    Checked before anything else (credentials included): a `file://` or host-less URL is never a
    remote this controller may read, whatever the Secret says.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ssh") or not parts.hostname:
        raise InvalidURL(f"invalid Git URL {redact(url)!r}: use http://, https:// or ssh://user@host[:port]/path")
    return parts


def redact(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


@functools.lru_cache(maxsize=64)
def _verifying_context(ca: bytes | None) -> ssl.SSLContext:
    """A client TLS context trusting `ca` (PEM; it replaces the system roots, as in Flux) or the system.

    Shared between fetches: loading the system roots costs milliseconds of CPU per context, which a
    profile showed was half the source controller's time when every fetch built its own.
    """
    return ssl.create_default_context(cadata=ca.decode() if ca else None)


def _tls_context(base: str, auth: GitAuth, proxy: ProxyConfig | None, tmp: Path) -> ssl.SSLContext | None:
    if not base.startswith("https:") and not (proxy is not None and proxy.address.startswith("https:")):
        return None  # plain HTTP (redirects are never followed): no TLS at all
    if not (auth.client_cert and auth.client_key):
        return _verifying_context(auth.ca or None)
    context = ssl.create_default_context(cadata=auth.ca.decode() if auth.ca else None)
    cert, key = tmp / "tls.crt", tmp / "tls.key"
    _write_private(key, auth.client_key)
    cert.write_bytes(auth.client_cert)
    context.load_cert_chain(str(cert), str(key))
    return context


def _http_client(base: str, auth: GitAuth, proxy: ProxyConfig | None, tmp: Path, timeout: float) -> GitClient:
    context = _tls_context(base, auth, proxy, tmp)
    pool: urllib3.PoolManager
    urllib3_timeout = urllib3.Timeout(connect=min(timeout, 30.0), read=timeout)
    # The bearer token rides on the pool's default headers: dulwich (1.2.21) accepts `extra_headers` but
    # never sends them. Redirects are not followed (`retries=False`), so it only reaches this origin.
    headers = {"Authorization": f"Bearer {auth.bearer_token}"} if auth.bearer_token else None
    if proxy is not None:
        proxy_headers = urllib3.make_headers(proxy_basic_auth=f"{proxy.username}:{proxy.password or ''}") \
            if proxy.username else None
        pool = urllib3.ProxyManager(proxy.address, headers=headers, proxy_headers=proxy_headers,
                                    ssl_context=context, timeout=urllib3_timeout, retries=False)
    else:
        pool = urllib3.PoolManager(headers=headers, ssl_context=context, timeout=urllib3_timeout, retries=False)
    return HttpGitClient(base, pool_manager=pool, username=auth.username, password=auth.password, quiet=True)


def _ssh_client(
    host: str, port: int | None, username: str | None, auth: GitAuth, tmp: Path, timeout: float
) -> GitClient:
    identity, known_hosts = tmp / "identity", tmp / "known_hosts"
    _write_private(identity, _unencrypted_key(auth.identity or b"", auth.password))
    known_hosts.write_bytes(auth.known_hosts or b"")
    options = {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(known_hosts),
        "GlobalKnownHostsFile": "/dev/null",
        "IdentitiesOnly": "yes",
        "IdentityFile": str(identity),
        "IdentityAgent": "none",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "ConnectTimeout": str(max(1, int(min(timeout, 30)))),
        "ServerAliveInterval": "15",
        "LogLevel": "ERROR",
    }
    command = ["ssh", "-F", "/dev/null"] + [arg for k, v in options.items() for arg in ("-o", f"{k}={v}")]
    return SSHGitClient(host, port=port, username=username or "git", ssh_command=shlex.join(command), quiet=True)


def _unencrypted_key(identity: bytes, password: str | None) -> bytes:
    """OpenSSH/PEM private key bytes, decrypted with `password` when it is encrypted."""
    if not password:
        return identity if identity.endswith(b"\n") else identity + b"\n"
    try:
        if b"OPENSSH PRIVATE KEY" in identity:
            key = serialization.load_ssh_private_key(identity, password.encode())
        else:
            key = serialization.load_pem_private_key(identity, password.encode())  # type: ignore[assignment]
    except (ValueError, TypeError) as err:
        raise AuthenticationFailed("the SSH identity could not be decrypted with the given password") from err
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
