"""Downloads from an HTTP/S Helm repository with its credentials, as Helm's HTTP getter sends them.

Credentials come from the HelmRepository: `secretRef` (`username`/`password`; TLS keys there are the
deprecated form) and `certSecretRef` (`tls.crt`/`tls.key` for a client certificate, `ca.crt` added to the
system CAs), which wins for TLS. Basic auth goes only to the repository's own scheme and host, unless
`passCredentials` is set: chart URLs in an index may point anywhere, and a hostile index must not collect
the password. Redirects are followed here (at most 10) so that the same rule applies to every hop.

Every body is read to at most the caller's bound, whatever `Content-Length` says; errors name the URL
without user-info or query, never a credential.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from headwater.artifact.fetch import redact_url
from headwater.source.git.auth import GitAuthError, secret_values

__all__ = ["Credentials", "FetchError", "credentials_from", "download", "resolve_reference"]

MAX_REDIRECTS = 10
_CHUNK = 256 * 1024


class FetchError(Exception):
    """A download failed (network, status, size); the message is safe to show."""


@dataclass(frozen=True, repr=False)
class Credentials:
    """What a repository's Secrets give: basic auth and TLS material (never shown)."""

    username: str | None = None
    password: str | None = None
    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None
    pass_credentials: bool = False
    deprecated_tls: bool = False

    def __repr__(self) -> str:
        present = [name for name in ("username", "ca", "cert") if getattr(self, name)]
        return f"Credentials(<{', '.join(present) or 'anonymous'}>)"

    @property
    def has_basic(self) -> bool:
        return bool(self.username and self.password)

    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def sends_basic_to(self, url: str, repository_url: str) -> bool:
        """Helm's rule: the same scheme and host as the repository, or `passCredentials`."""
        if not self.has_basic:
            return False
        if self.pass_credentials:
            return True
        mine, theirs = urlsplit(url), urlsplit(repository_url)
        return (mine.scheme, mine.netloc.rpartition("@")[2]) == (theirs.scheme, theirs.netloc.rpartition("@")[2])

    def ssl_context(self) -> ssl.SSLContext | None:
        if not (self.ca or self.cert):
            return None
        context = ssl.create_default_context()
        if self.ca:
            try:
                context.load_verify_locations(cadata=self.ca.decode("ascii", "replace"))
            except ssl.SSLError as err:
                raise FetchError(f"invalid CA certificate in the TLS secret: {err.reason}") from err
        if self.cert and self.key:
            with _key_files(self.cert, self.key) as (cert_file, key_file):
                try:
                    context.load_cert_chain(cert_file, key_file)
                except ssl.SSLError as err:
                    raise FetchError(f"invalid client certificate or key in the TLS secret: {err.reason}") from err
        return context


@contextlib.contextmanager
def _key_files(cert: bytes, key: bytes) -> Iterator[tuple[str, str]]:
    """The client certificate and key as files only this process can read, for as long as `ssl` loads them."""
    with tempfile.TemporaryDirectory(prefix="hw-helm-tls-") as directory:
        paths = []
        for name, data in (("tls.crt", cert), ("tls.key", key)):
            path = os.path.join(directory, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            paths.append(path)
        yield paths[0], paths[1]


def _name(secret: dict[str, Any]) -> str:
    meta = secret.get("metadata") or {}
    return f"'{meta.get('namespace', '')}/{meta.get('name', '')}'"


def credentials_from(auth_secret: dict[str, Any] | None, cert_secret: dict[str, Any] | None, *,
                     pass_credentials: bool) -> Credentials:
    """Credentials from the two Secrets (either may be None); ValueError names a malformed Secret."""
    try:
        auth = secret_values(auth_secret)
        tls = secret_values(cert_secret)
    except GitAuthError as err:
        raise ValueError(str(err)) from err
    deprecated = False
    if not tls and (auth.get("tls.crt") or auth.get("certFile") or auth.get("ca.crt") or auth.get("caFile")):
        tls, deprecated = auth, True
    cert = tls.get("tls.crt") or tls.get("certFile")
    key = tls.get("tls.key") or tls.get("keyFile")
    if bool(cert) != bool(key):
        source = cert_secret if cert_secret is not None and not deprecated else auth_secret
        raise ValueError(f"secret {_name(source or {})}: a client certificate needs both 'tls.crt' and 'tls.key'")
    username = (auth.get("username") or b"").decode("utf-8", "replace") or None
    password = (auth.get("password") or b"").decode("utf-8", "replace") or None
    if bool(username) != bool(password) and auth_secret is not None:
        raise ValueError(f"secret {_name(auth_secret)}: basic authentication needs both 'username' and 'password'")
    return Credentials(username, password, tls.get("ca.crt") or tls.get("caFile"), cert, key, pass_credentials,
                       deprecated)


def resolve_reference(base_url: str, reference: str) -> str:
    """Helm's `ResolveReferenceURL`: an absolute chart URL as is, a relative one against the repository
    URL (as a directory), keeping the repository URL's query."""
    if urlsplit(reference).scheme:
        return reference
    base = urlsplit(base_url)
    directory = base._replace(path=base.path.rstrip("/") + "/", query="", fragment="").geturl()
    resolved = urlsplit(urljoin(directory, reference))
    return resolved._replace(query=base.query).geturl()


async def download(url: str, credentials: Credentials, *, repository_url: str, timeout: float,
                   max_size: int, what: str) -> bytes:
    """GET `url` (following redirects under the credentials rule); at most `max_size` bytes of `what`."""
    context = credentials.ssl_context()
    connector = aiohttp.TCPConnector(ssl=context) if context is not None else aiohttp.TCPConnector()
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            for _ in range(MAX_REDIRECTS + 1):
                headers = {"Authorization": credentials.basic_header()} \
                    if credentials.sends_basic_to(url, repository_url) else {}
                async with session.get(url, headers=headers, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status != 200:
                        raise FetchError(f"failed to fetch {redact_url(url)} : {response.status} {response.reason}")
                    return await _body(response, url, max_size, what)
            raise FetchError(f"failed to fetch {redact_url(url)}: more than {MAX_REDIRECTS} redirects")
    except TimeoutError as err:
        raise FetchError(f"failed to fetch {redact_url(url)}: timed out after {timeout:g}s") from err
    except aiohttp.ClientError as err:
        raise FetchError(f"failed to fetch {redact_url(url)}: {_client_error(err)}") from err


def _client_error(err: aiohttp.ClientError) -> str:
    """What went wrong, in words that name the cause and never a credential (no certificate content)."""
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        problem = err.certificate_error
        reason = getattr(problem, "verify_message", None) or getattr(problem, "reason", None) or type(problem).__name__
        return f"TLS certificate verification failed: {reason}"
    if isinstance(err, aiohttp.ClientConnectorSSLError):
        return f"TLS handshake failed: {getattr(err.os_error, 'reason', None) or type(err.os_error).__name__}"
    if isinstance(err, aiohttp.ClientConnectorError):
        return f"cannot connect ({err.os_error.strerror or type(err.os_error).__name__})"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return type(err).__name__


async def _body(response: aiohttp.ClientResponse, url: str, max_size: int, what: str) -> bytes:
    if (response.content_length or 0) > max_size:
        raise FetchError(f"{what} at {redact_url(url)} is {response.content_length} bytes, larger than the "
                         f"maximum of {max_size} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_size:
            raise FetchError(f"{what} at {redact_url(url)} is larger than the maximum of {max_size} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
