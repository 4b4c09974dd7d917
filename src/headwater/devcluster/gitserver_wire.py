"""What a Git client asked a server for, read off the wire: ref listing, or a fetch of objects.

Tests of the source controller must tell "the controller only listed refs" from "it cloned": a
counter of requests is not enough, because with protocol v2 even `git ls-remote` POSTs to
`git-upload-pack` (HTTP) or starts a `git-upload-pack` session (SSH). So both test servers scan the
pkt-lines the client sends to upload-pack and classify each request:

* `ls-refs` - a protocol-v2 `command=ls-refs`;
* `upload-pack` - a fetch: a protocol-v2 `command=fetch`, or a protocol-v0/v1 request with `want` lines.

(The names are the counter keys of `gitserver_stats`.)

This module is also the SSH server's forced command (`python -I -S gitserver_wire.py BASE LOG`), run
by sshd for every session: so it imports nothing but the standard library, and starts in milliseconds.
As a command it resolves the repository path against BASE (refusing paths outside it), appends one
JSON line per event to LOG, and runs the request through `git-shell` - as a child for upload-pack,
whose standard input it forwards while scanning it (receive-pack too); by `exec` for upload-archive.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

SERVICES = ("git-upload-pack", "git-receive-pack", "git-upload-archive")
_MAX_PKT = 65520


class PktScanner:
    """Incremental classifier of the requests in a client→upload-pack pkt-line stream.

    Feed it bytes as they arrive (any chunking); it yields "upload-pack" (a fetch) or "ls-refs" once per request
    (a request ends at a flush-pkt, or at the end of the stream). A malformed stream stops the
    scanning quietly: the scanner observes, it never rejects anything.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._command: str | None = None
        self._wants = False
        self._broken = False

    def feed(self, data: bytes) -> list[str]:
        if self._broken:
            return []
        self._buffer += data
        return list(self._drain())

    def close(self) -> list[str]:
        """The classification of a request the stream ended in without a flush (v0 `done`)."""
        events = [] if self._broken else self._end_request()
        self._buffer.clear()
        return events

    def _drain(self) -> Iterator[str]:
        while len(self._buffer) >= 4:
            try:
                length = int(self._buffer[:4], 16)
            except ValueError:
                self._broken = True
                return
            if length == 0:  # flush-pkt: end of a request
                del self._buffer[:4]
                yield from self._end_request()
                continue
            if length < 4:  # delim-pkt (1) or response-end (2): inside a request
                del self._buffer[:4]
                continue
            if length > _MAX_PKT:
                self._broken = True
                return
            if len(self._buffer) < length:
                return
            self._line(bytes(self._buffer[4:length]))
            del self._buffer[:length]

    def _line(self, payload: bytes) -> None:
        if payload.startswith(b"command="):
            self._command = payload[len(b"command="):].strip().decode("ascii", "replace")
        elif payload.startswith(b"want "):
            self._wants = True

    def _end_request(self) -> list[str]:
        command, wants = self._command, self._wants
        self._command, self._wants = None, False
        if command == "fetch" or (command is None and wants):
            return ["upload-pack"]
        if command == "ls-refs":
            return ["ls-refs"]
        return []


class ReceivePackScanner:
    """Yields "receive-pack" once if the client's first request carries ref updates.

    A body that starts with a flush-pkt is no push: git's auth probe before a large HTTP request
    (`0000`), or an up-to-date push over SSH. The pack that follows the commands is not parsed.
    """

    def __init__(self) -> None:
        self._head = b""
        self._done = False

    def feed(self, data: bytes) -> list[str]:
        if self._done:
            return []
        self._head += data[: 4 - len(self._head)]
        if len(self._head) < 4:
            return []
        self._done = True
        return [] if self._head == b"0000" else ["receive-pack"]

    def close(self) -> list[str]:
        return []


Scanner = PktScanner | ReceivePackScanner


