"""A HelmChart's build: its outcome (`Build`) and its failures (`BuildError`), with Flux's words.

Flux's chart builders report what they did in one sentence (`pulled 'podinfo' chart with version
'6.0.3'`, `packaged … and merged values files [a b]`) that becomes the Ready and ArtifactInStorage message
and the event, and fail with one of a fixed set of reasons; some of them (a chart reference that names
nothing, a version that cannot take the metadata, values files that cannot be merged) cannot be fixed by
retrying and stall the object. Both are data here so the reconciler reads as the steps it takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from headwater.runtime import conditions as cond
from headwater.source import semver

__all__ = ["CHART_PACKAGE", "CHART_PULL", "CHART_REFERENCE", "CHART_VERIFICATION", "DEPENDENCY_BUILD",
           "METADATA_PATCH", "VALUES_FILES",
           "Build", "BuildError", "BuildReason", "check_chart_name", "with_build_metadata"]

BUILD_FAILED_CONDITION = "BuildFailed"


@dataclass(frozen=True)
class BuildReason:
    reason: str
    summary: str
    condition: str
    persistent: bool


CHART_REFERENCE = BuildReason("InvalidChartReference", "invalid chart reference", cond.FETCH_FAILED_CONDITION, True)
CHART_PULL = BuildReason("ChartPullError", "chart pull error", cond.FETCH_FAILED_CONDITION, False)
METADATA_PATCH = BuildReason("MetadataPatchError", "chart metadata patch error", BUILD_FAILED_CONDITION, True)
VALUES_FILES = BuildReason("ValuesFilesError", "values files merge error", BUILD_FAILED_CONDITION, True)
DEPENDENCY_BUILD = BuildReason("DependencyBuildError", "dependency build error", BUILD_FAILED_CONDITION, False)
CHART_PACKAGE = BuildReason("ChartPackageError", "chart package error", BUILD_FAILED_CONDITION, False)
CHART_VERIFICATION = BuildReason("ChartVerificationError", "chart verification error", BUILD_FAILED_CONDITION, False)


class BuildError(Exception):
    def __init__(self, reason: BuildReason, detail: str) -> None:
        super().__init__(f"{reason.summary}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Build:
    """What a build produced: the chart's name and (artifact) version, and its bytes, or None when the
    stored artifact already is this chart."""

    name: str
    version: str
    data: bytes | None = None
    packaged: bool = False
    values_files: list[str] = field(default_factory=list)
    verified: bool = False  # its signature was verified (spec.verify)

    def summary(self) -> str:
        action = "packaged" if self.packaged else "pulled"
        text = f"{action} '{self.name}' chart with version '{self.version}'"
        if self.values_files:
            text += f" and merged values files [{' '.join(self.values_files)}]"
        return text

    @property
    def reason(self) -> str:
        return "ChartPackageSucceeded" if self.packaged else "ChartPullSucceeded"


# `^([-a-z0-9]+/?\.?)+$` (Flux's, for RE2) rewritten without nested quantifiers: the same language, matched
# in linear time by Python's backtracking engine.
_CHART_NAME = re.compile(r"[-a-z0-9]+(?:(?:/\.?|\.)[-a-z0-9]+)*(?:/\.?|\.)?")
_METADATA = re.compile(r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*")


def check_chart_name(name: str) -> None:
    if not name:
        raise BuildError(CHART_REFERENCE, "no name set for remote chart reference")
    if _CHART_NAME.fullmatch(name) is None:
        raise BuildError(CHART_REFERENCE, f"invalid chart name '{name}': a valid name must be lower case letters and "
                         "numbers and MAY be separated with dashes (-), slashes (/) or periods (.)")


def with_build_metadata(version: str, metadata: str) -> str:
    """`version` with its SemVer build metadata set to `metadata` (Masterminds `SetMetadata`)."""
    if not metadata:
        return version
    try:
        parsed = semver.parse_version(version)
    except semver.SemverError as err:
        raise BuildError(METADATA_PATCH, f"failed to parse version from chart metadata as SemVer: {err}") from err
    if _METADATA.fullmatch(metadata) is None:
        raise BuildError(METADATA_PATCH, f"failed to set SemVer metadata on chart version: invalid metadata "
                         f"{metadata!r}")
    return str(replace(parsed, metadata=metadata))
