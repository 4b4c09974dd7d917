"""The kustomize child process: confined to the artifact, bounded in memory, time and output.

Why: the reference check (`kustomize.confine`) gives precise errors, but kustomize has many fields and
grows more; a field we do not know must not become a way to read the controller's files. So the child
also runs under Landlock (see `confined_exec`): it may read only the artifact root, write only its own
temporary directory, and, under `--no-remote-bases`, open no TCP connection and execute nothing but
kubectl itself. It gets an empty environment with a fresh `HOME` (no kubeconfig, no credentials, no
git or ssh configuration of the controller), and it is killed when it passes a limit: address space
(`memory_bytes`), CPU and wall time (from the Kustomization's timeout), or output size. Each refusal
says which limit it hit, never an empty message.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from headwater.kustomize.confined_exec import landlock_abi

log = logging.getLogger("headwater.kustomize.sandbox")

LAUNCHER = Path(__file__).with_name("confined_exec.py")
MIB = 1024 * 1024
SYSTEM_READ_PATHS = ("/usr", "/lib", "/lib64", "/bin", "/etc", "/proc/self")  # git/ssh for remote bases


@dataclass(frozen=True)
class Limits:
    """What one kustomize run may use."""

    memory_bytes: int = 1024 * MIB
    output_bytes: int = 64 * MIB
    seconds: float = 120.0


class SandboxError(Exception):
    """The child was refused or killed; the message names the limit or the cause."""


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: bytes
    stderr: bytes


def _human(size: int) -> str:
    if size < MIB:
        return f"{size // 1024} KiB"
    return f"{size // (1024 * MIB)} GiB" if size % (1024 * MIB) == 0 else f"{size // MIB} MiB"


def run_confined(argv: list[str], *, readable: Path, no_network: bool, limits: Limits, what: str,
                 scratch_parent: Path | None = None) -> Outcome:
    """Run `argv` (argv[0] an absolute path) with `readable` as the only tree it may read; its scratch
    directory (HOME, TMPDIR) is made in `scratch_parent` (the system's temporary directory by default)."""
    landlock_available()
    with tempfile.TemporaryDirectory(prefix="hw-kz-", dir=scratch_parent) as scratch:
        home, tmp = Path(scratch, "home"), Path(scratch, "tmp")
        home.mkdir()
        tmp.mkdir()
        paths = {str(readable): "read", argv[0]: "exec", str(scratch): "write", "/dev/null": "write"}
        if not no_network:  # remote bases: kustomize runs git, which needs the system and the network
            paths.update({path: "exec" for path in SYSTEM_READ_PATHS})
        env = {"HOME": str(home), "TMPDIR": str(tmp), "PATH": "/usr/bin:/bin" if not no_network else "/nonexistent",
               "KUSTOMIZE_PLUGIN_HOME": "/dev/null", "GOMEMLIMIT": str(limits.memory_bytes * 3 // 4),
               "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
        policy = {"memory_bytes": limits.memory_bytes, "cpu_seconds": max(1, int(limits.seconds) + 1),
                  "require_landlock": False, "deny_network": no_network, "env": env, "paths": paths}
        launcher = [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(policy), *argv]
        return _supervise(launcher, cwd=str(readable), limits=limits, what=what)


def _supervise(argv: list[str], *, cwd: str, limits: Limits, what: str) -> Outcome:
    """Run, reading output as it comes; kill on the deadline or the output cap."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                               start_new_session=True, env={})
    assert process.stdout is not None
    assert process.stderr is not None
    deadline = time.monotonic() + limits.seconds
    stdout, stderr = bytearray(), bytearray()


    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, stdout)
        selector.register(process.stderr, selectors.EVENT_READ, stderr)
        open_streams = 2
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill(process)
                raise SandboxError(f"{what} timed out after {limits.seconds:.0f}s")
            for key, _ in selector.select(timeout=min(remaining, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                buffer: bytearray = key.data
                buffer += chunk
                if len(stdout) > limits.output_bytes:
                    _kill(process)
                    raise SandboxError(f"{what} produced more than {_human(limits.output_bytes)} of manifests")
                if len(stderr) > 2 * MIB:  # keep the head (Go's fatal error) and the tail
                    del stderr[64 * 1024: len(stderr) - MIB]
    try:
        returncode = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(process)
        raise SandboxError(f"{what} timed out after {limits.seconds:.0f}s") from None
    if returncode in (-signal.SIGKILL, -signal.SIGXCPU):
        raise SandboxError(f"{what} was stopped at its CPU limit ({limits.seconds:.0f}s)")
    message = stderr.decode(errors="replace")
    if returncode != 0 and _out_of_memory(message):
        raise SandboxError(f"{what} exceeded the {_human(limits.memory_bytes)} memory limit")
    return Outcome(returncode, bytes(stdout), bytes(stderr))


def _out_of_memory(stderr: str) -> bool:
    return any(mark in stderr for mark in ("fatal error: runtime: out of memory", "cannot allocate memory",
                                           "fatal error: out of memory", "runtime: mmap",
                                           "failed to reserve page summary memory"))


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@functools.cache
def landlock_available() -> bool:
    """Whether this kernel confines the child; without it, the reference check stands alone (logged once)."""
    try:
        available = landlock_abi(ctypes.CDLL(None, use_errno=True)) > 0
    except (OSError, AttributeError):
        available = False
    if not available:
        log.warning("Landlock is not available on this kernel: kustomize builds rely on the reference check alone")
    return available


def which_kubectl() -> str | None:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    return None if found is None else str(Path(found).resolve())
