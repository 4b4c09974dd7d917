"""``python -m headwater.api.crdgen --check`` keeps the checked-in CRDs honest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headwater.api import crdgen
from headwater.api.kinds import ALL_KINDS, GIT_REPOSITORY

from .conftest import REPO

pytestmark = pytest.mark.unit


def test_checked_in_crds_are_up_to_date() -> None:
    assert crdgen.DEFAULT_OUT == REPO / "config" / "crd"
    assert crdgen.diff() == ""
    assert crdgen.main(["--check"]) == 0


def test_check_via_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "headwater.api.crdgen", "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_paths_and_kustomization_list_every_crd() -> None:
    paths = crdgen.crd_paths()
    assert len(paths) == len(ALL_KINDS) == 14
    assert all(path.is_file() for path in paths)
    assert crdgen.crd_path(GIT_REPOSITORY).name == "source.toolkit.fluxcd.io_gitrepositories.yaml"
    listed = (crdgen.DEFAULT_OUT / "kustomization.yaml").read_text()
    for path in paths:
        assert f"  - {path.name}\n" in listed


def test_check_fails_with_a_diff_when_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crdgen.main(["--out", str(tmp_path)]) == 0
    assert crdgen.main(["--check", "--out", str(tmp_path)]) == 0
    target = tmp_path / crdgen.crd_filename(GIT_REPOSITORY)
    target.write_text(target.read_text().replace("gitrepo\n", "gr\n"))
    capsys.readouterr()
    assert crdgen.main(["--check", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "-    - gr" in out
    assert "+    - gitrepo" in out
    assert "out of date" in out


def test_check_reports_missing_and_stray_files(tmp_path: Path) -> None:
    crdgen.write(tmp_path)
    (tmp_path / crdgen.crd_filename(GIT_REPOSITORY)).unlink()
    (tmp_path / "old.yaml").write_text("{}\n")
    text = crdgen.diff(tmp_path)
    assert "source.toolkit.fluxcd.io_gitrepositories.yaml (generated)" in text
    assert "stray file" in text
    assert "old.yaml" in text


def test_write_is_idempotent(tmp_path: Path) -> None:
    assert len(crdgen.write(tmp_path)) == len(ALL_KINDS) + 1
    assert crdgen.write(tmp_path) == []
