"""Chart archives (.tgz): read without trusting them, and packaged reproducibly.

A chart archive comes from a Helm repository, an OCI registry or a build of ours, and the helm controller
will render it; so before it is stored as a HelmChart artifact it is read completely, in memory, within
bounds (`HelmLimits`): the compressed size, each file, the sum of all files (a gzip bomb stops at the
limit, not after), the number of entries. Only regular files and directories are accepted: a symlink,
hard link, device or FIFO refuses the archive, and so does a name that is absolute, holds `..`, a
backslash or NUL, lies outside the chart's single top-level directory, or appears twice. Chart.yaml must be
there and pass Helm's metadata validation; it and values.yaml are YAML read through safeyaml (depth and
alias bounds). Every refusal (`ChartError`) names the archive and the file.

`package` writes a chart the way `helm package` lays it out (`<name>/Chart.yaml` first, then values.yaml,
then the rest), with fixed headers (mode 0644, owner 0, mtime 0) and a gzip header without name or time, so
the same chart always gives the same bytes and the same digest.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast

import yaml

from headwater.api import safeyaml, yamlio
from headwater.artifact.fetch import ArtifactTooLarge, LimitedReader
from headwater.source import semver
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits

__all__ = ["Chart", "ChartError", "load_yaml", "package", "read_archive", "validate_metadata"]

CHART_FILE = "Chart.yaml"
VALUES_FILE = "values.yaml"


class ChartError(ValueError):
    """A chart is refused; the message names the archive (or directory) and the file."""


@dataclass(frozen=True)
class Chart:
    """A chart in memory: its metadata (Chart.yaml, parsed) and its files by path below the chart root."""

    metadata: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    def with_version(self, version: str) -> Chart:
        """The chart with `version` in its metadata and Chart.yaml."""
        metadata = {**self.metadata, "version": version}
        return replace(self, metadata=metadata, files={**self.files, CHART_FILE: yamlio.dump(metadata).encode()})

    def with_values(self, values: Mapping[str, Any]) -> Chart:
        """The chart with `values` as its values.yaml (keys sorted, as Flux writes merged values)."""
        text = yaml.dump(dict(values), Dumper=yamlio.Dumper, sort_keys=True, default_flow_style=False,
                         allow_unicode=True) if values else ""
        return replace(self, files={**self.files, VALUES_FILE: text.encode()})


def load_yaml(data: bytes, *, source: str, limits: HelmLimits = DEFAULT_LIMITS) -> Any:
    """A YAML file of a chart (Chart.yaml, a values file) within the per-file bound, through safeyaml."""
    if len(data) > limits.max_chart_file_size:
        raise ChartError(f"{source}: larger than the maximum chart file size of {limits.max_chart_file_size} bytes")
    try:
        return safeyaml.load(data.decode("utf-8"), source=source,
                             limits=safeyaml.Limits(max_bytes=limits.max_chart_file_size))
    except UnicodeDecodeError as err:
        raise ChartError(f"{source}: not UTF-8 text") from err
    except safeyaml.YAMLInputError as err:
        raise ChartError(str(err)) from err


def validate_metadata(metadata: Any, source: str) -> dict[str, Any]:
    """Helm's checks of Chart.yaml: apiVersion, a name without slashes, a SemVer version, the type."""
    if not isinstance(metadata, dict):
        raise ChartError(f"{source}: Chart.yaml is not a mapping")
    for key in ("apiVersion", "name", "version"):
        if not isinstance(metadata.get(key), str) or not metadata[key]:
            raise ChartError(f"{source}: field '{key}' is required and must be a string")
    name, version = metadata["name"], metadata["version"]
    if metadata["apiVersion"] not in ("v1", "v2", "v3"):
        raise ChartError(f"{source}: field 'apiVersion' {metadata['apiVersion']!r} is not a chart API version")
    if name != posixpath.basename(name) or "\\" in name or name in (".", ".."):
        raise ChartError(f"{source}: field 'name' {name!r} is invalid")
    try:
        semver.parse_version(version)
    except semver.SemverError as err:
        raise ChartError(f"{source}: field 'version' {version!r} is invalid: {err}") from err
    if metadata.get("type") not in (None, "", "application", "library"):
        raise ChartError(f"{source}: field 'type' must be application or library")
    return metadata


