"""`spec.valuesFiles`: YAML files merged in order into the chart's values.yaml, confined to their root.

The root is the chart for a chart from a Helm repository (the files are the chart's own) and the source
artifact for a chart built from Git (Flux resolves the paths against the source's root, not the chart).
A path is cleaned as a path inside that root: `a/../b` is `b` and a leading `/` means the root, as Flux's
secure join reads them; a path that climbs out of the root (`../x`, `a/../../x`) is refused instead of
being clamped, naming the field. Each file is bounded by `--helm-chart-file-max-size` and read through
safeyaml; it must hold a mapping. Merging is Flux's `transform.MergeMaps`: mappings merge key by key,
recursively; anything else in a later file replaces the earlier value. `values.yaml` alone means "the
chart's own values" and changes nothing (Flux's `GetValuesFiles`).
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from headwater.source.helm.archive import VALUES_FILE, Chart, ChartError, load_yaml, values_of
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits

__all__ = ["ValuesError", "effective_values_files", "merge_maps", "merge_values_files", "reader_in_chart",
           "reader_in_directory"]

#: Reads a cleaned path below the root: its bytes, or None when there is no such file.
Reader = Callable[[str], bytes | None]


class ValuesError(ChartError):
    """A values file is missing, escapes its root, or is not a YAML mapping."""


def effective_values_files(paths: Sequence[str]) -> list[str]:
    """The values files that change anything: none when the list is just `values.yaml`."""
    if len(paths) == 1 and posixpath.normpath(paths[0]) == VALUES_FILE:
        return []
    return list(paths)


def merge_maps(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`overlay` merged onto `base` (new dicts; neither input is changed)."""
    out = dict(base)
    for key, value in overlay.items():
        previous = out.get(key)
        out[key] = merge_maps(previous, value) if isinstance(previous, Mapping) and isinstance(value, Mapping) \
            else value
    return out


def clean(path: str, field: str) -> str:
    """`path` as a path inside the root, or a refusal naming `field`."""
    if "\0" in path or "\\" in path:
        raise ValuesError(f"{field}: invalid path {path!r}")
    cleaned = posixpath.normpath(path.lstrip("/") or ".")
    if cleaned == ".." or cleaned.startswith("../"):
        raise ValuesError(f"{field}: path {path!r} points outside the source")
    return cleaned


def merge_values_files(paths: Sequence[str], read: Reader, *, ignore_missing: bool, label: str,
                       chart: Chart | None = None, limits: HelmLimits = DEFAULT_LIMITS
                       ) -> tuple[dict[str, Any], list[str]]:
    """(merged values, the files used) for `spec.valuesFiles`; `chart` supplies `values.yaml` when the
    files are the chart's own."""
    merged: dict[str, Any] = {}
    used: list[str] = []
    for position, path in enumerate(paths):
        field = f"spec.valuesFiles[{position}]"
        cleaned = clean(path, field)
        if chart is not None and cleaned == VALUES_FILE:
            merged = merge_maps(merged, values_of(chart, label))
            used.append(path)
            continue
        data = read(cleaned)
        if data is None:
            if ignore_missing:
                continue
            raise ValuesError(f"{field}: no values file found at path '{path}' in {label}")
        values = load_yaml(data, source=f"{label}/{cleaned}", limits=limits)
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ValuesError(f"{field}: {label}/{cleaned} does not hold a mapping of values")
        merged = merge_maps(merged, values)
        used.append(path)
    return merged, used


def reader_in_chart(chart: Chart) -> Reader:
    return chart.files.get


def reader_in_directory(root: Path, limits: HelmLimits = DEFAULT_LIMITS) -> Reader:
    """Files below `root`, never through a symlink, at most the per-file bound (larger ones are refused)."""

    def read(cleaned: str) -> bytes | None:
        current = root
        for part in cleaned.split("/"):
            current = current / part
            try:
                info = current.lstat()
            except FileNotFoundError:
                return None
            if stat.S_ISLNK(info.st_mode):
                raise ValuesError(f"{cleaned}: is or passes through a symlink")
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > limits.max_chart_file_size:
            raise ValuesError(f"{cleaned}: larger than the maximum chart file size of {limits.max_chart_file_size} "
                              "bytes")
        fd = os.open(current, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            return f.read(limits.max_chart_file_size + 1)

    return read
