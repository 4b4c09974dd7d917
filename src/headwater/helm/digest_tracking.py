"""Chart digest tracking for OCIRepository charts: the chart version carries the artifact's digest.

A chart pushed again under the same version to an OCI registry has the same `Chart.yaml` version, so
Flux appends the first 12 hex digits of the OCI manifest digest as semver build metadata
(`6.5.3+0cc9a8446c95`) before releasing: a re-pushed chart is a new chart version, Helm's storage
records it, and `status.lastAttemptedRevision`/`history[].chartVersion` show it. The full digest is
`status.lastAttemptedRevisionDigest` and `history[].ociDigest`. The OCIRepository's artifact revision
is `<tag>@<algo>:<hex>` (the tag must be the chart's version, compared as semver) or `<algo>:<hex>`.
Other sources leave the version alone and the digest empty. A revision that does not fit fails the
reconcile with Flux's reason `ChartMutateError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from headwater.runtime.result import ReconcileError

MUTATE_ERROR = "ChartMutateError"
_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")


@dataclass(frozen=True)
class Tracked:
    version: str
    oci_digest: str = ""


def _parse(version: str) -> tuple[int, int, int, str] | None:
    """(major, minor, patch, prerelease) as a lenient semver parser reads it; None if not semver."""
    match = _SEMVER.match(version)
    if match is None:
        return None
    major, minor, patch, pre, _ = match.groups()
    return int(major), int(minor or 0), int(patch or 0), pre or ""


def _short(digest: str, revision: str) -> str:
    parts = digest.split(":")
    if len(parts) != 2 or len(parts[1]) < 12:
        raise ReconcileError(MUTATE_ERROR, f"invalid artifact revision {revision}")
    return parts[1][:12]


def track(chart_version: str, source_kind: str, artifact_revision: str) -> Tracked:
    """The version to release and the OCI digest to record, for a chart from `source_kind`."""
    if source_kind != "OCIRepository":
        return Tracked(chart_version)
    parsed = _parse(chart_version)
    if parsed is None:
        raise ReconcileError(MUTATE_ERROR, f"the chart version {chart_version} is not semver")
    if "@" in artifact_revision:
        tag, _, digest = artifact_revision.partition("@")
        tag_version = _parse(tag)
        if tag_version is None:
            raise ReconcileError(MUTATE_ERROR, f"failed parsing artifact revision {tag}")
        if "@" in digest or tag_version != parsed:
            raise ReconcileError(MUTATE_ERROR, f"artifact revision {tag} does not match chart version "
                                               f"{chart_version}")
    else:
        digest = artifact_revision
    short = _short(digest, artifact_revision)
    major, minor, patch, pre = parsed
    return Tracked(f"{major}.{minor}.{patch}{'-' + pre if pre else ''}+{short}", digest)
