"""Build the `cosign` CLI once and cache it, for the tests that sign charts the way publishers do.

HelmChart `spec.verify` checks signatures cosign made; the tests make them with the real `cosign sign`
(key pair from `cosign generate-key-pair`, no transparency-log upload), so the verifier is checked against
cosign's own format rather than against a re-implementation of it. The binary is built from the pinned
`github.com/sigstore/cosign/v2` module into `~/.cache/headwater/bin/cosign-<version>/`, like the control
plane and the helm CLI, and rebuilt only when the pin changes.
"""

from __future__ import annotations

from pathlib import Path

from headwater.devcluster import build
from headwater.devcluster.versions import COSIGN, COSIGN_COMPONENT

MODULE = "github.com/sigstore/cosign/v2"


def cosign_path() -> Path:
    """Where the cached binary is (whether or not it is built yet)."""
    return build.bin_dir(COSIGN_COMPONENT) / "cosign"


def ensure_cosign(report: build.Reporter = print) -> Path:
    """The cached `cosign` binary, built first when missing (cheap when cached)."""
    if build.is_built(COSIGN_COMPONENT):
        return cosign_path()
    go = build.find_go()
    with build._build_lock():
        if not build.is_built(COSIGN_COMPONENT):
            build.build_into_cache(go, COSIGN_COMPONENT, lambda staging: _install(go, staging, report), report)
    return cosign_path()


def _install(go: Path, staging: Path, report: build.Reporter) -> None:
    version_flag = f"-X sigs.k8s.io/release-utils/version.gitVersion={COSIGN}"
    argv = [str(go), "install", "-v", "-trimpath", "-ldflags", f"-s -w {version_flag}",
            f"{MODULE}/cmd/cosign@{COSIGN}"]
    build._run(go, "go install cosign", argv, None, report, {"GOBIN": str(staging)})


if __name__ == "__main__":
    print(ensure_cosign())
