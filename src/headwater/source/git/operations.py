"""The two Git operations the source controller needs: list the remote's refs, and fetch + check out.

`ls_remote` is the cheap "did anything change?" question asked on every reconcile: one ref advertisement,
no objects. Only when the resolved commit differs from the stored artifact's does `fetch_checkout` run:
a shallow fetch of exactly that ref into a throw-away bare repository, then the commit's tree written to
a directory by us (not by a Git checkout), so that nothing from the repository can point outside it:
symlinks whose target leaves the checkout are skipped, submodules are only followed when asked.

Every failure is mapped to a `GitError` subclass whose message names the URL (without credentials) and
says what to check, never a secret.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import urllib3.exceptions
from dulwich.client import HTTPProxyUnauthorized, HTTPUnauthorized
from dulwich.config import ConfigFile, parse_submodules
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import Commit, ObjectID, Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

from headwater.source.git.transport import AuthenticationFailed, GitError, HostKeyMismatch, Remote

SUBMODULE_MODE = 0o160000


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    message: str
    author: str
    signature: bytes | None  # the commit's gpgsig header (OpenPGP or SSH), if signed
    signed_payload: bytes  # the commit object without its signature, as signers signed it
    tag: TagInfo | None = None
    skipped_links: tuple[str, ...] = field(default=())
    submodules: tuple[tuple[str, str], ...] = field(default=())  # (path, pinned commit) of each gitlink

    @property
    def subject(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


@dataclass(frozen=True)
class TagInfo:
    name: str
    sha: str
    message: str
    signature: bytes | None
    signed_payload: bytes


def ls_remote(remote: Remote) -> dict[str, str]:
    """`{refname: sha}` as `git ls-remote` shows it, peeled tags as `refs/tags/x^{}`."""
    with classified(remote):
        result = remote.client.get_refs(remote.path.encode())
    return {name.decode(): sha.decode() for name, sha in result.refs.items() if sha is not None}


def fetch_checkout(
    remote: Remote,
    want: str,
    commit: str | None,
    dest: Path,
    workdir: Path,
    *,
    shallow: bool = True,
    sparse: list[str] | None = None,
) -> CommitInfo:
    """Fetch object `want` (a ref tip: commit or annotated tag), check out `commit` (default: the
    commit `want` points to) into `dest`. `workdir` holds the temporary bare repository."""
    repo = Repo.init_bare(str(workdir), mkdir=True)
    try:
        def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
            return [ObjectID(want.encode())]

        with classified(remote):
            remote.client.fetch(remote.path.encode(), repo, determine_wants=wants, depth=1 if shallow else None)
        tag: TagInfo | None = None
        obj = repo[want.encode()]
        if isinstance(obj, Tag):
            tag = TagInfo(obj.name.decode(), want, obj.message.decode(errors="replace"), _tag_signature(obj),
                          _tag_payload(obj))
            while isinstance(obj, Tag):
                obj = repo[obj.object[1]]
        target = repo[commit.encode()] if commit else obj
        if not isinstance(target, Commit):
            raise GitError(f"{commit or want} is not a commit")
        skipped, submodules = write_tree(repo, target.tree, dest, sparse)
        return CommitInfo(
            sha=target.id.decode(),
            message=target.message.decode(errors="replace"),
            author=target.author.decode(errors="replace"),
            signature=target.gpgsig,
            signed_payload=_commit_payload(target),
            tag=tag,
            skipped_links=tuple(skipped),
            submodules=tuple(submodules),
        )
    except KeyError as err:
        raise GitError(f"commit {commit} not found in {remote.display} (not reachable from the fetched ref)") from err
    finally:
        repo.close()


def write_tree(
    repo: Repo, tree_id: bytes, dest: Path, sparse: list[str] | None = None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Write a tree's files under `dest`; return the symlinks skipped because they escape it, and the
    submodules (path, pinned commit), whose directories are left empty."""
    dest.mkdir(parents=True, exist_ok=True)
    prefixes = [p.strip("/") + "/" for p in sparse or [] if p.strip("/")]
    skipped: list[str] = []
    submodules: list[tuple[str, str]] = []
    for entry in repo.object_store.iter_tree_contents(ObjectID(tree_id)):
        path = entry.path.decode()
        if prefixes and not any(path.startswith(prefix) for prefix in prefixes):
            continue
        target = dest / path
        mode = entry.mode
        if mode == SUBMODULE_MODE:
            target.mkdir(parents=True, exist_ok=True)
            submodules.append((path, entry.sha.decode()))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = repo[entry.sha]
        if stat.S_ISLNK(mode):
            link = blob.as_raw_string().decode()
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), link))
            if posixpath.isabs(link) or resolved == ".." or resolved.startswith("../"):
                skipped.append(path)
                continue
            os.symlink(link, target)
            continue
        target.write_bytes(blob.as_raw_string())
        target.chmod(0o755 if mode & 0o111 else 0o644)
    return skipped, submodules


