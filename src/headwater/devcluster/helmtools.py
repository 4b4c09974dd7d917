"""Build the Helm side's Go binaries once and cache them: headwater's Helm engine and the `helm` CLI.

The engine (`headwater/helm/engine-go/`, a small Go program over the Helm v4 SDK) is what the helm
controller runs; the CLI, built from the same `helm.sh/helm/v4` version, is what the tests check the
stored releases with (`helm list`, `helm history`, `helm rollback`). Both live under
`~/.cache/headwater/bin/` like the control plane, and are rebuilt only when the pin or the engine's
source changes (the engine's cache key includes a digest of its Go files).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from headwater.devcluster import build
from headwater.devcluster.versions import HELM, Component, helm_components

ENGINE_SOURCE = Path(__file__).resolve().parents[1] / "helm" / "engine-go"


@dataclass(frozen=True)
class HelmTools:
    helm: Path
    engine: Path


def engine_source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(ENGINE_SOURCE.glob("*")):
        if path.suffix == ".go" or path.name in ("go.mod", "go.sum"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def components() -> tuple[Component, Component]:
    helm, engine = helm_components(engine_source_digest())
    return helm, engine


def tools() -> HelmTools:
    """Paths of the cached binaries (whether or not they exist yet)."""
    helm, engine = components()
    return HelmTools(helm=build.bin_dir(helm) / "helm", engine=build.bin_dir(engine) / "hw-helm-engine")


def ensure_helm_tools(report: build.Reporter = print) -> HelmTools:
    """Build whatever is missing; cheap when both are cached."""
    wanted = [c for c in components() if not build.is_built(c)]
    if not wanted:
        return tools()
    go = build.find_go()
    with build._build_lock():
        for component in wanted:
            if not build.is_built(component):
                _build(go, component, report)
    return tools()


def _build(go: Path, component: Component, report: build.Reporter) -> None:
    def into(staging: Path) -> None:
        if component.name == "helm":
            version_flag = f"-X helm.sh/helm/v4/internal/version.version={HELM}"
            argv = [str(go), "install", "-v", "-trimpath", "-ldflags", f"-s -w {version_flag}",
                    f"helm.sh/helm/v4/cmd/helm@{HELM}"]
            build._run(go, "go install helm", argv, None, report, {"GOBIN": str(staging)})
        else:
            output = str(staging / "hw-helm-engine")
            argv = [str(go), "build", "-v", "-trimpath", "-ldflags", "-s -w", "-o", output, "."]
            build._run(go, "go build the helm engine", argv, ENGINE_SOURCE, report)

    build.build_into_cache(go, component, into, report)


if __name__ == "__main__":
    print(ensure_helm_tools())
