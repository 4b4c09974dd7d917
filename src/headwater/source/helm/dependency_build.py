"""Fetch the dependencies a chart directory lacks and add them to it as `charts/<name>-<version>.tgz`.

`dependencies` decides what is missing and where each comes from; this module gets them:

- a local chart (`file://`) is read from the extracted source artifact as the parent is (confined, no
  symlinks, bounded), its version checked against the requested range, and packaged;
- a remote chart comes from `ChartSource.fetch` (the HelmChart's namespace decides which credentials a
  repository URL gets, see `dependency_repos`), bounded by the chart size limit and read completely
  (`read_archive`) before it is added.

The archives are added as files, as `helm dependency build` leaves them in `charts/` (Flux's packager
writes the same charts as directories; Helm loads either form the same way). The parent's files and
the added archives together stay within the chart's total size bound. One dependency that cannot be had
fails the whole build, naming the chart, the dependency and the repository: nothing half-built is stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from headwater.source import semver
from headwater.source.helm.archive import Chart, ChartError, package, read_archive
from headwater.source.helm.dependencies import (
    Dependency,
    DependencyError,
    LocalChart,
    RemoteChart,
    locate,
    missing,
    requested,
)
from headwater.source.helm.directory import chart_directory, read_directory
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits

__all__ = ["ChartSource", "build_dependencies"]


class ChartSource(Protocol):
    async def fetch(self, remote: RemoteChart, dependency: Dependency) -> bytes:
        """The archive of the chart version `dependency` asks for, from `remote` (DependencyError if not)."""


def _local_archive(root: Path, local: LocalChart, dependency: Dependency, label: str, limits: HelmLimits) -> bytes:
    where = f"repository '{dependency.repository}'"
    directory = chart_directory(root, local.path, field=where)
    chart = read_directory(directory, label=f"{label} dependency '{local.path}'", limits=limits)
    if chart.name != dependency.name:
        raise DependencyError(f"{where}: the chart at '{local.path}' is named '{chart.name}', not "
                              f"'{dependency.name}'")
    constraint = dependency.constraint()
    if not constraint.check(semver.parse_version(chart.version)):
        raise DependencyError(f"can't get a valid version for constraint '{dependency.version}' (the chart at "
                              f"'{local.path}' is version '{chart.version}')")
    return package(chart)


async def build_dependencies(chart: Chart, *, root: Path, chart_path: str, charts: ChartSource, label: str,
                             limits: HelmLimits = DEFAULT_LIMITS) -> tuple[Chart, int]:
    """`chart` with its missing dependencies added, and how many were added (see the module docstring)."""
    added: dict[str, bytes] = {}
    for dependency in missing(chart, requested(chart, label, limits)):
        kind = "local" if dependency.repository.startswith("file://") else "remote"
        try:
            where = locate(dependency, chart_path)
            if isinstance(where, LocalChart):
                data = await asyncio.to_thread(_local_archive, root, where, dependency, label, limits)
            else:
                data = await charts.fetch(where, dependency)
            fetched = await asyncio.to_thread(read_archive, data, label=f"dependency '{dependency.name}'",
                                              limits=limits)
        except ChartError as err:
            raise DependencyError(f"{label}: failed to add {kind} dependency '{dependency.key}': {err}") from err
        added[f"charts/{fetched.name}-{fetched.version}.tgz"] = data
    if not added:
        return chart, 0
    total = sum(len(data) for data in chart.files.values()) + sum(len(data) for data in added.values())
    if total > limits.max_chart_total_size:
        raise DependencyError(f"{label}: with its dependencies the chart is {total} bytes, more than the maximum "
                              f"of {limits.max_chart_total_size} bytes")
    return replace(chart, files={**chart.files, **added}), len(added)
