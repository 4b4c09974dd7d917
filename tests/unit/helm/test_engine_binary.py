"""Where the helm controller finds its engine: the environment, then PATH (the image), then the dev cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.devcluster.helmtools import tools
from headwater.helm.controller import ENGINE_NAME, engine_binary

pytestmark = pytest.mark.unit


def _executable(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / ENGINE_NAME
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary


@pytest.mark.parametrize(("configured", "on_path", "expected"), [
    (True, True, "configured"),
    (True, False, "configured"),
    (False, True, "path"),
    (False, False, "cache"),
])
def test_engine_binary_prefers_the_environment_then_path_then_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: bool, on_path: bool, expected: str) -> None:
    explicit = tmp_path / "explicit" / "engine"
    path_dir = tmp_path / "bin"
    in_path = _executable(path_dir) if on_path else None
    monkeypatch.setenv("PATH", str(path_dir if on_path else tmp_path / "empty"))
    if configured:
        monkeypatch.setenv("HEADWATER_HELM_ENGINE", str(explicit))
    else:
        monkeypatch.delenv("HEADWATER_HELM_ENGINE", raising=False)
    found = engine_binary()
    assert found == {"configured": explicit, "path": in_path, "cache": tools().engine}[expected]
