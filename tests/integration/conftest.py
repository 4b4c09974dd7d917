"""Fixtures for tests against real Git servers (no cluster needed): reuse them in source-controller tests.

Session-scoped (started once, shared; cheap to use, so prefer them):

* `repo_builder` - a `RepoBuilder` whose root both session servers serve. Name repositories with
  `repo_name` so tests never share one (counters are per repository, so they stay per test too).
* `git_http` - a `GitHttpServer`, anonymous, plain HTTP: `git_http.url(name)`, `git_http.stats[name]`.
* `git_ssh` - a `GitSshServer` (real sshd): `git_ssh.url(name)`, `git_ssh.known_hosts`,
  `git_ssh.client_keys["ed25519"]` (and `["rsa"]`, passphrase `CLIENT_KEY_PASSPHRASE`),
  `git_ssh.git_env(key)` for a `git` client, `git_ssh.stats[name]`.

Function-scoped:

* `repo_name` - a fresh repository name for this test, e.g. `test-clone-http-3fa2c1.git`.
* `git_http_factory` - `git_http_factory(auth=HttpAuth.basic("u", "p"), tls=True, client_cert_required=True)`
  starts another HTTP server over `repo_builder.root` with its own auth/TLS; stopped after the test.
* `git_client` - a `GitCli` with a private HOME, to run `git` as a client (`git_client.run("clone", ...)`).

Counters: see `headwater.devcluster.gitserver_stats` (`"upload-pack"` moves on a clone/fetch of objects,
`"info/refs"`/`"ls-refs"` on ref listings).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headwater.devcluster.gitrepos import GitCli, RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer, HttpAuth
from headwater.devcluster.gitserver_ssh import GitSshServer

HttpFactory = Callable[..., GitHttpServer]


@pytest.fixture(scope="session")
def repo_builder() -> Iterator[RepoBuilder]:
    with RepoBuilder() as builder:
        yield builder


@pytest.fixture(scope="session")
def git_http(repo_builder: RepoBuilder) -> Iterator[GitHttpServer]:
    with GitHttpServer(repo_builder.root) as server:
        yield server


@pytest.fixture(scope="session")
def git_ssh(repo_builder: RepoBuilder) -> Iterator[GitSshServer]:
    with GitSshServer(repo_builder.root) as server:
        yield server


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    return f"{slug}-{secrets.token_hex(3)}.git"


@pytest.fixture
def git_http_factory(repo_builder: RepoBuilder) -> Iterator[HttpFactory]:
    servers: list[GitHttpServer] = []

    def start(*, auth: HttpAuth | None = None, tls: bool = False, client_cert_required: bool = False,
              root: Path | None = None) -> GitHttpServer:
        server = GitHttpServer(root or repo_builder.root, auth=auth, tls=tls,
                               client_cert_required=client_cert_required)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def git_client(tmp_path: Path) -> GitCli:
    return GitCli(tmp_path / "client-home")
