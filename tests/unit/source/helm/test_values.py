"""valuesFiles: merged in order, confined to their root, missing ones refused or skipped as asked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from headwater.source.helm.archive import Chart
from headwater.source.helm.values import (
    ValuesError,
    effective_values_files,
    merge_maps,
    merge_values_files,
    reader_in_chart,
    reader_in_directory,
)

CHART = Chart({"apiVersion": "v2", "name": "demo", "version": "1.0.0"}, {
    "Chart.yaml": b"apiVersion: v2\nname: demo\nversion: 1.0.0\n",
    "values.yaml": b"replicas: 1\nimage: {repo: a, tag: '1'}\n",
    "values-prod.yaml": b"replicas: 3\nimage: {tag: '2'}\n",
    "list.yaml": b"- not a mapping\n",
})


@pytest.mark.parametrize(("base", "overlay", "merged"), [
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}, {"a": {"x": 1, "y": 3}}),
    ({"a": {"x": 1}}, {"a": [1]}, {"a": [1]}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": 1}, {"a": None}, {"a": None}),
])
def test_merge_maps(base: dict[str, object], overlay: dict[str, object], merged: dict[str, object]) -> None:
    assert merge_maps(base, overlay) == merged


@pytest.mark.parametrize(("paths", "effective"), [
    (["values.yaml"], []), (["./values.yaml"], []), (["values.yaml", "a.yaml"], ["values.yaml", "a.yaml"]),
    (["a.yaml"], ["a.yaml"]), ([], []),
])
def test_values_yaml_alone_changes_nothing(paths: list[str], effective: list[str]) -> None:
    assert effective_values_files(paths) == effective


def test_the_chart_values_files_merge_in_order() -> None:
    merged, used = merge_values_files(["values.yaml", "values-prod.yaml"], reader_in_chart(CHART),
                                      ignore_missing=False, label="chart", chart=CHART)
    assert merged == {"replicas": 3, "image": {"repo": "a", "tag": "2"}}
    assert used == ["values.yaml", "values-prod.yaml"]


def test_missing_files_are_skipped_only_when_asked() -> None:
    merged, used = merge_values_files(["absent.yaml", "values-prod.yaml"], reader_in_chart(CHART),
                                      ignore_missing=True, label="chart", chart=CHART)
    assert used == ["values-prod.yaml"]
    assert merged["replicas"] == 3
    with pytest.raises(ValuesError, match=re.escape("spec.valuesFiles[0]: no values file found at path 'absent.yaml'")):
        merge_values_files(["absent.yaml"], reader_in_chart(CHART), ignore_missing=False, label="chart", chart=CHART)


@pytest.mark.parametrize(("path", "message"), [
    ("../secret.yaml", "spec.valuesFiles[0]: path '../secret.yaml' points outside the source"),
    ("a/../../secret.yaml", "points outside the source"),
    ("..", "points outside the source"),
    ("a\\..\\b", "invalid path"),
    ("list.yaml", "does not hold a mapping of values"),
])
def test_escaping_or_malformed_values_files_are_refused(path: str, message: str) -> None:
    with pytest.raises(ValuesError, match=re.escape(message)):
        merge_values_files([path], reader_in_chart(CHART), ignore_missing=True, label="chart", chart=CHART)


def test_directory_reader_is_confined_and_bounded(tmp_path: Path) -> None:
    (tmp_path / "source" / "envs").mkdir(parents=True)
    (tmp_path / "outside.yaml").write_text("stolen: true\n")
    (tmp_path / "source" / "envs" / "prod.yaml").write_text("replicas: 5\n")
    os.symlink(tmp_path / "outside.yaml", tmp_path / "source" / "link.yaml")
    read = reader_in_directory(tmp_path / "source")
    merged, _ = merge_values_files(["/envs/prod.yaml", "envs/../envs/prod.yaml"], read, ignore_missing=False,
                                   label="source")
    assert merged == {"replicas": 5}
    with pytest.raises(ValuesError, match="symlink"):
        merge_values_files(["link.yaml"], read, ignore_missing=False, label="source")
    (tmp_path / "source" / "huge.yaml").write_bytes(b"a: " + b"x" * (6 << 20))
    with pytest.raises(ValuesError, match="larger than the maximum chart file size"):
        merge_values_files(["huge.yaml"], read, ignore_missing=False, label="source")
