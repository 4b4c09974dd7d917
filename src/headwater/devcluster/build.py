"""Build the control-plane binaries from their Go modules, once, and cache them.

The cold build takes minutes on two cores, so every product is cached under
`~/.cache/headwater/bin/<component>-<version>/` and rebuilt only when its pinned version changes. A build
writes its full output to a log file and reports progress as it goes; a failure names the step and the
log. Kubernetes cannot be built with `go install …@version` (its go.mod replaces its staging modules with
local paths), so it is built inside the wrapper module committed under `gomod/kubernetes/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from headwater.devcluster import gomod
from headwater.devcluster.errors import BuildError as BuildError  # re-exported: callers catch it from here
from headwater.devcluster.errors import ToolchainMissing as ToolchainMissing
from headwater.devcluster.paths import cache_root
from headwater.devcluster.versions import COMPONENTS, KUBERNETES, Component

Reporter = Callable[[str], None]

MIN_GO = (1, 26)
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
STAMP = "build-info.json"


@dataclass(frozen=True)
class Binaries:
    """Paths of everything `Cluster` runs."""

    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    etcd: Path
    kwok: Path
    kwok_stages: Path


def bin_dir(component: Component) -> Path:
    return cache_root() / "bin" / component.cache_key


def is_built(component: Component) -> bool:
    directory = bin_dir(component)
    return (directory / STAMP).is_file() and all((directory / b).is_file() for b in component.binaries)


def binaries() -> Binaries:
    """Paths of the cached binaries (whether or not they exist yet)."""
    by_name = {c.name: bin_dir(c) for c in COMPONENTS}
    return Binaries(
        kube_apiserver=by_name["kubernetes"] / "kube-apiserver",
        kube_controller_manager=by_name["kubernetes"] / "kube-controller-manager",
        kube_scheduler=by_name["kubernetes"] / "kube-scheduler",
        etcd=by_name["etcd"] / "etcd",
        kwok=by_name["kwok"] / "kwok",
        kwok_stages=by_name["kwok"] / "kwok-stages.yaml",
    )


def ensure_built(report: Reporter = print) -> Binaries:
    """Build whatever is missing from the cache; cheap when everything is there."""
    missing = [c for c in COMPONENTS if not is_built(c)]
    if not missing:
        return binaries()
    go = find_go()
    with _build_lock():
        started = time.monotonic()
        for component in COMPONENTS:
            if is_built(component):  # another process may have built it while we waited
                continue
            build_component(go, component, report)
        report(f"all control-plane binaries built in {_fmt(time.monotonic() - started)}")
    return binaries()


def find_go() -> Path:
    """The Go toolchain, or a clear message saying what is missing."""
    found = shutil.which("go")
    if found is None:
        raise ToolchainMissing(
            "Go toolchain not found on PATH: building the local control plane needs Go "
            f">= {MIN_GO[0]}.{MIN_GO[1]} (install it, e.g. `apt-get install golang` or from go.dev, "
            "and make sure `go` is on PATH)",
            step="toolchain",
        )
    try:
        out = subprocess.run([found, "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise ToolchainMissing(f"`{found} env GOVERSION` failed: {err}", step="toolchain") from err
    match = re.match(r"go(\d+)\.(\d+)", out.strip())
    if match is None or (int(match[1]), int(match[2])) < MIN_GO:
        raise ToolchainMissing(
            f"Go {out.strip() or 'of unknown version'} at {found} is too old: the Kubernetes "
            f"{KUBERNETES} sources need Go >= {MIN_GO[0]}.{MIN_GO[1]}",
            step="toolchain",
        )
    return Path(found)


def go_env(go: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"})
    return env


def build_component(go: Path, component: Component, report: Reporter = print) -> None:
    """Build one component into its cache directory (replacing what is there)."""
    builders = {"kubernetes": _build_kubernetes, "etcd": _build_etcd, "kwok": _build_kwok}
    build_into_cache(go, component, lambda out: builders[component.name](go, component, out, report), report)


def build_into_cache(go: Path, component: Component, builder: Callable[[Path], None], report: Reporter) -> None:
    """Run `builder` into a staging directory, stamp it and move it to the component's cache directory.

    A failed or interrupted build leaves nothing behind, so `is_built` never sees half a product."""
    target = bin_dir(component)
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    started = time.monotonic()
    report(f"building {component.cache_key} (first time only; this takes minutes on a small machine)")
    try:
        builder(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    elapsed = time.monotonic() - started
    info = {
        "component": component.name,
        "version": component.version,
        "seconds": round(elapsed, 1),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "go": subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip(),
    }
    (staging / STAMP).write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    report(f"built {component.cache_key} in {_fmt(elapsed)} -> {target}")


def _build_kubernetes(go: Path, component: Component, out: Path, report: Reporter) -> None:
    version = component.version
    workdir = gomod.kubernetes_workdir(go, version, lambda step, argv: _run(go, step, argv, None, report))
    ldflags = " ".join(
        f"-X {pkg}.{key}={value}"
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in gomod.kubernetes_version_vars(go, version).items()
    )
    packages = [f"k8s.io/kubernetes/cmd/{b}" for b in component.binaries]
    argv = [str(go), "build", "-v", "-p", str(os.cpu_count() or 2), "-trimpath",
            "-ldflags", f"-s -w {ldflags}", "-o", str(out) + "/", *packages]
    _run(go, "go build kube-apiserver, kube-controller-manager, kube-scheduler", argv, workdir, report)


def _build_etcd(go: Path, component: Component, out: Path, report: Reporter) -> None:
    workdir = gomod.etcd_workdir(component.version)
    argv = [str(go), "get", f"go.etcd.io/etcd/server/v3@{component.version}"]
    _run(go, "go get etcd server module", argv, workdir, report)
    argv = [str(go), "build", "-v", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"),
            "go.etcd.io/etcd/server/v3"]
    _run(go, "go build etcd", argv, workdir, report)


def _build_kwok(go: Path, component: Component, out: Path, report: Reporter) -> None:
    env_extra = {"GOBIN": str(out)}
    module = f"sigs.k8s.io/kwok/cmd/kwok@{component.version}"
    _run(go, "go install kwok", [str(go), "install", "-v", "-trimpath", "-ldflags", "-s -w", module], None, report,
         env_extra)
    module_dir = gomod.module_dir(go, "sigs.k8s.io/kwok", component.version)
    stage_root = module_dir / "kustomize" / "stage"
    documents = []
    for rel in KWOK_STAGES:
        path = stage_root / rel
        if not path.is_file():
            raise BuildError(f"kwok stage file {path} is missing from the module", step="kwok stages")
        documents.append(path.read_text().strip())
    (out / "kwok-stages.yaml").write_text("\n---\n".join(documents) + "\n")


def _run(
    go: Path,
    step: str,
    argv: list[str],
    cwd: Path | None,
    report: Reporter,
    env_extra: dict[str, str] | None = None,
) -> None:
    """Run one step with its output in a log file and a progress line every 15 s."""
    logs = cache_root() / "build-logs"
    logs.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
    log_path = logs / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{slug}.log"
    env = go_env(go)
    env.update(env_extra or {})
    report(f"  step: {step} (log: {log_path})")
    started = time.monotonic()
    with log_path.open("w") as log:
        log.write(f"$ {' '.join(argv)}\n(cwd: {cwd or os.getcwd()})\n")
        log.flush()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        stop = threading.Event()
        ticker = threading.Thread(target=_progress, args=(proc, log_path, step, started, report, stop))
        ticker.start()
        try:
            code = proc.wait()
        finally:
            stop.set()
            ticker.join()
    if code != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        raise BuildError(
            f"build step '{step}' failed (exit {code}); full log: {log_path}\n" + "\n".join(tail),
            step=step,
            log_path=log_path,
        )


def _progress(
    proc: subprocess.Popen[bytes], log_path: Path, step: str, started: float, report: Reporter,
    stop: threading.Event,
) -> None:
    while not stop.wait(15):
        lines = log_path.read_text(errors="replace").splitlines()
        packages = sum(1 for line in lines if line and not line.startswith(("$", "(", "go:", "#")))
        last = lines[-1][:80] if lines else ""
        report(f"    … {step}: {_fmt(time.monotonic() - started)}, {packages} packages so far ({last})")


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    path = cache_root() / "bin" / ".build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fmt(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"
