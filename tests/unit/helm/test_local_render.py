"""The pure parts of `build/diff helmrelease`: values files merged as Helm merges them, release files read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headwater.helm.local import LocalRenderError, merge_values, read_release_file, with_release_metadata

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("base", "override", "merged"), [
    ({}, {"a": 1}, {"a": 1}),
    ({"a": 1, "b": 2}, {"a": 3}, {"a": 3, "b": 2}),
    ({"m": {"x": 1, "y": 2}}, {"m": {"y": 3, "z": 4}}, {"m": {"x": 1, "y": 3, "z": 4}}),
    ({"m": {"x": 1}}, {"m": "flat"}, {"m": "flat"}),
    ({"l": [1, 2]}, {"l": [3]}, {"l": [3]}),
    ({"m": {"x": 1}}, {"m": None}, {"m": None}),
])
def test_values_files_merge_maps_and_replace_the_rest(base: dict[str, Any], override: dict[str, Any],
                                                     merged: dict[str, Any]) -> None:
    assert merge_values(base, override) == merged


RELEASES = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: web}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: other, namespace: apps}
spec: {}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web}
spec: {values: {a: 1}}
"""


@pytest.mark.parametrize(("text", "name", "expected"), [
    (RELEASES, "web", {"namespace": "flux-system", "values": {"a": 1}}),
    (RELEASES, "other", {"namespace": "apps", "values": None}),
    (RELEASES, "missing", "holds no HelmRelease named 'missing'"),
    ("a: [", "web", "could not read the HelmRelease file"),
])
def test_the_release_file_gives_the_named_helmrelease(tmp_path: Path, text: str, name: str,
                                                      expected: dict[str, Any] | str) -> None:
    path = tmp_path / "hr.yaml"
    path.write_text(text)
    if isinstance(expected, str):
        with pytest.raises(LocalRenderError, match=expected):
            read_release_file(path, name, "flux-system")
        return
    release = read_release_file(path, name, "flux-system")
    assert release["metadata"]["namespace"] == expected["namespace"]
    assert (release.get("spec") or {}).get("values") == expected["values"]


def test_objects_get_the_metadata_helm_applies() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "1"}}}
    applied = with_release_metadata(obj, "web", "apps")
    assert applied["metadata"]["labels"] == {"x": "1", "app.kubernetes.io/managed-by": "Helm"}
    assert applied["metadata"]["annotations"] == {"meta.helm.sh/release-name": "web",
                                                  "meta.helm.sh/release-namespace": "apps"}
    assert obj["metadata"]["labels"] == {"x": "1"}  # the input is left alone
