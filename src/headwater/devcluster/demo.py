"""The demo a newcomer runs first: GitOps on a real local cluster, converging live.

`headwater dev demo` starts (or reuses) the cached control plane, a Git server on loopback holding an
example fleet repository (infrastructure + apps with dependsOn), and the controllers as local processes;
then runs `headwater bootstrap git` against that server exactly as a user would against theirs, shows the
Kustomizations converging, prints `get all` and `tree`, and says what to try next. The Git server and the
controllers outlive the command (their pids are recorded in the demo's state), so the person can push a
change and watch it land; `headwater dev down` stops them and the cluster.

The cluster has no container runtime (kwok fakes the pods), so the controller Deployments that bootstrap
installs are placeholders that only look Available; the real work is done by the local processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.devcluster import demo_repo, process
from headwater.devcluster.cluster import Cluster, ClusterError, ClusterInfo
from headwater.devcluster.paths import cache_root
from headwater.devcluster.ports import PortAllocator
from headwater.devcluster.process import ProcessRecord

Reporter = Callable[[str], None]
USERNAME = "demo"
BRANCH = "main"
REPOSITORY = "fleet.git"
SYNC_INTERVAL = "10s"
CONVERGE_TIMEOUT = 180.0


def demo_root(name: str) -> Path:
    return cache_root() / "demo" / name


@dataclass
class DemoState:
    """What `down` and the hints need: where things are and which processes to stop."""

    name: str
    root: Path
    git_port: int = 0
    processes: tuple[ProcessRecord, ...] = ()

    @property
    def workdir(self) -> Path:
        return self.root / "fleet"

    @property
    def repos(self) -> Path:
        return self.root / "git"

    @property
    def password_file(self) -> Path:
        return self.root / "git-password"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.git_port}/{REPOSITORY}"

    def save(self) -> None:
        data = {"name": self.name, "git_port": self.git_port, "processes": [p.to_dict() for p in self.processes]}
        (self.root / "state.json").write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, name: str) -> DemoState | None:
        root = demo_root(name)
        try:
            data = json.loads((root / "state.json").read_text())
        except (OSError, ValueError):
            return None
        records = tuple(ProcessRecord.from_dict(p) for p in data.get("processes") or [])
        return cls(name, root, int(data.get("git_port") or 0), records)


class DemoError(ClusterError):
    """A demo step failed; the message names the step and the log to read."""


def _headwater() -> list[str]:
    return [sys.executable, "-m", "headwater.cli.main"]


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "headwater demo", "GIT_AUTHOR_EMAIL": "demo@headwater.invalid",
           "GIT_COMMITTER_NAME": "headwater demo", "GIT_COMMITTER_EMAIL": "demo@headwater.invalid",
           "GIT_TERMINAL_PROMPT": "0"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DemoError(f"git {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def _create_repository(state: DemoState, cluster: str) -> None:
    """The bare repository the server serves, and the person's working clone of it."""
    bare = state.repos / REPOSITORY
    _git("init", "-q", "--bare", f"--initial-branch={BRANCH}", str(bare))
    _git("clone", "-q", str(bare), str(state.workdir))
    for path, text in demo_repo.files(cluster).items():
        target = state.workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    _git("checkout", "-q", "-B", BRANCH, cwd=state.workdir)
    _git("add", "-A", cwd=state.workdir)
    _git("commit", "-q", "-m", "Add the example fleet: infrastructure and apps", cwd=state.workdir)
    _git("push", "-q", "origin", BRANCH, cwd=state.workdir)


def _start_git_server(state: DemoState, progress: Reporter) -> ProcessRecord:
    port_file = state.root / "git-port"
    port_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "headwater.devcluster.gitserve", "--root", str(state.repos),
            "--username", USERNAME, "--password-file", str(state.password_file), "--port-file", str(port_file)]
    record = process.start("git-server", argv, state.log_dir / "git-server.log")
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if not process.is_alive(record) or time.monotonic() > deadline:
            raise DemoError(f"the Git server did not start; see {record.log}")
        time.sleep(0.05)
    state.git_port = int(port_file.read_text())
    progress(f"Git server serving {state.url} (basic auth, user {USERNAME})")
    return record


def _start_controllers(state: DemoState, info: ClusterInfo, progress: Reporter) -> ProcessRecord:
    ports = PortAllocator()
    storage, metrics, health = ports.allocate(), ports.allocate(), ports.allocate()
    argv = [*_headwater(), "controller", "all", "--kubeconfig", str(info.kubeconfig),
            "--storage-path", str(state.root / "storage"), "--storage-addr", f"127.0.0.1:{storage}",
            "--storage-adv-addr", f"127.0.0.1:{storage}", "--metrics-addr", f"127.0.0.1:{metrics}",
            "--health-addr", f"127.0.0.1:{health}"]
    record = process.start("controllers", argv, state.log_dir / "controllers.log")
    if process.exited_early(record, grace=1.5):
        raise DemoError(f"the controllers exited at start; see {record.log}")
    progress(f"controllers running as local processes (source + kustomize, pid {record.pid})")
    return record


