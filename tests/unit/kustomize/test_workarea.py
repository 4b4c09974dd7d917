"""The kustomize controller's build work area: private, and a killed controller's leftovers removed at start."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from headwater.kustomize.workarea import SETUP_GRACE_SECONDS, WorkArea, WorkAreaError, default_root

pytestmark = pytest.mark.unit


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def stale_run(root: Path, name: str = "4242-abc_123") -> Path:
    """What a controller killed mid-build leaves: its run directory, a build, a decrypted file."""
    build = root / name / "hw-ks-x1y2" / "artifact"
    build.mkdir(parents=True)
    (build / "secret.yaml").write_text("password: cleartext\n")
    return root / name


def test_a_killed_controllers_build_directory_is_removed_at_start_and_the_root_is_private(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    root.chmod(0o755)
    stale = stale_run(root)
    area = WorkArea(root).open()
    assert not stale.exists()
    assert mode(root) == 0o700
    assert area.run_dir.parent == root
    with area.build_dir() as build:
        assert build.parent == area.run_dir
        assert build.name.startswith("hw-ks-")
        assert mode(build) == 0o700
    assert not build.exists()
    area.close()
    assert list(root.iterdir()) == []


def test_a_fresh_root_is_made_0700(tmp_path: Path) -> None:
    area = WorkArea(tmp_path / "deeper" / "work").open()
    assert mode(tmp_path / "deeper" / "work") == 0o700
    area.close()


@pytest.mark.parametrize("kind", ["live run", "symlink", "other name", "young setup", "regular file"])
def test_what_is_left_alone(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "work"
    root.mkdir(mode=0o700)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("x")
    held = None
    if kind == "live run":  # another controller on this host, same uid: its lock is held
        path = stale_run(root, "77-live")
        held = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(held, fcntl.LOCK_EX)
    elif kind == "symlink":  # a run-looking name that points elsewhere is never followed
        path = root / "78-link"
        path.symlink_to(outside, target_is_directory=True)
    elif kind == "other name":
        path = root / "keep-me"
        path.mkdir()
    elif kind == "young setup":  # a process between mkdtemp and its lock
        path = root / ".new-79-abc"
        path.mkdir()
    else:
        path = root / "80-file"
        path.write_text("x")
    area = WorkArea(root).open()
    try:
        assert path.exists() or path.is_symlink()
        assert (outside / "precious").exists()
    finally:
        area.close()
        if held is not None:
            os.close(held)


def test_an_abandoned_setup_directory_goes_once_old(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir(mode=0o700)
    old = root / ".new-81-abc"
    old.mkdir()
    long_ago = time.time() - SETUP_GRACE_SECONDS - 5
    os.utime(old, (long_ago, long_ago))
    WorkArea(root).open().close()
    assert not old.exists()


def test_a_root_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "work").symlink_to(target, target_is_directory=True)
    with pytest.raises(WorkAreaError, match="not a directory the kustomize controller can use"):
        WorkArea(tmp_path / "work").open()
    assert list(target.iterdir()) == []


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the directory to another uid")
def test_a_root_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    root.chmod(0o777)
    os.chown(root, 65534, 65534)
    with pytest.raises(WorkAreaError, match="belongs to uid 65534"):
        WorkArea(root).open()
    assert mode(root) == 0o777


def test_the_run_directory_is_made_again_when_removed_under_us(tmp_path: Path) -> None:
    area = WorkArea(tmp_path / "work").open()
    shutil.rmtree(area.run_dir)
    with area.build_dir() as build:
        assert build.is_dir()
    area.close()


KILLED_MID_BUILD = """
import sys, time
from pathlib import Path
from headwater.kustomize.workarea import WorkArea
area = WorkArea(Path(sys.argv[1])).open()
with area.build_dir() as build:
    (build / "decrypted.yaml").write_text("cleartext")
    print(build, flush=True)
    time.sleep(60)
"""


def test_kill_9_during_a_build_leaves_nothing_once_a_controller_starts_again(tmp_path: Path) -> None:
    root = tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", KILLED_MID_BUILD, str(root)], stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    build = Path(child.stdout.readline().decode().strip())
    assert (build / "decrypted.yaml").exists()
    WorkArea(root).open().close()  # while it lives, its build stays
    assert (build / "decrypted.yaml").exists()
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert build.exists(), "kill -9 leaves it behind"
    area = WorkArea(root).open()
    assert not build.parent.exists()
    assert [p.name for p in root.iterdir()] == [area.run_dir.name]
    area.close()


def test_the_default_root_is_per_uid_under_tmpdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert default_root() == tmp_path / f"headwater-kustomize-{os.getuid()}"