def submodule_urls(gitmodules: Path, parent_url: str) -> dict[str, str]:
    """`{path: URL}` from a checked-out `.gitmodules`; relative URLs resolve against the parent's URL."""
    if not gitmodules.is_file():
        return {}
    config = ConfigFile.from_path(str(gitmodules))
    return {path.decode(): resolve_submodule_url(parent_url, url.decode())
            for path, url, _name in parse_submodules(config)}


def resolve_submodule_url(parent_url: str, url: str) -> str:
    """`../lib.git` next to `http://host/org/app.git` is `http://host/org/lib.git`, as Git resolves it."""
    if not url.startswith(("./", "../")):
        return url
    parts = urlsplit(parent_url)
    return parts._replace(path=posixpath.normpath(posixpath.join(parts.path, url))).geturl()


def _commit_payload(commit: Commit) -> bytes:
    signature = commit.gpgsig
    if signature is None:
        return commit.as_raw_string()
    commit.gpgsig = None
    try:
        return commit.as_raw_string()
    finally:
        commit.gpgsig = signature


def _tag_signature(tag: Tag) -> bytes | None:
    signature: bytes | None = tag.signature
    return signature


def _tag_payload(tag: Tag) -> bytes:
    signature = tag.signature
    if signature is None:
        return tag.as_raw_string()
    tag.signature = None
    try:
        return tag.as_raw_string()
    finally:
        tag.signature = signature


class classified:
    """Context manager turning dulwich/urllib3/ssh failures into `GitError`s with clear messages."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: object) -> None:
        if err is None or isinstance(err, GitError) or not isinstance(err, Exception):
            return
        raise classify(err, self.remote.display) from err


def classify(err: Exception, url: str) -> GitError:
    text = str(err)
    lowered = text.lower()
    if isinstance(err, HTTPUnauthorized):
        return AuthenticationFailed(f"authentication to {url} failed: check the credentials in secretRef")
    if isinstance(err, HTTPProxyUnauthorized):
        return AuthenticationFailed(f"the proxy refused the credentials for {url}: check proxySecretRef")
    if isinstance(err, NotGitRepository):
        return GitError(f"repository {url} not found")
    if "host key verification failed" in lowered or "remote host identification has changed" in lowered:
        return HostKeyMismatch(
            f"SSH host key verification failed for {url}: the server's key is unknown or changed; "
            "check known_hosts in secretRef"
        )
    if "permission denied" in lowered:
        return AuthenticationFailed(f"SSH authentication to {url} failed: the identity in secretRef was refused")
    if "certificate verify failed" in lowered or isinstance(err, urllib3.exceptions.SSLError):
        return GitError(f"TLS verification of {url} failed: {_summary(text)}")
    broken = err if isinstance(err, urllib3.exceptions.ProtocolError) else err.__cause__  # dulwich wraps it
    if isinstance(broken, urllib3.exceptions.ProtocolError) and "connection broken" in str(broken).lower():
        detail = broken.args[0] if broken.args and isinstance(broken.args[0], str) else str(broken)
        return GitError(f"the connection to {url} broke in the middle of the response: {_summary(detail)}")
    if "does not match length prefix" in lowered or (isinstance(err, HangupException) and not err.stderr_lines):
        return GitError(f"the response of {url} ended early: the Git data is incomplete ({_summary(text)})")
    unreachable = ("connection refused", "timed out", "could not resolve", "name or service not known",
                   "no route to host", "max retries exceeded", "network is unreachable", "connection closed")
    if any(marker in lowered for marker in unreachable):
        return GitError(f"unable to reach {url}: {_without_pool(_summary(text))}")
    if isinstance(err, HangupException | GitProtocolError | OSError):
        return GitError(f"Git operation on {url} failed: {_summary(text) or type(err).__name__}")
    return GitError(f"Git operation on {url} failed: {type(err).__name__}: {_summary(text)}")


def _without_pool(text: str) -> str:
    """urllib3's message minus the connection object it names (`HTTPConnection(host='…', port=…): `)."""
    return re.sub(r"^\(?(?:[A-Za-z]+\.)*HTTPS?Connection(?:Pool)?\([^)]*\):\s*", "", text)


def _summary(text: str) -> str:
    """The last non-empty line: for ssh and git errors, the one that says what went wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""

