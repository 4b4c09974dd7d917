"""What the Helm storage holds compared with what the HelmRelease wants: Flux's release states.

`determine` is a pure function over the latest stored release (as the engine describes it), the
object's history, spec and status, and the desired chart and values; the atomic release loop
(`atomic.py`) maps each state to the next action. The order of the checks is Flux's: a pending
release is locked whatever else is true; without history a stored release is unmanaged (or absent
when uninstalled); a release whose digest no longer matches our snapshot is unmanaged; then the Helm
status decides, and for a deployed release the chart, the values, the post-renderers (once a digest
was observed) and the common metadata (added, changed or removed), then tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from headwater.helm import history
from headwater.helm import remediation as rem


class ReleaseStatus(Enum):
    ABSENT = "Absent"
    UNMANAGED = "Unmanaged"
    OUT_OF_SYNC = "OutOfSync"
    LOCKED = "Locked"
    UNTESTED = "Untested"
    IN_SYNC = "InSync"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class State:
    status: ReleaseStatus
    reason: str = ""


@dataclass(frozen=True)
class Desired:
    """What this reconcile would release."""

    chart_name: str
    chart_version: str
    config_digest: str
    post_renderers_digest: str = ""
    common_metadata_digest: str = ""


PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


def determine(last: dict[str, Any] | None, spec: dict[str, Any], status: dict[str, Any], desired: Desired) -> State:
    if last is None:
        return State(ReleaseStatus.ABSENT, "no release in storage for object")
    if last.get("status") in PENDING:
        return State(ReleaseStatus.LOCKED, f"release with status '{last.get('status')}'")
    snapshots = status.get("history") or []
    if not snapshots:
        if last.get("status") == "uninstalled":
            return State(ReleaseStatus.ABSENT, "found uninstalled release in storage")
        return State(ReleaseStatus.UNMANAGED, "found existing release in storage")
    current = snapshots[0]
    if not history.targets(current, last):
        return State(ReleaseStatus.UNMANAGED, "release not observed to be made for object")
    if current.get("digest") != last.get("digest"):
        return State(ReleaseStatus.UNMANAGED, "release digest verification error")
    match last.get("status"):
        case "failed":
            return State(ReleaseStatus.FAILED)
        case "uninstalled":
            return State(ReleaseStatus.ABSENT, "found uninstalled release in storage")
        case "deployed":
            if (last.get("chart_name"), last.get("chart_version")) != (desired.chart_name, desired.chart_version):
                return State(ReleaseStatus.OUT_OF_SYNC, "release chart changed")
            if current.get("configDigest") != desired.config_digest:
                return State(ReleaseStatus.OUT_OF_SYNC, "release config values changed")
            observed = status.get("observedPostRenderersDigest")
            if observed and observed != desired.post_renderers_digest:
                return State(ReleaseStatus.OUT_OF_SYNC, "release post-renderers changed")
            if (status.get("observedCommonMetadataDigest") or "") != desired.common_metadata_digest:
                return State(ReleaseStatus.OUT_OF_SYNC, "release common metadata changed")
            test = spec.get("test") or {}
            if test.get("enable"):
                if not history.has_been_tested(current):
                    return State(ReleaseStatus.UNTESTED)
                active = rem.active(spec, status)
                ignore = bool(test.get("ignoreFailures"))
                if (active is not None and not active.must_ignore_test_failures(ignore)
                        and history.has_test_in_phase(current, "Failed")):
                    return State(ReleaseStatus.FAILED, "release has test in failed phase")
            return State(ReleaseStatus.IN_SYNC)
    return State(ReleaseStatus.UNKNOWN, f"unable to determine state for release with status '{last.get('status')}'")
