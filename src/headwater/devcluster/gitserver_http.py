"""Git smart HTTP for tests and the demo: the real `git http-backend` behind an aiohttp server.

Why not a Python implementation of the protocol: the source controller must be tested against what
real Git servers answer, so the protocol side is Git's own CGI program; this module only bridges HTTP
to CGI (environment, streamed bodies both ways, `Status:` header) and adds what a hosting service adds
and tests need: authentication (anonymous, basic, bearer; 401 with `WWW-Authenticate` otherwise),
optional TLS with a generated CA and optional client certificates, and per-repository counters
(`gitserver_stats`) that tell a ref listing from a fetch.

The server runs its own event loop in a daemon thread, so the same object serves a synchronous caller
(the demo; a test running `git clone` with `subprocess.run`, which would deadlock a server sharing the
test's loop) and asynchronous ones (`async with GitHttpServer(...)` in a pytest-asyncio fixture).
It binds 127.0.0.1 only. Request bodies are passed through undecoded, gzip included
(`HTTP_CONTENT_ENCODING` tells http-backend to inflate).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hmac
import os
import re
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiohttp import web

from headwater.devcluster.gitserver_stats import GitStats
from headwater.devcluster.gitserver_tls import TlsMaterial, generate_tls
from headwater.devcluster.gitserver_wire import GzipTap, Scanner, scanner_for

HTTP_BACKEND = Path("/usr/lib/git-core/git-http-backend")
_REPO_PATH = re.compile(
    r"^/(?P<repo>.+?)/(?P<rest>info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.*|info/.*)$"
)
# Headers the CGI environment carries under their own names, or must not carry at all.
_NOT_PASSED = {"authorization", "content-type", "content-length", "proxy", "connection"}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class HttpAuth:
    """Who may use the server: nobody configured means anonymous access.

    With `username`/`password`, HTTP basic; with `token`, `Authorization: Bearer <token>`; both may be
    set. `anonymous_read` lets fetches through without credentials and guards pushes only (a public
    repository on a hosting service). The authenticated name becomes the CGI `REMOTE_USER`.
    """

    username: str | None = None
    password: str | None = None
    token: str | None = None
    token_user: str = "token-user"
    anonymous_read: bool = False

    @classmethod
    def basic(cls, username: str, password: str) -> HttpAuth:
        return cls(username=username, password=password)

    @classmethod
    def bearer(cls, token: str) -> HttpAuth:
        return cls(token=token)

    @property
    def required(self) -> bool:
        return self.username is not None or self.token is not None

    def authenticate(self, header: str | None) -> str | None:
        """The remote user ("" when anonymous access is allowed), or None for a 401."""
        if not self.required:
            return ""
        scheme, _, value = (header or "").partition(" ")
        value = value.strip()
        if scheme.lower() == "basic" and self.username is not None:
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if _same(user, self.username) and _same(password, self.password or ""):
                return user
        if scheme.lower() == "bearer" and self.token is not None and _same(value, self.token):
            return self.token_user
        return None

    def challenge(self) -> str:
        schemes = []
        if self.username is not None:
            schemes.append('Basic realm="headwater-git"')
        if self.token is not None:
            schemes.append('Bearer realm="headwater-git"')
        return ", ".join(schemes)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it (for assertions on what a client sent)."""

    method: str
    path: str
    query: str
    status: int
    remote_user: str
    git_protocol: str
    user_agent: str
    content_encoding: str


