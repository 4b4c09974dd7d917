"""Git over SSH for tests and the demo: a private OpenSSH `sshd` serving repositories through git-shell.

Why a real sshd: host key verification (`known_hosts`), key types, passphrase-protected identities
and the exact commands Git sends are what the source controller must get right, so its tests talk
to the server people run. Nothing of the system's sshd is used: the child process gets its own
config, host keys, `authorized_keys` and pid file in a temp dir, listens on 127.0.0.1 on a free port,
and allows public-key logins of the current user only (root in the dev container; sshd can only log in
users that exist, so there is no `git` user - URLs carry `server.user`).

Repositories are addressed relative to the served root, like on a hosting service:
`ssh://root@127.0.0.1:PORT/app.git` (the absolute path of a repository inside the root works too).
Every authorized key is restricted (`restrict`) to a forced command, `gitserver_wire.py`, which
refuses anything but the three Git transport commands, resolves the path inside the root, logs the
session (the counters of `stats`) and runs the request through `git-shell`.

When running as root, sshd needs its privilege-separation directory `/run/sshd` (normally created by
the init system); `start` creates it if missing.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil

from headwater.devcluster import gitserver_wire
from headwater.devcluster.gitserver_keys import KeyKind, SshKey, generate_ssh_key
from headwater.devcluster.gitserver_stats import GitStats

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")
CLIENT_KEY_PASSPHRASE = "correct horse battery staple"
_KEY_OPTIONS = "restrict"


class GitSshServer:
    """sshd on 127.0.0.1 serving the bare repositories under `root`.

    After `start`: `url(repo)`, `host_keys` and `known_hosts` (lines for `[127.0.0.1]:PORT`),
    `client_keys` (`"ed25519"`: unencrypted; `"rsa"`: PEM protected by `CLIENT_KEY_PASSPHRASE`; both
    authorized), `ssh_command()`/`git_env()` for a `git` client, and `stats`.

    Started from the main thread, sshd also gets SIGTERM if this process dies without `stop()`
    (`setpriv --pdeathsig`); `async with` starts it from a worker thread, where that safety net is off.
    """

    def __init__(
        self,
        root: Path,
        *,
        port: int = 0,
        host_key_kinds: tuple[KeyKind, ...] = ("ed25519", "ecdsa", "rsa"),
    ) -> None:
        self.root = Path(root)
        self.port = port
        self.host_key_kinds = host_key_kinds
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.host_keys: dict[str, SshKey] = {}
        self.client_keys: dict[str, SshKey] = {}
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # --- addresses and client configuration ------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the SSH server is not started")
        return self._workdir

    @property
    def pid(self) -> int | None:
        """sshd's process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def host_port(self) -> str:
        """How OpenSSH names this server in known_hosts: `[127.0.0.1]:PORT`."""
        return f"[127.0.0.1]:{self.port}"

    def url(self, repo: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}/{repo.strip('/')}"

    def known_hosts_line(self, kind: str = "ed25519") -> str:
        key = self.host_keys[kind]
        return f"{self.host_port} {key.key_type} {key.blob}"

    @property
    def known_hosts(self) -> str:
        """known_hosts content listing every host key of the server."""
        return "".join(self.known_hosts_line(kind) + "\n" for kind in self.host_keys)

    @property
    def known_hosts_file(self) -> Path:
        return self.workdir / "known_hosts"

    def authorize(self, public_key: str) -> None:
        """Let a further client key in (one OpenSSH public key line); effective for the next login."""
        line = f"{_KEY_OPTIONS},command=\"{self.workdir / 'git-serve'}\" {public_key.strip()}\n"
        with (self.workdir / "authorized_keys").open("a") as handle:
            handle.write(line)

    def ssh_command(self, identity: SshKey | None = None, known_hosts: Path | None = None) -> str:
        """A `GIT_SSH_COMMAND` that trusts only `known_hosts` (default: this server's) and uses only
        `identity` (default: the ed25519 client key), ignoring the user's ssh config and agent."""
        identity = identity or self.client_keys["ed25519"]
        known_hosts = known_hosts or self.known_hosts_file
        options = [
            "-F", "/dev/null", "-i", str(identity.private_key),
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "PasswordAuthentication=no",
            "-o", "KbdInteractiveAuthentication=no", "-o", "ConnectTimeout=10",
        ]
        if identity.passphrase is None:
            options += ["-o", "BatchMode=yes"]  # BatchMode would also refuse to ask for a passphrase
        return shlex.join(["ssh", *options])

    def git_env(self, identity: SshKey | None = None, known_hosts: Path | None = None) -> dict[str, str]:
        """Environment additions for `git`: GIT_SSH_COMMAND, and an askpass for a passphrase."""
        env = {"GIT_SSH_COMMAND": self.ssh_command(identity, known_hosts)}
        if identity is not None and identity.passphrase is not None:
            askpass = self.workdir / f"askpass-{identity.private_key.name}"
            askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' {shlex.quote(identity.passphrase)}\n")
            askpass.chmod(0o700)
            env |= {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
        return env

    # --- counters ----------------------------------------------------------------------------------

    @property
    def stats(self) -> GitStats:
        """Counters since start (or `reset_stats`), read from the session log: see `gitserver_stats`."""
        stats = GitStats()
        log = self.workdir / "sessions.log"
        if log.exists():
            for line in log.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if event["event"] == "session":
                        extra = ("info/refs",) if event.get("service") == "git-upload-pack" else ()
                        stats.add(event["repo"], "sessions", *extra)
                    else:
                        stats.add(event["repo"], event["event"])
        return stats

    def reset_stats(self) -> None:
        (self.workdir / "sessions.log").write_text("")

    @property
    def log(self) -> Path:
        """sshd's own log (LogLevel VERBOSE): authentication failures and the like."""
        return self.workdir / "sshd.log"

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._process is not None:
            return self
        if not SSHD.exists():
            raise RuntimeError(f"{SSHD} not found: install the openssh-server package")
        self._workdir = Path(tempfile.mkdtemp(prefix="headwater-git-ssh-"))
        try:
            self._prepare(self._workdir)
            self._launch()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            _terminate_tree(process)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

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

    def _prepare(self, workdir: Path) -> None:
        (workdir / "home").mkdir()
        for kind in self.host_key_kinds:
            self.host_keys[kind] = generate_ssh_key(workdir / "host", f"ssh_host_{kind}_key", kind,
                                                    comment="headwater-git-ssh-host")
        self.client_keys = {
            "ed25519": generate_ssh_key(workdir / "client", "id_ed25519", "ed25519"),
            "rsa": generate_ssh_key(workdir / "client", "id_rsa", "rsa", passphrase=CLIENT_KEY_PASSPHRASE),
        }
        serve = workdir / "git-serve"
        argv = [sys.executable, "-I", "-S", gitserver_wire.__file__, str(self.root.resolve()),
                str(workdir / "sessions.log")]
        serve.write_text(f"#!/bin/sh\nexec {shlex.join(argv)}\n")
        serve.chmod(0o755)
        (workdir / "authorized_keys").write_text("")
        for key in self.client_keys.values():
            self.authorize(key.public_key)
        (workdir / "sessions.log").write_text("")
        if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)

    def _config(self, workdir: Path) -> str:
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            "AddressFamily inet",
            *(f"HostKey {key.private_key}" for key in self.host_keys.values()),
            f"PidFile {workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
            "AuthorizedPrincipalsFile none",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            f"AllowUsers {self.user}",
            "AcceptEnv GIT_PROTOCOL",
            "PermitUserEnvironment no",
            "PermitTTY no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "AllowStreamLocalForwarding no",
            "PermitTunnel no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "MaxStartups 100",
            "MaxAuthTries 10",
            "LoginGraceTime 30",
            "LogLevel VERBOSE",
        ]
        return "\n".join(lines) + "\n"

    def _launch(self) -> None:
        workdir = self.workdir
        fixed_port = self.port != 0
        for attempt in range(5):
            if not fixed_port:
                self.port = _free_port()
            config = workdir / "sshd_config"
            config.write_text(self._config(workdir))
            # -D: stay in the foreground (our child, reaped by stop); -e: log to the log file.
            argv = [str(SSHD), "-D", "-e", "-f", str(config)]
            setpriv = shutil.which("setpriv")
            if setpriv and threading.current_thread() is threading.main_thread():
                # If we die without stop() (SIGKILL, os._exit), the kernel sends sshd SIGTERM. Only from
                # the main thread: the signal fires when the *thread* that started sshd ends.
                argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
            with (workdir / "sshd.log").open("ab") as log:
                process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            self._process = process
            if _wait_for_banner(self.port, process, deadline=time.monotonic() + 15):
                (workdir / "known_hosts").write_text(self.known_hosts)
                return
            _terminate_tree(process)
            self._process = None
            log_text = (workdir / "sshd.log").read_text(errors="replace")
            if fixed_port or "Address already in use" not in log_text or attempt == 4:
                raise RuntimeError(f"sshd did not start (exit {process.returncode}):\n{log_text[-2000:]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_banner(port: int, process: subprocess.Popen[bytes], deadline: float) -> bool:
    """Poll until sshd answers with its SSH banner; False if it exits or the deadline passes."""
    delay = 0.01
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            if conn.recv(64).startswith(b"SSH-"):
                return True
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    return False


def _terminate_tree(process: subprocess.Popen[bytes]) -> None:
    """Stop sshd and its per-connection children; reap sshd."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for proc in [*children]:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    _, alive = psutil.wait_procs(children, timeout=3)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