def scanner_for(service: str) -> Scanner | None:
    """The scanner of a client→server stream for `git-upload-pack` / `git-receive-pack` (else None)."""
    if service.endswith("upload-pack"):
        return PktScanner()
    if service.endswith("receive-pack"):
        return ReceivePackScanner()
    return None


class GzipTap:
    """Decompresses a copy of a gzip-encoded body for scanning; gives up silently on bad data."""

    def __init__(self) -> None:
        self._inflater: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        if self._inflater is None:
            return b""
        try:
            return self._inflater.decompress(data)
        except zlib.error:
            self._inflater = None
            return b""


def resolve_repository(base: Path, requested: str) -> tuple[Path, str]:
    """The repository a client asked for, and its key (path relative to `base`, e.g. `app.git`).

    Accepted forms: `/app.git` and `app.git` and `~/app.git` (relative to base), and the absolute path
    of a repository inside base. Anything that leaves base raises ValueError.
    """
    base = base.resolve()
    path = requested
    if path.startswith("~/"):
        path = path[2:]
    candidate = Path(path)
    if not (candidate.is_absolute() and _inside(candidate.resolve(), base)):
        candidate = base / path.lstrip("/")
    resolved = candidate.resolve()
    if not _inside(resolved, base) or resolved == base:
        raise ValueError(f"repository {requested!r} is outside {base}")
    return resolved, resolved.relative_to(base).as_posix()


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _sq_quote(text: str) -> str:
    """Quote as git's sq_quote does: git-shell's sq_dequote accepts nothing else (no bare words)."""
    return "'" + text.replace("'", "'\\''").replace("!", "'\\!'") + "'"


def _log(log: Path, **event: str) -> None:
    """One JSON line, written with a single O_APPEND write so concurrent sessions never interleave."""
    line = (json.dumps(event, sort_keys=True) + "\n").encode()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _forward_scanning(child: subprocess.Popen[bytes], scanner: Scanner, log: Path, repo: str) -> None:
    """Copy our stdin to the child's, logging each request the scanner recognises."""
    assert child.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        # A broken pipe: upload-pack finished (v0 closes after sending the pack); nothing to forward.
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            for event in scanner.feed(data):
                _log(log, repo=repo, event=event)
            child.stdin.write(data)
            child.stdin.flush()
    for event in scanner.close():
        _log(log, repo=repo, event=event)
    with contextlib.suppress(BrokenPipeError):
        child.stdin.close()


def main(argv: list[str]) -> int:
    """sshd's forced command: `gitserver_wire.py BASE LOG` with SSH_ORIGINAL_COMMAND set by sshd."""
    base, log = Path(argv[1]), Path(argv[2])
    original = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    try:
        words = shlex.split(original)
    except ValueError:
        words = []
    if len(words) != 2 or words[0] not in SERVICES:
        sys.stderr.write(f"headwater git server: only Git transport commands are served, not {original!r}\n")
        return 128
    service = words[0]
    try:
        repo_path, repo = resolve_repository(base, words[1])
    except ValueError as err:
        sys.stderr.write(f"headwater git server: {err}\n")
        return 128
    git_shell = shutil.which("git-shell") or "/usr/bin/git-shell"
    command = [git_shell, "-c", f"{service} {_sq_quote(str(repo_path))}"]
    # Never let the login user's configuration change what the server does.
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["HOME"] = str(log.parent / "home")
    _log(log, repo=repo, event="session", service=service, protocol=os.environ.get("GIT_PROTOCOL", ""))
    scanner = scanner_for(service)
    if scanner is None:
        os.execv(git_shell, command)
    child = subprocess.Popen(command, stdin=subprocess.PIPE)
    # Let the client see the end of the output as soon as upload-pack exits, not when we do.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    # When upload-pack exits (done, or refused the request), so do we, even if the client has not
    # closed its side: it may be waiting for our end of the channel to close.
    threading.Thread(target=lambda: os._exit(child.wait()), daemon=True).start()
    _forward_scanning(child, scanner, log, repo)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