class GitHttpServer:
    """Serves every bare repository under `root` at `http(s)://127.0.0.1:<port>/<path relative to root>`.

    `tls=True` generates a CA and certificates (see `tls`); `client_cert_required=True` (implies TLS)
    rejects TLS clients without a certificate signed by that CA. Pushes are enabled (`http.receivepack`).
    `git_config` adds server-side Git configuration (e.g. `uploadpack.allowFilter`).
    """

    def __init__(
        self,
        root: Path,
        *,
        auth: HttpAuth | None = None,
        tls: bool | TlsMaterial = False,
        client_cert_required: bool = False,
        git_config: Mapping[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.root = Path(root)
        self.auth = auth or HttpAuth()
        self._tls_option = tls or client_cert_required
        self.client_cert_required = client_cert_required
        self.git_config = {"http.receivepack": "true", "uploadpack.allowFilter": "true", **(git_config or {})}
        self.stats = GitStats()
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=10_000)
        self.tls: TlsMaterial | None = None
        self.port = port
        self._workdir: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._backend_log: IO[bytes] | None = None
        self._children: set[asyncio.subprocess.Process] = set()

    # --- addresses and client configuration ------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self._tls_option else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, repo: str, *, credentials: bool = False) -> str:
        """The clone URL of `repo` (path relative to root); with the basic credentials embedded if asked."""
        userinfo = ""
        if credentials and self.auth.username is not None:
            quote = urllib.parse.quote
            userinfo = f"{quote(self.auth.username, safe='')}:{quote(self.auth.password or '', safe='')}@"
        return f"{self.scheme}://{userinfo}127.0.0.1:{self.port}/{repo.strip('/')}"

    def client_config(self, *, credentials: bool = True, client_cert: bool = True) -> dict[str, str]:
        """`git -c` settings for a client of this server: CA, client certificate, bearer header."""
        config: dict[str, str] = {}
        if self.tls is not None:
            config["http.sslCAInfo"] = str(self.tls.ca.cert)
            if client_cert and self.client_cert_required:
                config["http.sslCert"] = str(self.tls.client.cert)
                config["http.sslKey"] = str(self.tls.client.key)
        if credentials and self.auth.token is not None:
            config["http.extraHeader"] = f"Authorization: Bearer {self.auth.token}"
        return config

    def git_args(self, *, credentials: bool = True, client_cert: bool = True) -> list[str]:
        """`client_config` as `-c key=value` arguments to put right after `git`."""
        config = self.client_config(credentials=credentials, client_cert=client_cert)
        return [arg for key, value in config.items() for arg in ("-c", f"{key}={value}")]

    def reset_stats(self) -> None:
        self.stats.reset()
        self.requests.clear()

    @property
    def backend_log(self) -> Path | None:
        """http-backend's standard error, for debugging a failing test."""
        return self._workdir / "http-backend.log" if self._workdir else None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            return self
        if not HTTP_BACKEND.exists():
            raise RuntimeError(f"{HTTP_BACKEND} not found: install the git package")
        self._workdir = Path(tempfile.mkdtemp(prefix="headwater-git-http-"))
        (self._workdir / "home").mkdir()
        self._backend_log = (self._workdir / "http-backend.log").open("ab")
        ssl_context = None
        if self._tls_option:
            if self.tls is None:
                self.tls = (self._tls_option if isinstance(self._tls_option, TlsMaterial)
                            else generate_tls(self._workdir / "tls"))
            ssl_context = self._ssl_context(self.tls)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = int(sock.getsockname()[1])
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._serve, args=(loop,), name=f"git-http-{self.port}", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start_site(sock, ssl_context), loop).result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
        self._loop = self._thread = self._runner = None
        if self._backend_log is not None:
            self._backend_log.close()
            self._backend_log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _ssl_context(self, tls: TlsMaterial) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.server.cert, tls.server.key)
        if self.client_cert_required:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(tls.ca.cert))
        return context

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            # Requests still in flight (a client killed mid-fetch) finish their clean-up on this loop:
            # left pending, their http-backend transports would be closed after the loop is gone.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=10))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _start_site(self, sock: socket.socket, ssl_context: ssl.SSLContext | None) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # auto_decompress=False: a gzip request body goes to http-backend as sent (it inflates itself).
        self._runner = web.AppRunner(app, auto_decompress=False, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=ssl_context).start()

    async def _shutdown(self) -> None:
        for child in list(self._children):
            _kill(child)
        if self._runner is not None:
            await self._runner.cleanup()
        for child in list(self._children):
            await child.wait()

    # --- the CGI bridge ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        match = _REPO_PATH.match(path)
        repo = match["repo"] if match else path.strip("/")
        rest = match["rest"] if match else ""
        service = request.query.get("service", "")
        pushing = rest == "git-receive-pack" or (rest == "info/refs" and service == "git-receive-pack")
        self.stats.add(repo, "requests")
        user = self.auth.authenticate(request.headers.get("Authorization"))
        if user is None and self.auth.anonymous_read and not pushing:
            user = ""
        if user is None:
            self.stats.add(repo, "unauthorized")
            self._record(request, 401, "")
            return web.Response(status=401, text="authentication required\n",
                                headers={"WWW-Authenticate": self.auth.challenge()})
        if rest == "info/refs" and service == "git-upload-pack":
            self.stats.add(repo, "info/refs")
        elif rest == "info/refs" and service == "git-receive-pack":
            self.stats.add(repo, "info/refs:receive-pack")
        scanner = scanner_for(rest) if request.method == "POST" else None
        response = await self._run_cgi(request, user, repo, scanner)
        self._record(request, response.status, user)
        return response

    def _record(self, request: web.Request, status: int, user: str) -> None:
        headers = request.headers
        self.requests.append(RequestRecord(
            request.method, request.path, request.query_string, status, user,
            headers.get("Git-Protocol", ""), headers.get("User-Agent", ""), headers.get("Content-Encoding", ""),
        ))

    def _environment(self, request: web.Request, user: str) -> dict[str, str]:
        assert self._workdir is not None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._workdir / "home"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": "headwater-git-http",
            "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.port),
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query_string,
            "REQUEST_URI": request.path_qs,
            "REMOTE_ADDR": request.remote or "127.0.0.1",
            "GIT_CONFIG_COUNT": str(len(self.git_config)),
        }
        for index, (key, value) in enumerate(self.git_config.items()):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        if "Content-Type" in request.headers:
            env["CONTENT_TYPE"] = request.headers["Content-Type"]
        if "Content-Length" in request.headers:
            env["CONTENT_LENGTH"] = request.headers["Content-Length"]
        if user:
            env["REMOTE_USER"] = user
            env["AUTH_TYPE"] = request.headers.get("Authorization", "").partition(" ")[0]
        for name, value in request.headers.items():
            if name.lower() not in _NOT_PASSED:
                env["HTTP_" + name.upper().replace("-", "_")] = value
        return env

    async def _run_cgi(
        self, request: web.Request, user: str, repo: str, scanner: Scanner | None
    ) -> web.StreamResponse:
        child = await asyncio.create_subprocess_exec(
            str(HTTP_BACKEND), env=self._environment(request, user),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._backend_log,
            start_new_session=True,  # its own process group: `_kill` stops the git upload-pack it runs too
        )
        self._children.add(child)
        feeder = asyncio.create_task(self._feed(request, child, repo, scanner))
        try:
            assert child.stdout is not None
            status, reason, headers = await _read_cgi_headers(child.stdout)
            if status == 0:
                await child.wait()
                return web.Response(status=502, text=f"http-backend exited with {child.returncode}\n")
            response = web.StreamResponse(status=status, reason=reason)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            try:
                while chunk := await child.stdout.read(65536):
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionResetError:
                return response  # the client went away; the finally block stops http-backend
            await feeder
            await child.wait()
            return response
        finally:
            if not feeder.done():
                feeder.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await feeder
            if child.returncode is None:
                _kill(child)
            await child.wait()
            # A client that went away mid-pack leaves output unread, and asyncio closes the child's
            # transport only once its pipes reached EOF: unread, it would be closed by the garbage
            # collector after the loop is gone ("Event loop is closed" at interpreter exit).
            if child.stdout is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(child.stdout.read(), 10)
            self._children.discard(child)

    async def _feed(
        self, request: web.Request, child: asyncio.subprocess.Process, repo: str, scanner: Scanner | None
    ) -> None:
        """Stream the request body into http-backend, classifying Git requests on the way."""
        assert child.stdin is not None
        gunzip = GzipTap() if request.headers.get("Content-Encoding", "").lower() in {"gzip", "x-gzip"} else None
        try:
            async for chunk in request.content.iter_any():
                if scanner is not None:
                    self.stats.add(repo, *scanner.feed(gunzip.feed(chunk) if gunzip else chunk))
                child.stdin.write(chunk)
                await child.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # http-backend stopped reading: its answer says why
        finally:
            if scanner is not None:
                self.stats.add(repo, *scanner.close())
            child.stdin.close()


def _kill(child: asyncio.subprocess.Process) -> None:
    """SIGKILL to http-backend's process group (it and the `git upload-pack` it runs, which would go on
    writing a pack nobody reads), without `Process.kill()`, whose `Popen.poll()` would reap the child
    behind the back of asyncio's child watcher (which then logs "Unknown child process" and reports
    255). Until the watcher reaps it, its pid, which names the group, cannot be reused, so signalling
    the group directly is safe."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)


async def _read_cgi_headers(stdout: asyncio.StreamReader) -> tuple[int, str, list[tuple[str, str]]]:
    """Status, reason and headers of a CGI response; status 0 when the program wrote no header block."""
    status, reason = 200, "OK"
    headers: list[tuple[str, str]] = []
    while True:
        line = await stdout.readline()
        if not line:
            return 0, "", headers
        line = line.rstrip(b"\r\n")
        if not line:
            return status, reason, headers
        name, _, value = line.decode("latin-1").partition(":")
        value = value.strip()
        if name.lower() == "status":
            code, _, text = value.partition(" ")
            status, reason = int(code), text or "Status"
        else:
            headers.append((name, value))
