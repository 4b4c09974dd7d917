"""Start and stop the processes of a dev cluster, exactly those and no others.

Each component runs detached in its own session (so it outlives `headwater dev cluster up`) with its
output in a log file. A process is identified by its pid *and* its start time: `down` never signals a
pid that has since been reused by an unrelated process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRecord:
    """What `down` needs to find and stop one component later, from another process."""

    component: str
    pid: int
    create_time: float
    log: str
    argv: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ProcessRecord:
        argv = data.get("argv")
        return cls(
            component=str(data["component"]),
            pid=int(str(data["pid"])),
            create_time=float(str(data["create_time"])),
            log=str(data["log"]),
            argv=tuple(str(a) for a in argv) if isinstance(argv, list | tuple) else (),
        )


def start(component: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> ProcessRecord:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return ProcessRecord(component, proc.pid, psutil.Process(proc.pid).create_time(), str(log_path), tuple(argv))


def handle(record: ProcessRecord) -> psutil.Process | None:
    """The live process of a record, or None if it exited or the pid now belongs to someone else."""
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.create_time) > 0.05:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(record.pid)
            return None
        return proc
    except psutil.NoSuchProcess:
        return None


def is_alive(record: ProcessRecord) -> bool:
    return handle(record) is not None


def stop(records: list[ProcessRecord], timeout: float = 15.0) -> None:
    """SIGTERM every live process, wait for them together, SIGKILL what is left."""
    live = [p for p in (handle(r) for r in records) if p is not None]
    for proc in live:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGTERM)
    _, still_alive = psutil.wait_procs(live, timeout=timeout)
    for proc in still_alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(still_alive, timeout=5)
    for record in records:
        _reap(record.pid)


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child (started by this Python process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def exited_early(record: ProcessRecord, grace: float) -> bool:
    """True when the process dies within `grace` seconds of starting."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_alive(record):
            return True
        time.sleep(0.05)
    return False
