"""The test Git servers and repository builder, exercised with the real `git` CLI as the client.

Other tests trust these servers to behave like real hosting (auth, TLS, host keys, counters), so this
checks each promise the fixtures make, through the same client people use.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import ssl
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from headwater.devcluster.gitrepos import (
    AUTHOR_EMAIL,
    Executable,
    FileContent,
    GitCli,
    GitError,
    RepoBuilder,
    Symlink,
    config_args,
)
from headwater.devcluster.gitserver import GitServers
from headwater.devcluster.gitserver_http import GitHttpServer, HttpAuth
from headwater.devcluster.gitserver_keys import generate_ssh_key
from headwater.devcluster.gitserver_ssh import GitSshServer
from headwater.devcluster.gitserver_wire import PktScanner

from .conftest import HttpFactory

pytestmark = pytest.mark.integration

FILES: dict[str, FileContent] = {
    "deploy/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n",
    "scripts/run.sh": Executable("#!/bin/sh\necho hello\n"),
    "current": Symlink("deploy"),
    "data.bin": bytes(range(256)),
}


def _http_get(url: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None
              ) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def _ls_remote(client: GitCli, url: str, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    out = client.out(*args, "ls-remote", url, env=env)
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


# --- HTTP ------------------------------------------------------------------------------------------


def test_clone_over_http_anonymous_keeps_modes_and_symlinks(
    repo_builder: RepoBuilder, git_http: GitHttpServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo = repo_builder.create(repo_name, FILES)
    git_client.run("clone", "-q", git_http.url(repo_name), str(tmp_path / "c"))
    clone = tmp_path / "c"
    assert git_client.out("rev-parse", "HEAD", cwd=clone) == repo.head()
    assert (clone / "deploy/configmap.yaml").read_text() == FILES["deploy/configmap.yaml"]
    assert (clone / "scripts/run.sh").stat().st_mode & stat.S_IXUSR
    assert (clone / "current").is_symlink()
    assert os.readlink(clone / "current") == "deploy"
    assert (clone / "data.bin").read_bytes() == bytes(range(256))
    stats = git_http.stats[repo_name]
    assert stats["upload-pack"] == 1
    assert stats["info/refs"] == 1


@pytest.mark.parametrize("protocol", ["2", "0"])
def test_http_ls_remote_and_up_to_date_fetch_do_not_count_as_fetches(
    repo_builder: RepoBuilder, git_http: GitHttpServer, git_client: GitCli, repo_name: str, tmp_path: Path,
    protocol: str,
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    v = ["-c", f"protocol.version={protocol}"]
    assert _ls_remote(git_client, git_http.url(repo_name), *v)["refs/heads/main"] == repo.head()
    stats = git_http.stats[repo_name]
    assert (stats["info/refs"], stats["upload-pack"]) == (1, 0)
    assert stats["ls-refs"] == (1 if protocol == "2" else 0)

    git_client.run(*v, "clone", "-q", git_http.url(repo_name), str(tmp_path / "c"))
    assert git_http.stats[repo_name]["upload-pack"] == 1
    git_client.run(*v, "fetch", "-q", "origin", cwd=tmp_path / "c")  # nothing new: refs only
    assert git_http.stats[repo_name]["upload-pack"] == 1
    assert git_http.stats[repo_name]["info/refs"] == 3
    repo.commit({"a": "2"})
    git_client.run(*v, "fetch", "-q", "origin", cwd=tmp_path / "c")
    assert git_http.stats[repo_name]["upload-pack"] == 2


def test_gzip_request_bodies_pass_through_and_are_counted(
    repo_builder: RepoBuilder, git_http: GitHttpServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    for index in range(40):  # 40 wants (one per tag object) make a v0 request > 1 KiB, which git gzips
        repo.tag(f"t{index:02d}", message=f"tag {index}")
    git_client.run("-c", "protocol.version=0", "clone", "-q", "--mirror", git_http.url(repo_name),
                   str(tmp_path / "m"))
    posts = [r for r in git_http.requests if r.path == f"/{repo_name}/git-upload-pack"]
    assert posts
    assert any(r.content_encoding == "gzip" for r in posts)
    assert all(r.status == 200 for r in posts)
    assert git_http.stats[repo_name]["upload-pack"] >= 1
    assert git_client.out("--git-dir", str(tmp_path / "m"), "rev-parse", "t39") == repo.refs()["refs/tags/t39"]


def test_anonymous_push_of_a_large_pack_streams_both_ways(
    repo_builder: RepoBuilder, git_http: GitHttpServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    clone = tmp_path / "c"
    git_client.run("clone", "-q", git_http.url(repo_name), str(clone))
    big = os.urandom(3 << 20)  # incompressible and above http.postBuffer (1 MiB): a chunked request body
    (clone / "big.bin").write_bytes(big)
    git_client.run("add", "big.bin", cwd=clone)
    git_client.run("commit", "-q", "-m", "big", cwd=clone)
    git_client.run("push", "-q", "origin", "main", cwd=clone)
    assert repo.head() == git_client.out("rev-parse", "HEAD", cwd=clone)
    assert git_http.stats[repo_name]["receive-pack"] == 1
    git_client.run("clone", "-q", git_http.url(repo_name), str(tmp_path / "again"))
    assert (tmp_path / "again/big.bin").read_bytes() == big


def test_basic_auth(
    repo_builder: RepoBuilder, git_http_factory: HttpFactory, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    server = git_http_factory(auth=HttpAuth.basic("alice", "s3cret/:@"))
    git_client.run("clone", "-q", server.url(repo_name, credentials=True), str(tmp_path / "c"))
    assert git_client.out("rev-parse", "HEAD", cwd=tmp_path / "c") == repo.head()
    assert server.requests[-1].remote_user == "alice"

    wrong = server.url(repo_name).replace("://", "://alice:wrong@")
    failed = git_client.run("ls-remote", wrong, check=False)
    assert failed.returncode != 0
    assert "Authentication failed" in failed.stderr
    assert server.requests[-1].status == 401
    assert server.stats[repo_name]["unauthorized"] >= 2  # the challenge of each client, then the failure

    status, headers = _http_get(server.url(repo_name) + "/info/refs?service=git-upload-pack")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic realm=")
    token = base64.b64encode(b"alice:s3cret/:@").decode()
    status, _ = _http_get(server.url(repo_name) + "/info/refs?service=git-upload-pack",
                          {"Authorization": f"Basic {token}"})
    assert status == 200


def test_bearer_auth(
    repo_builder: RepoBuilder, git_http_factory: HttpFactory, git_client: GitCli, repo_name: str
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    server = git_http_factory(auth=HttpAuth.bearer("tok-123"))
    assert server.git_args() == ["-c", "http.extraHeader=Authorization: Bearer tok-123"]
    refs = _ls_remote(git_client, server.url(repo_name), *server.git_args())
    assert refs["HEAD"] == repo.head()
    wrong = git_client.run("-c", "http.extraHeader=Authorization: Bearer nope", "ls-remote", server.url(repo_name),
                           check=False)
    assert wrong.returncode != 0
    assert server.requests[-1].status == 401
    status, headers = _http_get(server.url(repo_name) + "/info/refs?service=git-upload-pack")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_push_over_http_with_auth(
    repo_builder: RepoBuilder, git_http_factory: HttpFactory, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    server = git_http_factory(auth=HttpAuth(username="bob", password="pw", anonymous_read=True))
    clone = tmp_path / "c"
    git_client.run("clone", "-q", server.url(repo_name), str(clone))  # anonymous read is allowed
    (clone / "b").write_text("2")
    git_client.run("add", "b", cwd=clone)
    git_client.run("commit", "-q", "-m", "b", cwd=clone)
    anonymous = git_client.run("push", "-q", "origin", "main", cwd=clone, check=False)
    assert anonymous.returncode != 0
    assert server.stats[repo_name]["receive-pack"] == 0

    git_client.run("push", "-q", server.url(repo_name, credentials=True), "main", cwd=clone)
    assert repo.head() == git_client.out("rev-parse", "HEAD", cwd=clone)
    assert server.stats[repo_name]["receive-pack"] == 1
    assert any(r.remote_user == "bob" and r.path.endswith("/git-receive-pack") for r in server.requests)
    pushed = git_client.out("rev-parse", "HEAD", cwd=clone)
    repo.commit({"c": "3"})
    assert repo.head("HEAD~1") == pushed  # the builder's next commit builds on what was pushed


def test_tls_with_custom_ca_and_client_certificates(
    repo_builder: RepoBuilder, git_http_factory: HttpFactory, git_client: GitCli, repo_name: str
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    server = git_http_factory(tls=True)
    assert server.url(repo_name).startswith("https://127.0.0.1:")
    assert server.tls is not None
    untrusted = git_client.run("ls-remote", server.url(repo_name), check=False)
    assert untrusted.returncode != 0
    assert "certificate" in untrusted.stderr.lower()
    assert _ls_remote(git_client, server.url(repo_name), *server.git_args())["HEAD"] == repo.head()

    mtls = git_http_factory(client_cert_required=True)
    assert mtls.tls is not None
    no_cert = git_client.run("-c", f"http.sslCAInfo={mtls.tls.ca.cert}", "ls-remote", mtls.url(repo_name), check=False)
    assert no_cert.returncode != 0
    assert _ls_remote(git_client, mtls.url(repo_name), *mtls.git_args())["HEAD"] == repo.head()
    context = ssl.create_default_context(cafile=str(mtls.tls.ca.cert))
    context.load_cert_chain(mtls.tls.client.cert, mtls.tls.client.key)
    assert _http_get(mtls.url(repo_name) + "/info/refs?service=git-upload-pack", context=context)[0] == 200


def test_refs_tags_and_pull_requests_are_advertised(
    repo_builder: RepoBuilder, git_http: GitHttpServer, git_client: GitCli, repo_name: str
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    light = repo.tag("v1.0.0")
    second = repo.commit({"a": "2"})
    annotated = repo.tag("v1.1.0", message="release 1.1.0")
    pull = repo.pull_request(1, {"feature": "x"})
    refs = _ls_remote(git_client, git_http.url(repo_name))
    assert refs["refs/tags/v1.0.0"] == light.commit == light.sha
    assert not light.annotated
    assert annotated.annotated
    assert annotated.commit == second
    assert refs["refs/tags/v1.1.0"] == annotated.sha != second
    assert refs["refs/tags/v1.1.0^{}"] == second
    assert refs["refs/pull/1/head"] == pull
    assert refs["refs/heads/main"] == second
    assert repo.head(f"{pull}~1") == second
    assert "refs/heads/headwater-orphan" not in refs
    assert len(refs) == 6


def test_default_branch_master_and_switching_it(
    repo_builder: RepoBuilder, git_http: GitHttpServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"}, branch="master")
    assert repo.default_branch == "master"
    git_client.run("clone", "-q", git_http.url(repo_name), str(tmp_path / "c"))
    assert git_client.out("symbolic-ref", "--short", "HEAD", cwd=tmp_path / "c") == "master"
    main = repo.commit({"b": "1"}, branch="main")
    repo.set_default_branch("main")
    out = git_client.out("ls-remote", "--symref", git_http.url(repo_name), "HEAD")
    assert out.splitlines()[0] == "ref: refs/heads/main\tHEAD"
    assert main in out


def test_submodule_clones_recursively_over_http(
    repo_builder: RepoBuilder, git_http: GitHttpServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    lib = repo_builder.create("lib-" + repo_name, {"lib.txt": "library\n"})
    app = repo_builder.create(repo_name, {"app.txt": "app\n"})
    sha = app.add_submodule("vendor/lib", lib, url=git_http.url(lib.name))
    assert app.head() == sha
    git_client.run("clone", "-q", "--recurse-submodules", git_http.url(repo_name), str(tmp_path / "c"))
    assert (tmp_path / "c/vendor/lib/lib.txt").read_text() == "library\n"
    assert git_http.stats[lib.name]["upload-pack"] == 1


def test_commit_edits_deletes_replaces_and_orphans(repo_builder: RepoBuilder, repo_name: str) -> None:
    repo = repo_builder.create(repo_name, FILES)
    git = repo_builder.git

    def tree(ref: str) -> list[str]:
        return git.out("--git-dir", str(repo.path), "ls-tree", "-r", "--name-only", ref).splitlines()

    repo.commit({"current": None, "scripts/run.sh": "now plain\n"})
    assert tree("main") == ["data.bin", "deploy/configmap.yaml", "scripts/run.sh"]
    assert git.out("--git-dir", str(repo.path), "ls-tree", "main", "scripts/run.sh").startswith("100644")
    repo.commit({"only": "1"}, branch="replaced", replace=True)
    assert tree("replaced") == ["only"]
    assert repo.head("replaced~1") == repo.head("main")
    repo.commit({"page": "1"}, branch="gh-pages", orphan=True)
    assert tree("gh-pages") == ["page"]
    assert repo.resolve("gh-pages~1") is None
    fixed = repo.commit({"x": "1"}, branch="fixed", base="main", date="2024-01-01T00:00:00Z")
    again = repo.commit({"x": "1"}, branch="fixed2", base="main", date="2024-01-01T00:00:00Z")
    assert fixed == again  # a fixed identity and date make commits reproducible
    with pytest.raises(GitError):
        repo.head("does-not-exist")


# --- signatures ------------------------------------------------------------------------------------


def test_ssh_signed_commit_and_tag_verify(repo_builder: RepoBuilder, git_client: GitCli, repo_name: str) -> None:
    signer = repo_builder.ssh_signer()
    repo = repo_builder.create(repo_name, {"a": "1"}, signer=signer)
    tag = repo.tag("v1", signer=signer)
    verify = [*config_args(signer.verify_config()), "--git-dir", str(repo.path)]
    commit = git_client.run(*verify, "verify-commit", repo.head())
    assert f'Good "git" signature for {AUTHOR_EMAIL}' in commit.stderr
    assert signer.key.fingerprint in commit.stderr
    assert tag.annotated
    assert "Good" in git_client.run(*verify, "verify-tag", "v1").stderr
    unsigned = repo.commit({"a": "2"})
    assert git_client.run(*verify, "verify-commit", unsigned, check=False).returncode != 0
    other = repo_builder.ssh_signer("other")
    assert git_client.run(*config_args(other.verify_config()), "--git-dir", str(repo.path), "verify-commit",
                          repo.head("HEAD~1"), check=False).returncode != 0


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed (Debian package gnupg)")
def test_openpgp_signed_commit_and_tag_verify(repo_builder: RepoBuilder, git_client: GitCli, repo_name: str) -> None:
    signer = repo_builder.gpg_signer()
    assert signer.public_key.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    repo = repo_builder.create(repo_name, {"a": "1"})
    sha = repo.commit({"a": "2"}, signer=signer)
    repo.tag("v1", signer=signer)
    bare = ["--git-dir", str(repo.path)]
    result = git_client.run(*bare, "verify-commit", "--raw", sha, env=signer.env())
    assert f"VALIDSIG {signer.fingerprint}" in result.stderr
    assert "GOODSIG" in git_client.run(*bare, "verify-tag", "--raw", "v1", env=signer.env()).stderr
    assert git_client.run(*bare, "verify-commit", repo.head("HEAD~1"), env=signer.env(), check=False).returncode


# --- SSH -------------------------------------------------------------------------------------------


def test_clone_over_ssh_with_strict_known_hosts(
    repo_builder: RepoBuilder, git_ssh: GitSshServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo = repo_builder.create(repo_name, FILES)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(git_ssh.known_hosts_line("ed25519") + "\n")
    assert git_ssh.known_hosts_line().startswith(f"[127.0.0.1]:{git_ssh.port} ssh-ed25519 ")
    env = git_ssh.git_env(known_hosts=known_hosts)
    assert "StrictHostKeyChecking=yes" in env["GIT_SSH_COMMAND"]

    assert _ls_remote(git_client, git_ssh.url(repo_name), env=env)["HEAD"] == repo.head()
    stats = git_ssh.stats[repo_name]
    assert (stats["info/refs"], stats["ls-refs"], stats["upload-pack"]) == (1, 1, 0)

    git_client.run("clone", "-q", git_ssh.url(repo_name), str(tmp_path / "c"), env=env)
    assert (tmp_path / "c/current").is_symlink()
    assert git_ssh.stats[repo_name]["upload-pack"] == 1
    git_client.run("fetch", "-q", "origin", cwd=tmp_path / "c", env=env)  # up to date: no fetch
    assert git_ssh.stats[repo_name]["upload-pack"] == 1
    # The absolute path of the repository inside the served root names the same repository.
    absolute = f"ssh://{git_ssh.user}@127.0.0.1:{git_ssh.port}{repo.path}"
    assert _ls_remote(git_client, absolute, env=env)["HEAD"] == repo.head()


def test_ssh_rejects_unknown_host_key(
    repo_builder: RepoBuilder, git_ssh: GitSshServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo_builder.create(repo_name, {"a": "1"})
    with GitSshServer(repo_builder.root) as impostor:  # other host keys
        wrong = tmp_path / "known_hosts"
        wrong.write_text(impostor.known_hosts.replace(f"]:{impostor.port}", f"]:{git_ssh.port}"))
        result = git_client.run("ls-remote", git_ssh.url(repo_name), env=git_ssh.git_env(known_hosts=wrong),
                                check=False)
        assert result.returncode != 0
        assert "Host key verification failed" in result.stderr
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    result = git_client.run("ls-remote", git_ssh.url(repo_name), env=git_ssh.git_env(known_hosts=empty),
                            check=False)
    assert "Host key verification failed" in result.stderr
    assert git_ssh.stats[repo_name]["sessions"] == 0


def test_ssh_rsa_key_with_passphrase_and_push(
    repo_builder: RepoBuilder, git_ssh: GitSshServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo = repo_builder.create(repo_name, {"a": "1"})
    key = git_ssh.client_keys["rsa"]
    assert key.passphrase
    assert b"ENCRYPTED" in key.private_key_pem
    env = git_ssh.git_env(key)
    git_client.run("clone", "-q", git_ssh.url(repo_name), str(tmp_path / "c"), env=env)
    (tmp_path / "c/b").write_text("2")
    git_client.run("add", "b", cwd=tmp_path / "c")
    git_client.run("commit", "-q", "-m", "b", cwd=tmp_path / "c")
    git_client.run("push", "-q", "origin", "main", cwd=tmp_path / "c", env=env)
    assert repo.head() == git_client.out("rev-parse", "HEAD", cwd=tmp_path / "c")
    assert git_ssh.stats[repo_name]["receive-pack"] == 1
    git_client.run("push", "-q", "origin", "main", cwd=tmp_path / "c", env=env)  # up to date
    assert git_ssh.stats[repo_name]["receive-pack"] == 1
    assert git_ssh.stats[repo_name]["sessions"] == 3


def test_ssh_serves_only_git_inside_the_root(
    repo_builder: RepoBuilder, git_ssh: GitSshServer, git_client: GitCli, repo_name: str, tmp_path: Path
) -> None:
    repo_builder.create(repo_name, {"a": "1"})
    ssh = [*git_ssh.ssh_command().split(), "-p", str(git_ssh.port), f"{git_ssh.user}@127.0.0.1"]
    shell = subprocess.run([*ssh, "id"], capture_output=True, text=True, timeout=30, check=False)
    assert shell.returncode != 0
    assert "only Git transport commands" in shell.stderr
    escape = git_client.run("ls-remote", git_ssh.url("../../etc"), env=git_ssh.git_env(), check=False)
    assert escape.returncode != 0
    assert "outside" in escape.stderr
    unknown = git_client.run("ls-remote", git_ssh.url("missing.git"), env=git_ssh.git_env(), check=False)
    assert unknown.returncode != 0
    stranger = generate_ssh_key(tmp_path, "stranger")  # not in authorized_keys
    denied = git_client.run("ls-remote", git_ssh.url(repo_name), env=git_ssh.git_env(stranger), check=False)
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr
    assert git_ssh.stats[repo_name]["sessions"] == 0


# --- lifecycle and the wire scanner ----------------------------------------------------------------


async def test_servers_in_async_code_and_clean_stop(tmp_path: Path) -> None:
    async with GitServers(auth=HttpAuth.bearer("t")) as servers:
        repo = servers.repos.create("app.git", {"a": "1"})
        repo.tag("v1", message="one")
        proc = await asyncio.create_subprocess_exec(
            "git", *servers.http.git_args(), "ls-remote", servers.http.url("app.git"), stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)},
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        assert b"refs/tags/v1^{}" in out
        assert servers.http.stats["app.git"]["ls-refs"] == 1
        ssh_pid, ssh_dir, root = servers.ssh.pid, servers.ssh.workdir, servers.repos.root
        assert ssh_pid is not None
        assert psutil.pid_exists(ssh_pid)
    assert not psutil.pid_exists(ssh_pid)  # stopped and reaped
    assert not ssh_dir.exists()
    assert not root.exists()
    for port in (servers.ssh.port, servers.http.port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0
    assert not [cmd for cmd in _child_commands() if "http-backend" in cmd]


def test_pkt_scanner_classifies_requests_fed_byte_by_byte() -> None:
    def pkt(text: str) -> bytes:
        return f"{len(text) + 4:04x}{text}".encode()

    oid = "a" * 40
    stream = (pkt("command=ls-refs\n") + b"0001" + pkt("peel\n") + b"0000"
              + pkt("command=fetch\n") + b"0001" + pkt(f"want {oid}\n") + pkt("done\n") + b"0000"
              + pkt(f"want {oid} multi_ack\n") + b"0000" + pkt(f"have {oid}\n") + pkt("done\n"))
    scanner = PktScanner()
    events = [event for byte in stream for event in scanner.feed(bytes([byte]))] + scanner.close()
    assert events == ["ls-refs", "upload-pack", "upload-pack"]
    broken = PktScanner()
    assert broken.feed(b"zzzz" + pkt("command=fetch\n") + b"0000") == []
    assert broken.close() == []


def _child_commands() -> list[str]:
    """Command lines of this process's live children (zombies of other tests' tools are skipped)."""
    commands = []
    for child in psutil.Process().children(recursive=True):
        try:
            commands.append(" ".join(child.cmdline()))
        except (psutil.ZombieProcess, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return commands
