"""Where the kustomize controller's builds run, and how a crash's leftovers are removed.

A build copies the source artifact to disk, decrypts SOPS files into that copy and lets kustomize write
its scratch files next to it. A `TemporaryDirectory` in `/tmp` is removed when the build ends, but not
when the process is killed (`kill -9`, the OOM killer, a node losing power): the copy, cleartext
included, would stay behind in a world-traversable directory until someone noticed.

So every build directory lives in one place the controller owns:

    $TMPDIR/headwater-kustomize-<uid>/      0700, owned by us, never a symlink (refused otherwise)
        <pid>-<random>/                     one per controller process, which holds a flock on it
            hw-ks-<random>/                 one per build (artifact copy, kustomize's scratch)

A process keeps the `flock` on its run directory for its whole life, and the kernel drops it when the
process dies however it dies (systemd-tmpfiles' age-based cleaning skips a locked directory as well).
The run directory is locked before it gets its name (made as `.new-…`, locked, renamed), so a directory
with a run name and no lock is always a dead one. At start, the controller removes every run directory
of ours whose lock nobody holds: the leftovers of dead processes, never the live builds of another
controller sharing the host and the uid (shards, tests). Removal looks only at our own name patterns,
only at real directories (`lstat`: a symlink is skipped, never followed) owned by our uid, and uses
`shutil.rmtree`, which does not follow symlinks inside the tree either.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = ["BUILD_PREFIX", "WorkArea", "WorkAreaError", "default_root"]

log = logging.getLogger("headwater.kustomize.workarea")

BUILD_PREFIX: Final = "hw-ks-"
NEW_PREFIX: Final = ".new-"
#: `<pid>-<random>`, and `.new-<pid>-<random>` while being set up: nothing else in the root is touched.
RUN_NAME: Final = re.compile(r"[0-9]+-[a-z0-9_]+")
NEW_NAME: Final = re.compile(re.escape(NEW_PREFIX) + RUN_NAME.pattern)
#: A `.new-…` directory younger than this may be one a live process is setting up.
SETUP_GRACE_SECONDS: Final = 60.0


class WorkAreaError(Exception):
    """The work area's root is not a private directory of ours."""


def default_root() -> Path:
    """`$TMPDIR/headwater-kustomize-<uid>` (`/tmp/…` when TMPDIR is unset)."""
    return Path(tempfile.gettempdir()) / f"headwater-kustomize-{os.getuid()}"


class WorkArea:
    """This process's directory for build directories, under a private root shared by our processes."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()
        self._run: Path | None = None
        self._lock_fd: int | None = None

    @property
    def run_dir(self) -> Path:
        if self._run is None:
            raise RuntimeError("WorkArea.open() was not called")
        return self._run

    def open(self) -> WorkArea:
        """Make the root private, remove dead processes' run directories, and start ours (idempotent;
        a run directory removed under us, e.g. by hand, is made again)."""
        if self._run is not None and self._run.is_dir():
            return self
        self.close()
        _private_root(self.root)
        removed = self.remove_stale()
        if removed:
            log.info("removed %d build director%s left by controllers that stopped without cleaning up, "
                     "under %s", removed, "y" if removed == 1 else "ies", self.root)
        new = Path(tempfile.mkdtemp(prefix=f"{NEW_PREFIX}{os.getpid()}-", dir=self.root))
        fd = os.open(new, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        run = new.with_name(new.name.removeprefix(NEW_PREFIX))
        new.rename(run)
        self._run, self._lock_fd = run, fd
        return self

    def close(self) -> None:
        """Remove our run directory and release its lock (builds must have ended)."""
        if self._run is not None:
            shutil.rmtree(self._run, ignore_errors=True)
            self._run = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextlib.contextmanager
    def build_dir(self) -> Iterator[Path]:
        """A fresh directory for one build, removed when it ends."""
        with tempfile.TemporaryDirectory(prefix=BUILD_PREFIX, dir=self.open().run_dir) as tmp:
            yield Path(tmp)

    def remove_stale(self) -> int:
        """Remove run directories of ours that no live process holds; how many were removed."""
        uid = os.getuid()
        removed = 0
        with os.scandir(self.root) as entries:
            for entry in entries:
                setting_up = NEW_NAME.fullmatch(entry.name) is not None
                if not (setting_up or RUN_NAME.fullmatch(entry.name)) or Path(entry.path) == self._run:
                    continue
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
                    continue
                if setting_up and time.time() - info.st_mtime < SETUP_GRACE_SECONDS:
                    continue
                if _held(Path(entry.path)):
                    continue
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        return removed


def _private_root(root: Path) -> None:
    """Create `root` 0700, or accept it only as a real directory of ours, and make it 0700."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as err:
        raise WorkAreaError(f"{root} is not a directory the kustomize controller can use ({err.strerror}); "
                            "remove it or point TMPDIR elsewhere") from err
    try:
        owner = os.fstat(fd).st_uid
        if owner != os.getuid():
            raise WorkAreaError(f"{root} belongs to uid {owner}, not to the kustomize controller "
                                f"(uid {os.getuid()}); remove it or point TMPDIR elsewhere")
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def _held(run: Path) -> bool:
    """Whether a live process holds the run directory's lock."""
    try:
        fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return True  # vanished or replaced meanwhile: not ours to judge
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock we may just have taken
    return False
