"""The artifact server and the consumer library together, over real HTTP on the loopback interface.

A storage root is archived into and served by `headwater.artifact.server`; `headwater.artifact.fetch`
downloads, verifies and extracts from it. Also: caching and range semantics, traversal attempts sent as
raw request lines (HTTP clients normalise paths), tampered and malicious artifacts, and retries against
a deliberately flaky server.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tarfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from headwater.artifact.fetch import (
    ArtifactError,
    ArtifactNotFound,
    ArtifactTooLarge,
    DigestMismatch,
    DownloadFailed,
    UnsafeArchive,
    fetch_artifact,
)
from headwater.artifact.ignore import tree_matcher
from headwater.artifact.server import create_app
from headwater.artifact.storage import Artifact, ObjectRef, Storage

pytestmark = pytest.mark.integration

REF = ObjectRef("GitRepository", "flux-system", "podinfo")
SHA = "132f4e719209eb10b9485302f8593fc0e680f4fc"


async def _start(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


@dataclass
class Served:
    storage: Storage
    port: int
    session: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store_tree(self, tree: Path, name: str = f"{SHA}.tar.gz") -> Artifact:
        artifact = self.storage.new_artifact(REF, f"main@sha1:{SHA}", name)
        return self.storage.archive(artifact, tree, tree_matcher(tree))

    def store_bytes(self, data: bytes, name: str) -> Artifact:
        return self.storage.write(self.storage.new_artifact(REF, "r", name), data)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    root = tmp_path / "data"
    root.mkdir()
    runner, port = await _start(create_app(root))
    session = aiohttp.ClientSession()
    try:
        yield Served(Storage(root, f"127.0.0.1:{port}"), port, session)
    finally:
        await session.close()
        await runner.cleanup()


def _tree(base: Path) -> Path:
    files = {
        "kustomization.yaml": "resources: [deploy.yaml]\n",
        "deploy.yaml": "kind: Deployment\n" * 200,
        "nested/dir/config.yaml": "a: 1\n",
        ".git/HEAD": "ref: refs/heads/main\n",
        "logo.png": "png",
    }
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return base


async def _raw_get(port: int, target: str, method: str = "GET") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# -- fetch: happy path and failures ---------------------------------------------------------------------

async def test_fetch_happy_path(served: Served, tmp_path: Path) -> None:
    artifact = served.store_tree(_tree(tmp_path / "checkout"))
    assert artifact.url == f"{served.base}/gitrepository/flux-system/podinfo/{SHA}.tar.gz"
    dest = await fetch_artifact(artifact.url, artifact.digest, tmp_path / "work" / "src", session=served.session)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == [
        "deploy.yaml", "kustomization.yaml", "nested", "nested/dir", "nested/dir/config.yaml",
    ]
    assert (dest / "deploy.yaml").read_text() == "kind: Deployment\n" * 200
    assert sorted(os.listdir(tmp_path / "work")) == ["src"]  # no download or staging leftovers


async def test_fetch_with_own_session_and_host_override(served: Served, tmp_path: Path) -> None:
    artifact = served.store_tree(_tree(tmp_path / "checkout"))
    in_cluster = artifact.url.replace(f"127.0.0.1:{served.port}", "source-controller.flux-system.svc.cluster.local.")
    dest = await fetch_artifact(in_cluster, artifact.digest, tmp_path / "dest",
                                host_override=f"127.0.0.1:{served.port}")
    assert (dest / "kustomization.yaml").exists()


async def test_tampered_artifact_is_rejected(served: Served, tmp_path: Path) -> None:
    artifact = served.store_tree(_tree(tmp_path / "checkout"))
    local = served.storage.local_path(artifact.path)
    data = bytearray(local.read_bytes())
    data[len(data) // 2] ^= 0xFF
    local.write_bytes(bytes(data))
    actual = "sha256:" + hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(DigestMismatch) as info:
        await fetch_artifact(artifact.url, artifact.digest, tmp_path / "dest", session=served.session)
    assert info.value.expected == artifact.digest
    assert info.value.actual == actual
    message = str(info.value)
    assert artifact.digest in message
    assert actual in message
    assert artifact.url in message
    assert not (tmp_path / "dest").exists()
    assert os.listdir(tmp_path) == ["checkout", "data"]


async def test_missing_artifact_is_not_found(served: Served, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFound) as info:
        await fetch_artifact(f"{served.base}/gitrepository/x/y/gone.tar.gz", "sha256:" + "0" * 64,
                             tmp_path / "dest", session=served.session, retries=5, backoff=10)
    assert info.value.status == 404  # and no retries (backoff 10 s would have shown)


async def test_download_size_limit(served: Served, tmp_path: Path) -> None:
    artifact = served.store_tree(_tree(tmp_path / "checkout"))
    with pytest.raises(ArtifactTooLarge):
        await fetch_artifact(artifact.url, artifact.digest, tmp_path / "dest", session=served.session,
                             max_size=100)


async def test_credentials_never_in_errors(served: Served, tmp_path: Path) -> None:
    url = f"http://user:hunter2@127.0.0.1:{served.port}/gitrepository/x/y/gone.tar.gz?token=hunter3"
    with pytest.raises(ArtifactNotFound) as info:
        await fetch_artifact(url, "sha256:" + "0" * 64, tmp_path / "dest", session=served.session)
    assert "hunter" not in str(info.value)
    assert info.value.url == f"http://127.0.0.1:{served.port}/gitrepository/x/y/gone.tar.gz"


async def test_invalid_digest_and_busy_destination(served: Served, tmp_path: Path) -> None:
    artifact = served.store_tree(_tree(tmp_path / "checkout"))
    with pytest.raises(ArtifactError, match="digest"):
        await fetch_artifact(artifact.url, "sha256:nothex", tmp_path / "dest", session=served.session)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(ArtifactError, match="not an empty directory"):
        await fetch_artifact(artifact.url, artifact.digest, busy, session=served.session)


def _malicious(kind: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        def add(name: str, type_: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"evil") -> None:
            info = tarfile.TarInfo(name)
            info.type = type_
            info.linkname = link
            info.size = len(data) if type_ == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if type_ == tarfile.REGTYPE else None)

        add("ok.yaml", data=b"fine")
        if kind == "absolute":
            add("/tmp/headwater-evil-absolute")
        elif kind == "dotdot":
            add("../../../headwater-evil-dotdot")
        elif kind == "symlink":
            add("etc", tarfile.SYMTYPE, "/etc")
            add("etc/headwater-evil")
        elif kind == "hardlink":
            add("passwd", tarfile.LNKTYPE, "../../../../../../etc/passwd")
        elif kind == "device":
            add("mem", tarfile.CHRTYPE)
    return raw.getvalue()


def _escaped() -> list[str]:
    return [p for p in ("/tmp/headwater-evil-absolute", "/etc/headwater-evil") if os.path.exists(p)]


def _snapshot(base: Path) -> list[str]:
    """Everything below ``base`` except the storage root."""
    return sorted(str(p) for p in base.rglob("*") if "data" not in p.relative_to(base).parts)


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "hardlink", "device"])
async def test_malicious_artifacts_are_refused(served: Served, tmp_path: Path, kind: str) -> None:
    data = _malicious(kind)
    artifact = served.store_bytes(data, f"{kind}.tar.gz")
    work = tmp_path / "work" / "a" / "b"
    work.mkdir(parents=True)
    before = _snapshot(tmp_path)
    with pytest.raises(UnsafeArchive):
        await fetch_artifact(artifact.url, artifact.digest, work / "dest", session=served.session)
    assert _snapshot(tmp_path) == before
    assert not _escaped()


# -- retries ----------------------------------------------------------------------------------------------

@pytest.fixture
async def flaky(served: Served) -> AsyncIterator[Callable[[int, int], Awaitable[tuple[str, list[int]]]]]:
    """A server answering `status` `failures` times, then proxying to the artifact server."""
    runners: list[web.AppRunner] = []

    async def make(failures: int, status: int) -> tuple[str, list[int]]:
        calls: list[int] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            calls.append(1)
            if len(calls) <= failures:
                return web.Response(status=status)
            async with served.session.get(f"{served.base}{request.rel_url}") as upstream:
                return web.Response(body=await upstream.read(), status=upstream.status)

        app = web.Application()
        app.router.add_get("/{tail:.*}", handler)
        runner, port = await _start(app)
        runners.append(runner)
        return f"127.0.0.1:{port}", calls

    yield make
    for runner in runners:
        await runner.cleanup()


async def test_transient_failures_are_retried(served: Served, flaky: Callable[[int, int],
                                              Awaitable[tuple[str, list[int]]]], tmp_path: Path) -> None:
    artifact = served.store_tree(_tree(tmp_path / "checkout"))
    host, calls = await flaky(2, 503)
    dest = await fetch_artifact(artifact.url, artifact.digest, tmp_path / "dest", session=served.session,
                                host_override=host, retries=3, backoff=0.01)
    assert (dest / "kustomization.yaml").exists()
    assert len(calls) == 3


async def test_retries_give_up(served: Served, flaky: Callable[[int, int], Awaitable[tuple[str, list[int]]]],
                               tmp_path: Path) -> None:
    artifact = served.store_tree(_tree(tmp_path / "checkout"))
    host, calls = await flaky(100, 502)
    with pytest.raises(DownloadFailed, match="after 3 attempts") as info:
        await fetch_artifact(artifact.url, artifact.digest, tmp_path / "dest", session=served.session,
                             host_override=host, retries=2, backoff=0.01)
    assert info.value.status == 502
    assert len(calls) == 3


async def test_client_errors_are_final(served: Served, flaky: Callable[[int, int],
                                       Awaitable[tuple[str, list[int]]]], tmp_path: Path) -> None:
    artifact = served.store_tree(_tree(tmp_path / "checkout"))
    host, calls = await flaky(100, 403)
    with pytest.raises(DownloadFailed, match="403"):
        await fetch_artifact(artifact.url, artifact.digest, tmp_path / "dest", session=served.session,
                             host_override=host, retries=3, backoff=0.01)
    assert len(calls) == 1


async def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    runner, port = await _start(web.Application())
    await runner.cleanup()  # nothing listens there any more
    with pytest.raises(DownloadFailed, match="cannot connect"):
        await fetch_artifact(f"http://127.0.0.1:{port}/x.tar.gz", "sha256:" + "0" * 64, tmp_path / "dest",
                             retries=1, backoff=0.01)


# -- HTTP semantics ---------------------------------------------------------------------------------------

async def test_get_headers_and_body(served: Served) -> None:
    artifact = served.store_bytes(b"0123456789" * 100, "abc.tar.gz")
    async with served.session.get(artifact.url) as response:
        body = await response.read()
        assert response.status == 200
        assert body == b"0123456789" * 100
        assert response.headers["Content-Length"] == "1000"
        assert response.headers["Content-Type"] == "application/x-gzip"
        assert response.headers["ETag"] == f'"{artifact.digest}"'
        assert response.headers["Accept-Ranges"] == "bytes"
        assert "Last-Modified" in response.headers
    async with served.session.head(artifact.url) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == "1000"
        assert await response.read() == b""


async def test_conditional_requests(served: Served) -> None:
    artifact = served.store_bytes(b"payload", "abc.tar.gz")
    etag = f'"{artifact.digest}"'
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        async with served.session.get(artifact.url, headers={"If-None-Match": header}) as response:
            assert response.status == 304, header
            assert response.headers["ETag"] == etag
            assert await response.read() == b""
    async with served.session.get(artifact.url, headers={"If-None-Match": '"sha256:other"'}) as response:
        assert response.status == 200
    async with served.session.get(artifact.url) as response:
        last_modified = response.headers["Last-Modified"]
    async with served.session.get(artifact.url, headers={"If-Modified-Since": last_modified}) as response:
        assert response.status == 304
    async with served.session.get(artifact.url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}) as r:
        assert r.status == 200


async def test_etag_follows_content(served: Served) -> None:
    first = served.store_bytes(b"one", "abc.tar.gz")
    second = served.store_bytes(b"two", "abc.tar.gz")  # replaced atomically under the same name
    async with served.session.get(first.url) as response:
        assert response.headers["ETag"] == f'"{second.digest}"'
        assert await response.read() == b"two"


async def test_range_requests(served: Served) -> None:
    artifact = served.store_bytes(bytes(range(256)) * 4, "abc.tar.gz")
    cases = {"bytes=0-9": (0, 9), "bytes=1000-": (1000, 1023), "bytes=-24": (1000, 1023), "bytes=10-5000": (10, 1023)}
    for header, (first, last) in cases.items():
        async with served.session.get(artifact.url, headers={"Range": header}) as response:
            assert response.status == 206, header
            assert response.headers["Content-Range"] == f"bytes {first}-{last}/1024"
            assert response.headers["Content-Length"] == str(last - first + 1)
            assert await response.read() == (bytes(range(256)) * 4)[first : last + 1]
    for header in ("bytes=2000-", "bytes=1024-2000,-0"):  # well formed, nothing overlaps
        async with served.session.get(artifact.url, headers={"Range": header}) as response:
            assert response.status == 416, header
            assert response.headers["Content-Range"] == "bytes */1024"
    # several ranges, and (RFC 9110 section 14.2) malformed or other-unit headers, which are ignored
    for header in ("bytes=0-1,5-6", "bytes=abc", "bytes=5-1", "bytes=x-y", "lines=1-2"):
        async with served.session.get(artifact.url, headers={"Range": header}) as response:
            assert response.status == 200, header
            assert "Content-Range" not in response.headers
            assert len(await response.read()) == 1024


async def test_if_range(served: Served) -> None:
    artifact = served.store_bytes(b"abcdefghij", "abc.tar.gz")
    etag = f'"{artifact.digest}"'
    async with served.session.get(artifact.url, headers={"Range": "bytes=0-1", "If-Range": etag}) as response:
        assert response.status == 206
        assert await response.read() == b"ab"
    async with served.session.get(artifact.url, headers={"Range": "bytes=0-1", "If-Range": '"stale"'}) as response:
        assert response.status == 200
        assert await response.read() == b"abcdefghij"


async def test_latest_link_is_served(served: Served) -> None:
    ref = ObjectRef("OCIRepository", "apps", "podinfo")
    artifact = served.storage.write(served.storage.new_artifact(ref, "latest@sha256:aa", "aa.tar.gz"), b"oci")
    url = served.storage.symlink(artifact)
    async with served.session.get(url) as response:
        assert response.status == 200
        assert await response.read() == b"oci"
        assert response.headers["ETag"] == f'"{artifact.digest}"'


async def test_root_and_directories(served: Served) -> None:
    served.store_bytes(b"x", "abc.tar.gz")
    async with served.session.get(f"{served.base}/") as response:
        assert response.status == 200
        assert await response.text() == "ok\n"
    for path in ("/gitrepository", "/gitrepository/", "/gitrepository/flux-system/podinfo/"):
        async with served.session.get(f"{served.base}{path}") as response:
            assert response.status == 404, path
            assert "abc.tar.gz" not in await response.text()


async def test_read_only(served: Served) -> None:
    artifact = served.store_bytes(b"x", "abc.tar.gz")
    for method in ("PUT", "POST", "DELETE", "PATCH"):
        async with served.session.request(method, artifact.url, data=b"overwrite") as response:
            assert response.status == 405, method
            assert response.headers["Allow"] == "GET,HEAD"
    assert served.storage.local_path(artifact.path).read_bytes() == b"x"


async def test_traversal_and_escapes_are_404(served: Served, tmp_path: Path) -> None:
    artifact = served.store_bytes(b"x", "abc.tar.gz")
    (tmp_path / "secret").write_text("TOP-SECRET")
    directory = served.storage.local_path(artifact.path).parent
    os.symlink(tmp_path / "secret", directory / "escape")
    os.symlink("/etc/passwd", directory / "passwd")
    (directory / ".abc.tar.gz.tmp").write_text("partial")
    targets = [
        "/../../../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/gitrepository/flux-system/podinfo/../../../../secret",
        "/gitrepository/flux-system/podinfo/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret",
        "/gitrepository/flux-system/podinfo/escape",
        "/gitrepository/flux-system/podinfo/passwd",
        "/gitrepository/flux-system/podinfo/.abc.tar.gz.tmp",
        "//etc/passwd",
        "/gitrepository/flux-system/podinfo/abc.tar.gz%00.txt",
        "/gitrepository/flux-system/podinfo/%ff",
        "/" + str(tmp_path / "secret"),
    ]
    for target in targets:
        status, body = await _raw_get(served.port, target)
        assert status in (400, 404), target
        assert b"TOP-SECRET" not in body, target
        assert b"root:" not in body, target
    status, body = await _raw_get(served.port, f"/{artifact.path}")
    assert (status, body) == (200, b"x")
