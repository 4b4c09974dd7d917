"""Real Git servers on 127.0.0.1 for the source controller's tests and for the demo.

The source controller is tested against what people actually run, never mocks: Git's own
`git http-backend` (smart HTTP, behind aiohttp: `gitserver_http`) and OpenSSH's `sshd` with
`git-shell` (`gitserver_ssh`), serving bare repositories built with the real `git` CLI (`gitrepos`).
This module is the entry point: it re-exports the pieces and combines them in `GitServers`.

    with GitServers(auth=HttpAuth.basic("alice", "s3cret")) as git:
        repo = git.repos.create("app.git", {"deploy/cm.yaml": "kind: ConfigMap\\n"})
        repo.tag("v1.0.0", message="first release")
        git.http.url("app.git")            # http://127.0.0.1:PORT/app.git (basic auth)
        git.ssh.url("app.git")             # ssh://root@127.0.0.1:PORT/app.git
        git.ssh.client_keys["ed25519"]     # identity (private_key path, public_key line)
        git.ssh.known_hosts                # "[127.0.0.1]:PORT ssh-ed25519 AAAA..." lines
        git.http.stats["app.git"]["upload-pack"]   # fetches so far (see gitserver_stats)

Lifecycle: `start()`/`stop()`, `with`, or `async with` (start/stop run in a worker thread, so an
async fixture's loop is not blocked). The HTTP server runs its own event loop in a daemon thread
(so a test may call `git` synchronously, even from an async test); sshd is a child process, reaped by
`stop()` (also at interpreter exit). Temp dirs are removed on stop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Self

from headwater.devcluster.gitrepos import (
    AUTHOR_EMAIL,
    AUTHOR_NAME,
    Executable,
    FileContent,
    GitCli,
    GitError,
    GpgSigner,
    Repo,
    RepoBuilder,
    Signer,
    SshSigner,
    Symlink,
    Tag,
    config_args,
)
from headwater.devcluster.gitserver_http import GitHttpServer, HttpAuth, RequestRecord
from headwater.devcluster.gitserver_keys import SshKey, generate_ssh_key
from headwater.devcluster.gitserver_ssh import CLIENT_KEY_PASSPHRASE, GitSshServer
from headwater.devcluster.gitserver_stats import GitStats
from headwater.devcluster.gitserver_tls import TlsMaterial, generate_ca, generate_tls

__all__ = [
    "AUTHOR_EMAIL",
    "AUTHOR_NAME",
    "CLIENT_KEY_PASSPHRASE",
    "Executable",
    "FileContent",
    "GitCli",
    "GitError",
    "GitHttpServer",
    "GitServers",
    "GitSshServer",
    "GitStats",
    "GpgSigner",
    "HttpAuth",
    "Repo",
    "RepoBuilder",
    "RequestRecord",
    "Signer",
    "SshKey",
    "SshSigner",
    "Symlink",
    "Tag",
    "TlsMaterial",
    "config_args",
    "generate_ca",
    "generate_ssh_key",
    "generate_tls",
]


class GitServers:
    """A RepoBuilder plus an HTTP and an SSH server both serving its root."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        auth: HttpAuth | None = None,
        tls: bool = False,
        client_cert_required: bool = False,
    ) -> None:
        self.repos = RepoBuilder(root)
        self.http = GitHttpServer(self.repos.root, auth=auth, tls=tls, client_cert_required=client_cert_required)
        self.ssh = GitSshServer(self.repos.root)

    def start(self) -> Self:
        try:
            self.http.start()
            self.ssh.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.ssh.stop()
        self.http.stop()
        self.repos.close()

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
