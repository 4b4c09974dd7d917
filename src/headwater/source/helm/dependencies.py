"""Which dependencies of a chart directory must be fetched, and from where: the pure half of a dependency build.

A chart in a Git (or Bucket) artifact may list dependencies in Chart.yaml that are not vendored into
`charts/`. Flux's dependency manager fetches them before packaging, and so does the HelmChart reconciler
(`dependency_build`); this module decides, without any I/O, what it fetches:

- the requested list is Chart.lock's when the chart has one (its versions are exact pins), else
  Chart.yaml's `dependencies` (the deprecated requirements.lock and requirements.yaml count, as in Helm);
- a dependency is already there when `charts/` holds a chart directory or a `<name>-<version>.tgz`
  archive of its name (or of its alias: Flux keys missing dependencies by alias);
- a dependency without a repository must be vendored (Helm's rule): one missing is refused;
- `file://<path>` is a chart directory inside the same source artifact, resolved against the chart's own
  directory; a path that climbs out of the artifact is refused (Flux
  clamps such a path to the artifact root; refusing says what is wrong instead of reading another chart);
- `https://`, `http://` and `oci://` are chart repositories and registries, named by their normalized
  URL (the key a HelmRepository's `spec.url` is matched with);
- a repository name (`@name`, `alias:name`) refers to a local Helm client's repositories.yaml, which a
  controller has not got: refused with Flux's words, as is any other scheme.

Every refusal names the dependency and the repository; the caller adds the HelmChart and its chart path.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from headwater.source import semver
from headwater.source.helm.archive import CHART_FILE, Chart, ChartError, load_yaml
from headwater.source.helm.helmrepository import normalize_url
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits

__all__ = ["LOCK_FILE", "Dependency", "DependencyError", "LocalChart", "RemoteChart", "archive_name", "locate",
           "missing", "requested", "vendored"]

LOCK_FILE = "Chart.lock"
V1_LOCK_FILE = "requirements.lock"
V1_REQUIREMENTS_FILE = "requirements.yaml"


class DependencyError(ChartError):
    """A dependency cannot be resolved; the message names it and its repository."""


@dataclass(frozen=True)
class Dependency:
    """One requested dependency: its chart name, version (range or pin), repository and alias."""

    name: str
    version: str
    repository: str
    alias: str = ""

    @property
    def key(self) -> str:
        """The name the parent chart knows it by (Flux keys missing dependencies by this)."""
        return self.alias or self.name

    def constraint(self) -> semver.Constraints:
        """The version range; an invalid one is refused with Masterminds' words."""
        try:
            return semver.parse_constraint(self.version or "*")
        except semver.SemverError as err:
            raise DependencyError(f"invalid version/constraint format '{self.version}': {err}") from err


@dataclass(frozen=True)
class LocalChart:
    """A chart directory in the source artifact, as a clean path relative to the artifact root."""

    path: str


@dataclass(frozen=True)
class RemoteChart:
    """A chart repository (`http(s)://…/`, normalized) or an OCI registry prefix (`oci://…`)."""

    url: str

    @property
    def is_oci(self) -> bool:
        return self.url.startswith("oci://")


def _entries(raw: Any, where: str) -> list[Dependency]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ChartError(f"{where}: dependencies must be a list")
    found = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ChartError(f"{where}: dependencies[{position}] has no name")
        fields = {key: item.get(key) for key in ("version", "repository", "alias")}
        for key, value in fields.items():
            if value is not None and not isinstance(value, str):
                raise ChartError(f"{where}: dependencies[{position}].{key} must be a string")
        found.append(Dependency(item["name"], fields["version"] or "", fields["repository"] or "",
                                fields["alias"] or ""))
    return found


def _document(chart: Chart, name: str, label: str, limits: HelmLimits) -> dict[str, Any] | None:
    data = chart.files.get(name)
    if data is None:
        return None
    document = load_yaml(data, source=f"{label}/{name}", limits=limits)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ChartError(f"{label}/{name}: the file is not a mapping")
    return document


