"""Git credentials from Secrets, URL redaction, submodule URLs, and how failures are classified."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import urllib3.connection
import urllib3.exceptions
from dulwich.client import HTTPUnauthorized
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

from headwater.source.git.auth import GitAuthError, auth_from_secret, proxy_from_secret
from headwater.source.git.operations import classify, resolve_submodule_url
from headwater.source.git.transport import AuthenticationFailed, GitError, HostKeyMismatch, redact

pytestmark = pytest.mark.unit


def secret(**data: str) -> dict[str, Any]:
    return {"metadata": {"name": "auth", "namespace": "apps"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


@pytest.mark.parametrize(
    ("url", "data", "expected"),
    [
        ("https://h/r.git", {}, {}),
        ("https://h/r.git", {"username": "u", "password": "p"}, {"username": "u", "password": "p"}),
        ("https://h/r.git", {"bearerToken": "t\n"}, {"bearer_token": "t"}),
        ("https://h/r.git", {"ca.crt": "CA"}, {"ca": b"CA"}),
        ("https://h/r.git", {"caFile": "CA"}, {"ca": b"CA"}),  # legacy key
        ("https://h/r.git", {"tls.crt": "C", "tls.key": "K"}, {"client_cert": b"C", "client_key": b"K"}),
        ("https://h/r.git", {"certFile": "C", "keyFile": "K"}, {"client_cert": b"C", "client_key": b"K"}),
        ("ssh://git@h/r.git", {"identity": "ID", "known_hosts": "KH"}, {"identity": b"ID", "known_hosts": b"KH"}),
        ("ssh://git@h/r.git", {"identity": "ID", "known_hosts": "KH", "password": "pw"},
         {"identity": b"ID", "known_hosts": b"KH", "password": "pw"}),
    ],
)
def test_auth_from_secret(url: str, data: dict[str, str], expected: dict[str, Any]) -> None:
    auth = auth_from_secret(url, secret(**data) if data else None)
    assert {k: v for k, v in vars(auth).items() if v} == expected


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        ("ssh://git@h/r.git", {}, "needs a secretRef with 'identity' and 'known_hosts'"),
        ("ssh://git@h/r.git", {"known_hosts": "KH"}, "key 'identity'"),
        ("ssh://git@h/r.git", {"identity": "ID"}, "key 'known_hosts' is missing; host keys are always verified"),
        ("https://h/r.git", {"tls.crt": "C"}, "need both 'tls.crt' and 'tls.key'"),
        ("http://h/r.git", {"ca.crt": "CA"}, "TLS keys given for a plain http:// URL"),
        ("https://h/r.git", {"bearerToken": "t", "username": "u"}, "cannot be used together"),
        ("git@h:org/r.git", {}, "unsupported URL scheme"),
        ("ftp://h/r.git", {}, "unsupported URL scheme 'ftp'"),
    ],
)
def test_unusable_secrets_name_the_key_never_the_value(url: str, data: dict[str, str], message: str) -> None:
    with pytest.raises(GitAuthError) as error:
        auth_from_secret(url, secret(**data) if data else None)
    assert message in str(error.value)
    for value in data.values():
        if len(value) > 2:
            assert value not in str(error.value)


def test_repr_hides_every_credential() -> None:
    auth = auth_from_secret("https://h/r.git", secret(username="u", password="hunter2"))
    assert repr(auth) == "GitAuth(<username, password>)"
    assert "hunter2" not in repr(auth)


def test_proxy_secret() -> None:
    proxy = proxy_from_secret(secret(address="http://proxy:3128", username="u", password="p"))
    assert (proxy.address, proxy.username) == ("http://proxy:3128", "u")
    assert "p" not in repr(proxy).replace("proxy", "")
    with pytest.raises(GitAuthError, match="key 'address'"):
        proxy_from_secret(secret(username="u"))
    with pytest.raises(GitAuthError, match="socks5"):
        proxy_from_secret(secret(address="ftp://proxy"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@h/r.git", "https://user@h/r.git"),
        ("https://user:pass@h:8443/r.git", "https://user@h:8443/r.git"),
        ("https://h/r.git", "https://h/r.git"),
        ("ssh://git@h:22/r.git", "ssh://git@h:22/r.git"),
    ],
)
def test_redact(url: str, expected: str) -> None:
    assert redact(url) == expected


@pytest.mark.parametrize(
    ("parent", "url", "expected"),
    [
        ("http://h/org/app.git", "../lib.git", "http://h/org/lib.git"),
        ("http://h/org/app.git", "./sub.git", "http://h/org/app.git/sub.git"),
        ("ssh://git@h:2222/org/app.git", "../../other/lib.git", "ssh://git@h:2222/other/lib.git"),
        ("http://h/org/app.git", "https://elsewhere/x.git", "https://elsewhere/x.git"),
    ],
)
def test_relative_submodule_urls_resolve_like_git(parent: str, url: str, expected: str) -> None:
    assert resolve_submodule_url(parent, url) == expected


REFUSED = "Failed to establish a new connection: [Errno 111] Connection refused"
BROKEN = "Connection broken: IncompleteRead(68 bytes read)"


def wrapped(error: Exception, cause: Exception) -> Exception:
    """`error` raised from `cause`, as dulwich re-raises urllib3's errors."""
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "kind", "fragment"),
    [
        (HTTPUnauthorized(None, "u"), AuthenticationFailed, "check the credentials in secretRef"),
        (NotGitRepository(), GitError, "not found"),
        (HangupException([b"Host key verification failed."]), HostKeyMismatch, "unknown or changed"),
        (HangupException([b"git@h: Permission denied (publickey)."]), AuthenticationFailed, "identity"),
        (OSError("Connection refused"), GitError, "unable to reach"),
        (HangupException([b"fatal: something odd"]), GitError, "something odd"),
        # what the fault suite's Git server faults produce (tests/cluster/test_faults_git.py)
        (HangupException(), GitError, "ended early"),
        (GitProtocolError("Length of pkt read 0048 does not match length prefix 0050"), GitError, "ended early"),
        (urllib3.exceptions.ProtocolError(BROKEN, OSError()), GitError, f"broke in the middle of the response: {BROKEN}"
         ),
        (wrapped(GitProtocolError(str(urllib3.exceptions.ProtocolError(BROKEN, OSError()))),
                 urllib3.exceptions.ProtocolError(BROKEN, OSError())), GitError, f"middle of the response: {BROKEN}"),
        (urllib3.exceptions.NewConnectionError(urllib3.connection.HTTPConnection("127.0.0.1", 1), REFUSED),
         GitError, "unable to reach https://h/r.git: Failed to establish a new connection"),
    ],
)
def test_failures_are_classified_with_flux_reasons(error: Exception, kind: type[GitError], fragment: str) -> None:
    classified = classify(error, "https://h/r.git")
    assert type(classified) is kind
    assert fragment in str(classified)
    assert classified.reason in ("AuthenticationFailed", "GitOperationFailed")
