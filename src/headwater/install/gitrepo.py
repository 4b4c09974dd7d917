"""The bootstrap repository: clone one branch, change files in it, commit, push (dulwich, synchronous).

Uses the source controller's transports (`headwater.source.git.transport.open_remote`): HTTP(S) with
basic auth or a bearer token and SSH through OpenSSH with strict known_hosts, so bootstrap talks to the
server exactly as the controller will afterwards. The clone is a bare repository in a temporary
directory; files are read from and written into the branch's tree object directly, and a commit is
made only when some file's content actually changes (that is what makes a re-run idempotent). Callers
run these functions in a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dulwich.object_store import commit_tree_changes, tree_lookup_path
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from headwater.source.git.operations import classified
from headwater.source.git.transport import GitError, Remote

FILE_MODE = 0o100644


@dataclass
class Workspace:
    """A branch of the remote, fetched into a bare repository; `head` is None for a new branch."""

    repo: Repo
    branch: str
    head: str | None
    pending: dict[str, bytes] = field(default_factory=dict)

    @property
    def ref(self) -> bytes:
        return f"refs/heads/{self.branch}".encode()

    def read(self, path: str) -> bytes | None:
        """A file's content at the branch head (with pending changes), None when absent."""
        if path in self.pending:
            return self.pending[path]
        if self.head is None:
            return None
        tree = self.repo[self.head.encode()].tree  # type: ignore[attr-defined]
        try:
            _mode, sha = tree_lookup_path(self.repo.__getitem__, tree, path.encode())
        except KeyError:
            return None
        return self.repo[sha].as_raw_string()

    def write(self, path: str, content: bytes) -> None:
        self.pending[path] = content

    def commit(self, message: str, author: str) -> str | None:
        """Commit the pending files that differ from the head; the new sha, or None when none differ."""
        changed = {path: data for path, data in self.pending.items() if self._at_head(path) != data}
        self.pending.clear()
        if not changed:
            return None
        store = self.repo.object_store
        if self.head is None:
            base = Tree()
            store.add_object(base)
            base_id = base.id
        else:
            base_id = self.repo[self.head.encode()].tree  # type: ignore[attr-defined]
        changes: list[tuple[bytes, int | None, ObjectID | None]] = []
        for path, data in sorted(changed.items()):
            blob = Blob.from_string(data)
            store.add_object(blob)
            changes.append((path.encode(), FILE_MODE, blob.id))
        commit = Commit()
        commit.tree = commit_tree_changes(store, base_id, changes)
        commit.parents = [ObjectID(self.head.encode())] if self.head else []
        commit.author = commit.committer = author.encode()
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode() + (b"" if message.endswith("\n") else b"\n")
        store.add_object(commit)
        self.head = commit.id.decode()
        return self.head

    def _at_head(self, path: str) -> bytes | None:
        pending = self.pending
        self.pending = {}
        try:
            return self.read(path)
        finally:
            self.pending = pending


def clone(remote: Remote, branch: str, workdir: Path) -> Workspace:
    """Fetch `branch` (all of its history, so that a push is a fast-forward) into `workdir`."""
    repo = Repo.init_bare(str(workdir), mkdir=True)
    ref = f"refs/heads/{branch}".encode()

    def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        sha = refs.get(Ref(ref))
        return [sha] if sha is not None else []

    with classified(remote):
        result = remote.client.fetch(remote.path.encode(), repo, determine_wants=wants)
    head = result.refs.get(Ref(ref))
    return Workspace(repo, branch, head.decode() if head is not None else None)


def push(remote: Remote, workspace: Workspace) -> None:
    """Push the workspace's head to its branch; GitError naming the branch when the server refuses."""
    if workspace.head is None:
        return
    new = ObjectID(workspace.head.encode())

    def update_refs(refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
        return {**refs, Ref(workspace.ref): new}

    with classified(remote):
        result = remote.client.send_pack(remote.path.encode(), update_refs,
                                         generate_pack_data=workspace.repo.generate_pack_data)  # type: ignore[arg-type]
    status = (result.ref_status or {}).get(Ref(workspace.ref))
    if status is not None:
        raise GitError(f"pushing to branch {workspace.branch!r} of {remote.display} was refused: {status}")