def requested(chart: Chart, label: str, limits: HelmLimits = DEFAULT_LIMITS) -> list[Dependency]:
    """The dependencies to satisfy: the lock's when there is one (it pins versions), else the chart's list.

    As Helm's loader reads them: the deprecated requirements.yaml, when it has `dependencies`, replaces
    Chart.yaml's, and the deprecated requirements.lock wins over Chart.lock (whatever the `apiVersion`).
    """
    for lock_file in (V1_LOCK_FILE, LOCK_FILE):
        lock = _document(chart, lock_file, label, limits)
        if lock is not None:
            return _entries(lock.get("dependencies"), f"{label}/{lock_file}")
    listed = _document(chart, V1_REQUIREMENTS_FILE, label, limits) or {}
    if "dependencies" in listed:
        return _entries(listed["dependencies"], f"{label}/{V1_REQUIREMENTS_FILE}")
    return _entries(chart.metadata.get("dependencies"), f"{label}/{CHART_FILE}")


def archive_name(path: str) -> str | None:
    """The chart name of a `charts/` archive file name `<name>-<version>.tgz`, or None."""
    if not path.endswith(".tgz"):
        return None
    stem = path[:-4]
    for position, char in enumerate(stem):
        if char == "-" and position > 0:
            try:
                semver.parse_version(stem[position + 1:])
            except semver.SemverError:
                continue
            return stem[:position]
    return None


def vendored(chart: Chart) -> set[str]:
    """The chart names `charts/` already holds (subchart directories and archives)."""
    names = set()
    for path in chart.files:
        parts = path.split("/")
        if len(parts) < 2 or parts[0] != "charts":
            continue
        if len(parts) > 2:
            names.add(parts[1])
        elif (name := archive_name(parts[1])) is not None:
            names.add(name)
    return names


def missing(chart: Chart, dependencies: list[Dependency]) -> list[Dependency]:
    """The dependencies `charts/` does not hold, in order, each chart name and version once."""
    present = vendored(chart)
    out: list[Dependency] = []
    seen: set[tuple[str, str, str]] = set()
    for dependency in dependencies:
        if dependency.name in present or dependency.key in present:
            continue
        identity = (dependency.name, dependency.version, dependency.repository)
        if identity not in seen:
            seen.add(identity)
            out.append(dependency)
    return out


def locate(dependency: Dependency, chart_path: str) -> LocalChart | RemoteChart:
    """Where `dependency` comes from; `chart_path` is the parent chart's directory in the artifact."""
    repository = dependency.repository
    if repository == "":
        raise DependencyError("it is not in charts/ and names no repository to fetch it from")
    if repository.startswith("file://"):
        return LocalChart(_local_path(repository, chart_path))
    if repository.startswith("oci://"):
        parts = urlsplit(repository)
        if not parts.netloc:
            raise DependencyError(f"invalid dependency repository URL: {repository} (no registry host)")
        return RemoteChart(repository.rstrip("/"))
    if repository.startswith(("https://", "http://")):
        try:
            return RemoteChart(normalize_url(repository))
        except ValueError as err:
            raise DependencyError(f"invalid dependency repository URL: {repository} ({err})") from err
    if repository.startswith("@"):
        raise DependencyError(f"aliased repository dependency is not supported: {repository}")
    raise DependencyError(f"invalid dependency repository URL: {repository}")


def _local_path(repository: str, chart_path: str) -> str:
    """`file://<path>` joined to the chart's directory (Flux joins host and path), confined to the artifact."""
    reference = repository[len("file://"):]
    if "\0" in reference or "\\" in reference:
        raise DependencyError(f"invalid local chart reference '{repository}'")
    joined = posixpath.normpath("/".join(part for part in (chart_path.strip("/"), reference.lstrip("/")) if part)
                                or ".")
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        raise DependencyError(f"local chart reference '{repository}' points outside the source artifact")
    return joined
