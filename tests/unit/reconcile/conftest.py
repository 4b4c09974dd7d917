"""Fixtures for the reconcile tables: a fake apiserver per test; an artifact server and a Git server per session.

Kustomizations fetch their source's artifact over HTTP and verify its digest, so their cases publish
real tarballs (made by `headwater.artifact.storage`, the source controller's own code) on the real
artifact server (`headwater.artifact.server`). GitRepositories read real repositories: the source
controller's transports speak HTTP(S) and SSH only, so bare repositories on disk are served by Git's own
`git http-backend` (`headwater.devcluster.gitserver_http`). Both bind 127.0.0.1 on a free port and
need nothing but local binaries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from headwater.artifact.server import create_app
from headwater.artifact.storage import Storage
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.testing.fakekube import FakeKube
from tests.unit.reconcile.artifacts import Shelf


@pytest.fixture(scope="session")
async def shelf(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shelf]:
    root = tmp_path_factory.mktemp("artifacts")
    runner = web.AppRunner(create_app(root))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield Shelf(Storage(root, f"127.0.0.1:{port}"))
    await runner.cleanup()


@pytest.fixture
def fake() -> FakeKube:
    return FakeKube()


@pytest.fixture(scope="session")
def git_server() -> Iterator[tuple[RepoBuilder, GitHttpServer]]:
    """Bare repositories (`builder.create(name, files)`) and the anonymous HTTP server over them."""
    with RepoBuilder() as builder, GitHttpServer(builder.root) as server:
        yield builder, server