class SizeBudget:
    """The size bounds of one chart, counted file by file: each file, their sum, their number."""

    def __init__(self, label: str, limits: HelmLimits) -> None:
        self.label, self.limits = label, limits
        self.total = self.files = 0

    def add(self, path: str, size: int) -> None:
        limits = self.limits
        if size > limits.max_chart_file_size:
            raise ChartError(f"{self.label}: file {path!r} is larger than the maximum chart file size of "
                             f"{limits.max_chart_file_size} bytes")
        self.total += size
        self.files += 1
        if self.total > limits.max_chart_total_size:
            raise ChartError(f"{self.label}: its files add up to more than {limits.max_chart_total_size} bytes")
        if self.files > limits.max_chart_entries:
            raise ChartError(f"{self.label}: more than {limits.max_chart_entries} files")


def _member_path(member: tarfile.TarInfo, label: str) -> tuple[str, str]:
    """(top-level directory, path below it) of an archive member, or a refusal."""
    name = member.name
    if not name or name.startswith("/") or "\\" in name or "\0" in name:
        raise ChartError(f"{label}: entry {name!r} has an invalid name")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ChartError(f"{label}: entry {name!r} points outside the chart")
    if not member.isdir() and len(parts) < 2:
        raise ChartError(f"{label}: entry {name!r} is not inside the chart's directory")
    return (parts[0] if parts else ""), "/".join(parts[1:])


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "a symlink"
    if member.islnk():
        return "a hard link"
    return "a device, FIFO or other special file"


def read_archive(data: bytes, *, label: str, limits: HelmLimits = DEFAULT_LIMITS) -> Chart:
    """Read a chart .tgz completely and check it (see the module docstring)."""
    if len(data) > limits.max_chart_size:
        raise ChartError(f"{label}: larger than the maximum chart size of {limits.max_chart_size} bytes")
    files: dict[str, bytes] = {}
    top: str | None = None
    entries = 0
    budget = SizeBudget(label, limits)
    stream_limit = limits.max_chart_total_size + 1024 * (limits.max_chart_entries + 1)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as gz:
            reader = cast(IO[bytes], LimitedReader(gz, stream_limit, label))
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    entries += 1
                    if entries > limits.max_chart_entries:
                        raise ChartError(f"{label}: more than {limits.max_chart_entries} entries")
                    directory, path = _member_path(member, label)
                    if member.isdir():
                        continue
                    if not member.isreg() or member.issparse():
                        raise ChartError(f"{label}: entry {member.name!r} is {_kind(member)}; charts may hold "
                                         "only regular files")
                    if top is None:
                        top = directory
                    elif directory != top:
                        raise ChartError(f"{label}: entries in two top-level directories ({top!r}, {directory!r})")
                    budget.add(member.name, member.size)
                    if path in files:
                        raise ChartError(f"{label}: file {member.name!r} appears twice")
                    extracted = tar.extractfile(member)
                    files[path] = extracted.read() if extracted is not None else b""
    except ArtifactTooLarge as err:
        raise ChartError(f"{label}: decompresses to more than {limits.max_chart_total_size} bytes") from err
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError, ValueError) as err:
        if isinstance(err, ChartError):
            raise
        raise ChartError(f"{label}: not a valid chart archive ({err})") from err
    if top is None or CHART_FILE not in files:
        raise ChartError(f"{label}: no Chart.yaml in the chart's directory")
    return chart_from_files(files, f"{label}: {top}")


def chart_from_files(files: dict[str, bytes], label: str, limits: HelmLimits = DEFAULT_LIMITS) -> Chart:
    """A chart from its files, Chart.yaml checked and values.yaml (when present) proven to be YAML."""
    metadata = validate_metadata(load_yaml(files[CHART_FILE], source=f"{label}/{CHART_FILE}", limits=limits),
                                 f"{label}/{CHART_FILE}")
    if VALUES_FILE in files:
        values = load_yaml(files[VALUES_FILE], source=f"{label}/{VALUES_FILE}", limits=limits)
        if values is not None and not isinstance(values, dict):
            raise ChartError(f"{label}/{VALUES_FILE}: the values are not a mapping")
    return Chart(metadata, files)


def values_of(chart: Chart, label: str) -> dict[str, Any]:
    """The chart's own values.yaml (empty when it has none)."""
    data = chart.files.get(VALUES_FILE)
    values = load_yaml(data, source=f"{label}/{VALUES_FILE}") if data is not None else None
    return dict(values) if isinstance(values, dict) else {}


def _order(path: str) -> tuple[int, str]:
    return ({CHART_FILE: 0, VALUES_FILE: 1}.get(path, 2), path)


def package(chart: Chart) -> bytes:
    """The chart as a reproducible .tgz: `<name>/<file>` entries, fixed headers, no timestamps."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz, \
            tarfile.open(fileobj=cast(IO[bytes], gz), mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(chart.files, key=_order):
            data = chart.files[path]
            info = tarfile.TarInfo(f"{chart.name}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