def _bootstrap(state: DemoState, info: ClusterInfo, cluster: str, progress: Reporter) -> None:
    """`headwater bootstrap git` against the demo server, its progress lines shown as they come."""
    args = ["bootstrap", "git", "--kubeconfig", str(info.kubeconfig), "--url", state.url, "--branch", BRANCH,
            "--path", f"clusters/{cluster}", "--username", USERNAME, "--password", "{password}",
            "--interval", SYNC_INTERVAL, "--allow-insecure-http", "--silent"]
    progress(f"running: headwater {' '.join(args).replace('{password}', '***')}")
    password = state.password_file.read_text().strip()
    argv = [*_headwater(), *(password if a == "{password}" else a for a in args)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        progress(f"  {line.rstrip()}")
    if proc.wait() != 0:
        raise DemoError(f"bootstrap failed (exit {proc.returncode}); controllers' log: "
                        f"{state.log_dir / 'controllers.log'}")


def _watch_convergence(info: ClusterInfo, progress: Reporter, timeout: float = CONVERGE_TIMEOUT) -> None:
    """Print each Kustomization's state as it changes until all are Ready at their source's revision."""
    from headwater.runtime.kube import connect

    async def watch() -> None:
        async with connect(str(info.kubeconfig)) as kube:
            started, seen = time.monotonic(), dict[str, str]()
            wanted = {"flux-system", *demo_repo.LAYERS}
            while time.monotonic() - started < timeout:
                listed = await kube.list("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system")
                items = listed.get("items") or []
                states = {o["metadata"]["name"]: _describe(o) for o in items}
                for name, text in sorted(states.items()):
                    if seen.get(name) != text:
                        progress(f"Kustomization/{name}: {text}")
                seen = states
                if wanted <= set(states) and all(text.startswith("Ready") for text in states.values()):
                    progress(f"all Kustomizations Ready {time.monotonic() - started:.1f}s after bootstrap")
                    return
                await asyncio.sleep(0.5)
            raise DemoError(f"the sync did not converge within {timeout:.0f}s: "
                            + "; ".join(f"{k}: {v}" for k, v in sorted(seen.items())))

    asyncio.run(watch())


def _describe(obj: dict[str, Any]) -> str:
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None:
        return "waiting to be reconciled"
    word = {"True": "Ready", "False": "not ready"}.get(str(ready.get("status")), "progressing")
    return f"{word}: {ready.get('message', '')}"


def _show(info: ClusterInfo, echo: Reporter, *args: str) -> None:
    echo(f"$ headwater {' '.join(args)}")
    done = subprocess.run([*_headwater(), *args, "--kubeconfig", str(info.kubeconfig)],
                          capture_output=True, text=True, check=False)
    echo((done.stdout or done.stderr).rstrip())
    echo("")


def run_demo(name: str, progress: Reporter, echo: Reporter) -> DemoState:
    """Everything from an empty state to a converged GitOps sync; returns where things are."""
    started = time.monotonic()
    stop_demo(name, lambda _: None)
    root = demo_root(name)
    root.mkdir(parents=True, exist_ok=True)
    state = DemoState(name, root)
    state.log_dir.mkdir(parents=True, exist_ok=True)
    state.password_file.write_text(secrets.token_urlsafe(18))
    state.password_file.chmod(0o600)
    info = Cluster(name).up(progress)
    _create_repository(state, name)
    try:
        records = [_start_git_server(state, progress)]
        state.processes = tuple(records)
        state.save()
        records.append(_start_controllers(state, info, progress))
        state.processes = tuple(records)
        state.save()
        _git("remote", "set-url", "origin", _push_url(state), cwd=state.workdir)
        _bootstrap(state, info, name, progress)
        _git("pull", "-q", "--ff-only", "origin", BRANCH, cwd=state.workdir)  # bootstrap's commit
        _watch_convergence(info, progress)
    except BaseException:
        progress(f"the demo failed; logs: {state.log_dir} and {Cluster(name).logs_dir}")
        raise
    took = time.monotonic() - started
    echo("")
    _show(info, echo, "get", "all", "-A")
    _show(info, echo, "tree", "kustomization", "flux-system")
    echo(f"The demo converged in {took:.0f}s. Try it yourself:")
    for line in hints(state, info):
        echo(f"  {line}")
    return state


def _push_url(state: DemoState) -> str:
    password = state.password_file.read_text().strip()
    return f"http://{USERNAME}:{password}@127.0.0.1:{state.git_port}/{REPOSITORY}"


def hints(state: DemoState, info: ClusterInfo) -> list[str]:
    tools = Path(sys.executable).parent  # headwater and the pinned kubectl, first on PATH
    return [
        f"export PATH={tools}:$PATH KUBECONFIG={info.kubeconfig} HEADWATER_LOG_DIR={state.log_dir}",
        f"cd {state.workdir}",
        f"sed -i 's/replicas: 2/replicas: 4/' {demo_repo.EDIT_HINT_FILE}   # or edit it any way you like",
        "git commit -am 'Scale the frontend' && git push",
        f"headwater get kustomizations --watch   # the source polls every {SYNC_INTERVAL}; Ctrl-C to stop",
        "headwater reconcile kustomization apps --with-source   # or apply it now, without waiting",
        f"kubectl get deployments -n {demo_repo.APPS_NAMESPACE}",
        f"headwater trace deployment frontend -n {demo_repo.APPS_NAMESPACE}   # who manages it, at which revision",
        "headwater logs --kind Kustomization --name apps",
        "make demo-down   # or: headwater dev down  (stops the controllers, the Git server and the cluster)",
    ]


def stop_demo(name: str, report: Reporter) -> bool:
    """Stop the demo's processes and cluster; remove its state. False when nothing was running."""
    state = DemoState.load(name)
    stopped = False
    if state is not None:
        process.stop(list(state.processes))
        stopped = bool(state.processes)
        report(f"stopped the demo's controllers and Git server ({len(state.processes)} processes)")
    shutil.rmtree(demo_root(name), ignore_errors=True)
    return Cluster(name).down(report) or stopped
