"""A chart directory inside a source artifact (`HelmChart.spec.chart` of a GitRepository), read confined.

The path is cleaned as a path inside the artifact; one that climbs out (`../x`) is refused, naming
`spec.chart`. The directory is read as Helm's `LoadDir` reads it, within the same bounds as an archive:
`.helmignore` patterns (gitignore syntax) leave files out, symlinks are never followed (the source
archiver writes none; one found here refuses the chart), each file and the sum are bounded, and Chart.yaml
is checked. `charts/` is read as the files are (subchart directories or archives); the dependencies
Chart.yaml lists that it lacks are fetched by `dependency_build`, not here.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

from headwater.artifact.ignore import Matcher, read_patterns
from headwater.source.helm.archive import CHART_FILE, Chart, ChartError, SizeBudget, chart_from_files
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits
from headwater.source.helm.values import ValuesError, clean

__all__ = ["chart_directory", "read_directory"]

HELMIGNORE = ".helmignore"


def chart_directory(source_root: Path, chart_path: str, *, field: str = "spec.chart") -> Path:
    """The chart's directory at `chart_path` (named by `field`) below the extracted source, or a refusal."""
    try:
        cleaned = clean(chart_path, field)
    except ValuesError as err:
        raise ChartError(str(err)) from err
    directory = source_root / cleaned if cleaned != "." else source_root
    current = source_root
    for part in ([] if cleaned == "." else cleaned.split("/")):
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            raise ChartError(f"{field}: path '{chart_path}' not found in the source artifact") from None
        if stat.S_ISLNK(info.st_mode):
            raise ChartError(f"{field}: path '{chart_path}' passes through a symlink")
    if not directory.is_dir():
        raise ChartError(f"{field}: path '{chart_path}' is not a directory in the source artifact")
    return directory


def read_directory(directory: Path, *, label: str, limits: HelmLimits = DEFAULT_LIMITS) -> Chart:
    """The chart in `directory` (see the module docstring)."""
    ignore_file = directory / HELMIGNORE
    matcher = Matcher.of(read_patterns(ignore_file.read_bytes())) if ignore_file.is_file() else None
    files: dict[str, bytes] = {}
    budget = SizeBudget(label, limits)
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        relative_dir = Path(dirpath).relative_to(directory).as_posix()
        base = () if relative_dir == "." else tuple(relative_dir.split("/"))
        for name in sorted(dirnames):
            if stat.S_ISLNK(os.lstat(os.path.join(dirpath, name)).st_mode):
                raise ChartError(f"{label}: {posixpath.join(*base, name)} is a symlink")
            if matcher is not None and matcher.excludes((*base, name), True):
                dirnames.remove(name)
        for name in sorted(filenames):
            parts = (*base, name)
            path = "/".join(parts)
            if matcher is not None and matcher.excludes(parts, False) and path != CHART_FILE:
                continue
            info = os.lstat(os.path.join(dirpath, name))
            if not stat.S_ISREG(info.st_mode):
                raise ChartError(f"{label}: {path} is not a regular file (symlinks are not followed)")
            budget.add(path, info.st_size)
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                files[path] = f.read(limits.max_chart_file_size + 1)
    if CHART_FILE not in files:
        raise ChartError(f"{label}: no Chart.yaml in the chart directory")
    return chart_from_files(files, label, limits)
