"""Chart directories inside a source artifact: confined, .helmignore honoured, charts/ read as it is."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from headwater.source.helm.archive import ChartError
from headwater.source.helm.directory import chart_directory, read_directory
from tests.unit.artifact.conftest import write_tree

CHART = "apiVersion: v2\nname: app\nversion: 0.3.0\n"


def test_a_chart_directory_is_read_with_helmignore_and_vendored_dependencies(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {
        "charts/app/Chart.yaml": CHART + "dependencies:\n- {name: db, version: 1.0.0, repository: https://x}\n"
                                 "- {name: cache, version: 2.0.0}\n",
        "charts/app/values.yaml": "a: 1\n",
        "charts/app/.helmignore": "*.bak\nci/\n",
        "charts/app/old.bak": "x",
        "charts/app/ci/values.yaml": "x: 1\n",
        "charts/app/charts/db/Chart.yaml": "apiVersion: v2\nname: db\nversion: 1.0.0\n",
        "charts/app/charts/cache-2.0.0.tgz": b"\x1f\x8b",
    })
    chart = read_directory(chart_directory(root, "./charts/app/"), label="chart")
    assert sorted(chart.files) == [".helmignore", "Chart.yaml", "charts/cache-2.0.0.tgz", "charts/db/Chart.yaml",
                                   "values.yaml"]


@pytest.mark.parametrize(("path", "message"), [
    ("../outside", "spec.chart: path '../outside' points outside the source"),
    ("charts/absent", "spec.chart: path 'charts/absent' not found in the source artifact"),
    ("file.txt", "is not a directory"),
    ("link", "passes through a symlink"),
])
def test_chart_paths_are_confined(tmp_path: Path, path: str, message: str) -> None:
    root = write_tree(tmp_path / "src", {"file.txt": "x", "charts/app/Chart.yaml": CHART})
    os.symlink(root / "charts", root / "link")
    with pytest.raises(ChartError, match=re.escape(message)):
        chart_directory(root, path)


def test_symlinks_inside_the_chart_are_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"Chart.yaml": CHART})
    os.symlink("/etc/passwd", root / "passwd")
    with pytest.raises(ChartError, match="passwd is not a regular file"):
        read_directory(root, label="chart")
