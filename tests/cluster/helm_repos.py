"""Real Helm repositories for the source tests: an HTTP index server, Debian's docker-registry, podinfo.

- `HelmHTTPServer`: an aiohttp server on 127.0.0.1 serving a directory (index.yaml and chart .tgz files made
  by the real `helm package` and `helm repo index`), optionally behind basic auth, optionally over TLS with
  a certificate of a CA made at test time (and then optionally requiring a client certificate of that CA);
  it counts requests.
- `OCIRegistry`: `/usr/bin/docker-registry` (Debian's distribution registry) on a loopback port with its own
  config and storage, charts pushed with the real `helm push --plain-http`.
- `podinfo_chart_dir`: the podinfo chart (`charts/podinfo`) of the podinfo Go module, fetched through the Go
  module proxy into the Go module cache (pinned: `PODINFO_MODULE`).
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path

from aiohttp import web

from headwater.devcluster.gitserver_tls import TlsMaterial
from headwater.devcluster.helmtools import HelmTools
from headwater.devcluster.ports import PortAllocator

PODINFO_MODULE = "github.com/stefanprodan/podinfo@v1.8.1-0.20250910200901-e86405a8674e"  # chart version 6.9.2
PODINFO_VERSION = "6.9.2"


def helm(tools: HelmTools, home: Path, *args: str) -> str:
    done = subprocess.run([str(tools.helm), *args], capture_output=True, text=True, timeout=120,
                          env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def podinfo_chart_dir(work: Path) -> Path:
    """A writable copy of podinfo's charts/podinfo from the Go module (downloaded once into the module cache)."""
    done = subprocess.run(["go", "mod", "download", "-json", PODINFO_MODULE], capture_output=True, text=True,
                          timeout=300, cwd=work)
    assert done.returncode == 0, done.stderr
    module = Path(json.loads(done.stdout)["Dir"])
    target = work / "podinfo"
    shutil.copytree(module / "charts" / "podinfo", target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def package(tools: HelmTools, home: Path, chart: Path, out: Path) -> Path:
    """`helm package` the chart directory into `out`; the archive's path."""
    out.mkdir(parents=True, exist_ok=True)
    printed = helm(tools, home, "package", str(chart), "-d", str(out))
    return Path(printed.strip().rsplit(": ", 1)[1])


def index(tools: HelmTools, home: Path, directory: Path) -> bytes:
    """`helm repo index` of the directory (chart URLs relative to the repository); the index's bytes."""
    helm(tools, home, "repo", "index", str(directory))
    return (directory / "index.yaml").read_bytes()


class HelmHTTPServer:
    """Serves `root` over HTTP on 127.0.0.1 (basic auth when `credentials` are given; HTTPS with `tls`)."""

    def __init__(self, root: Path, credentials: tuple[str, str] | None = None, *, tls: TlsMaterial | None = None,
                 client_cert_required: bool = False) -> None:
        self.root = root
        self.credentials = credentials
        self.tls = tls
        self.client_cert_required = client_cert_required
        self.requests: Counter[str] = Counter()
        self.port = PortAllocator().allocate()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/charts"

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.server.cert, self.tls.server.key)
        if self.client_cert_required:
            context.load_verify_locations(cafile=str(self.tls.ca.cert))
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests[name] += 1
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            if request.headers.get("Authorization") != expected:
                return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="charts"'})
        path = self.root / name
        if "/" in name or not path.is_file():
            return web.Response(status=404)
        return web.Response(body=path.read_bytes())

    async def start(self) -> HelmHTTPServer:
        app = web.Application()
        app.router.add_get("/charts/{name}", self._serve)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=self._ssl_context()).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


class OCIRegistry:
    """Debian's docker-registry on a loopback port, storing under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = PortAllocator().allocate()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> OCIRegistry:
        binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
        config = self.root / "config.yml"
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "
                          f"{self.root / 'data'}\nhttp:\n  addr: {self.host}\n")
        log = (self.root / "registry.log").open("wb")
        self.process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"docker-registry did not start: {(self.root / 'registry.log').read_text()}")

    def push(self, tools: HelmTools, home: Path, archive: Path, prefix: str = "charts") -> None:
        helm(tools, home, "push", str(archive), f"oci://{self.host}/{prefix}", "--plain-http")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
