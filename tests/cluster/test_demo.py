"""README's first command, end to end: `headwater dev demo` converges, and its printed hints work.

The demo runs as a person runs it (the `headwater` console script, its own cluster, Git server and
controller processes). Then the "Try it yourself" lines it printed are executed as a shell script, as
a person would paste them (minus the endless `--watch` and the final `demo-down`), and the change they
make must reach the cluster. `tree` and `trace` must show the demo's ownership chain.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.devcluster.demo import DemoState

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

BIN = Path(sys.executable).parent


def headwater_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "FLUX_SYSTEM_NAMESPACE")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def demo_name() -> Iterator[str]:
    name = f"demo-test-{secrets.token_hex(3)}"
    yield name
    subprocess.run([str(BIN / "headwater"), "dev", "down", "--name", name], capture_output=True, check=False)


def try_it_lines(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Try it yourself" in line)
    return [line.strip() for line in lines[start + 1:] if line.startswith("  ")]


def test_the_demo_converges_and_its_hints_apply_a_change(demo_name: str) -> None:
    env = headwater_env()
    demo = subprocess.run([str(BIN / "headwater"), "dev", "demo", "--name", demo_name], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Traceback" not in demo.stderr
    assert re.search(r"The demo converged in \d+s", demo.stdout), demo.stdout
    assert "all Kustomizations Ready" in demo.stderr
    tables = demo.stdout
    for name in ("kustomization/flux-system", "kustomization/infrastructure", "kustomization/apps",
                 "gitrepository/flux-system"):
        assert name in tables, tables
    assert "Deployment/shop/frontend" in tables  # the tree of flux-system reaches the apps' objects

    state = DemoState.load(demo_name)
    assert state is not None
    assert all(record.pid for record in state.processes)

    hints = try_it_lines(demo.stdout)
    script = [line for line in hints if "--watch" not in line and "demo-down" not in line]
    assert any(line.startswith("git commit") for line in script), hints
    as_a_person = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "FLUX_SYSTEM_NAMESPACE")}
    as_a_person["PATH"] = os.pathsep.join(p for p in as_a_person.get("PATH", "").split(os.pathsep)
                                          if Path(p).resolve() != BIN.resolve())  # the hints must set it
    run = subprocess.run(["bash", "-e", "-c", "\n".join(script)], capture_output=True, text=True,
                         env=as_a_person, timeout=180, check=False)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stderr
    assert re.search(r"frontend\s+4/4", run.stdout), run.stdout  # the kubectl hint shows the new scale

    kube_env = {**env, "KUBECONFIG": str(Path(_kubeconfig(demo.stdout)))}
    trace = subprocess.run([str(BIN / "headwater"), "trace", "deployment", "frontend", "-n", "shop"],
                           capture_output=True, text=True, env=kube_env, timeout=60, check=False)
    assert trace.returncode == 0, trace.stderr
    assert re.search(r"Kustomization:\s+apps", trace.stdout), trace.stdout
    assert re.search(r"GitRepository:\s+flux-system", trace.stdout), trace.stdout

    down = subprocess.run([str(BIN / "headwater"), "dev", "down", "--name", demo_name], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert down.returncode == 0, down.stderr
    assert DemoState.load(demo_name) is None


def _kubeconfig(output: str) -> str:
    match = re.search(r"KUBECONFIG=(\S+)", output)
    assert match, output
    return match.group(1)
