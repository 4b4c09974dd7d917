"""`status.history`: the snapshots of the releases a HelmRelease made, newest first (Flux's Snapshots).

A snapshot records what the Helm storage held right after an action (digests included), so the next
reconcile can tell whether the stored release is still the one this object made (`Unmanaged` if not),
which release to roll back to, and whether tests ran. The rules here are Flux's: `previous` is the
newest deployed or superseded release before the latest (skipping releases with failed tests unless
those are ignored), and `truncate` drops everything older than it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

Snapshot = dict[str, Any]
SUCCESSFUL = ("deployed", "superseded")


def from_release(release: dict[str, Any], *, oci_digest: str = "", action: str = "") -> Snapshot:
    """A snapshot (Flux's JSON field names) of a release as the engine describes it."""
    snapshot: Snapshot = {
        "digest": release["digest"], "name": release["name"], "namespace": release["namespace"],
        "version": release["version"], "status": release["status"], "chartName": release.get("chart_name", ""),
        "chartVersion": release.get("chart_version", ""), "configDigest": release["config_digest"],
        "firstDeployed": kube_time(release.get("first_deployed", "")),
        "lastDeployed": kube_time(release.get("last_deployed", "")),
    }
    if release.get("app_version"):
        snapshot["appVersion"] = release["app_version"]
    if release.get("deleted"):
        snapshot["deleted"] = kube_time(release["deleted"])
    if oci_digest:
        snapshot["ociDigest"] = oci_digest
    if action:
        snapshot["action"] = action
    return snapshot


def kube_time(stamp: str) -> str:
    """An RFC 3339 time with nanoseconds as metav1.Time writes it (seconds, UTC, `Z`)."""
    if not stamp:
        return ""
    moment = datetime.fromisoformat(re.sub(r"\.\d+", "", stamp).replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def latest(history: list[Snapshot]) -> Snapshot | None:
    return history[0] if history else None


def sort_by_version(history: list[Snapshot]) -> None:
    history.sort(key=lambda snapshot: int(snapshot.get("version") or 0), reverse=True)


def has_been_tested(snapshot: Snapshot | None) -> bool:
    return snapshot is not None and snapshot.get("testHooks") is not None


def has_test_in_phase(snapshot: Snapshot | None, phase: str) -> bool:
    hooks = (snapshot or {}).get("testHooks") or {}
    return any((hook or {}).get("phase") == phase for hook in hooks.values())


def previous(history: list[Snapshot], ignore_tests: bool) -> Snapshot | None:
    """The release a rollback returns to: the newest successful one before the latest."""
    ordered = sorted(history, key=lambda snapshot: int(snapshot.get("version") or 0), reverse=True)
    for snapshot in ordered[1:]:
        if snapshot.get("status") in SUCCESSFUL and (ignore_tests or not has_test_in_phase(snapshot, "Failed")):
            return snapshot
    return None


def truncate(history: list[Snapshot], ignore_tests: bool) -> None:
    """Drop every snapshot older than `previous` (nothing when there is none)."""
    sort_by_version(history)
    for index, snapshot in enumerate(history[1:], start=1):
        if snapshot.get("status") in SUCCESSFUL and (ignore_tests or not has_test_in_phase(snapshot, "Failed")):
            del history[index + 1:]
            return


def full_release_name(snapshot: Snapshot) -> str:
    return f"{snapshot.get('namespace')}/{snapshot.get('name')}.v{snapshot.get('version')}"


def versioned_chart_name(snapshot: Snapshot) -> str:
    return f"{snapshot.get('chartName')}@{snapshot.get('chartVersion')}"


def targets(snapshot: Snapshot, release: dict[str, Any]) -> bool:
    return (snapshot.get("name"), snapshot.get("namespace"), snapshot.get("version")) == (
        release.get("name"), release.get("namespace"), release.get("version"))


def test_hooks(release: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Flux's testHooks map of a tested release: each test hook's last run."""
    hooks: dict[str, dict[str, str]] = {}
    for hook in release.get("hooks") or []:
        if "test" not in (hook.get("events") or []):
            continue
        entry = {"lastStarted": kube_time(hook.get("started_at", "")),
                 "lastCompleted": kube_time(hook.get("completed_at", "")), "phase": hook.get("phase", "")}
        hooks[hook["name"]] = {key: value for key, value in entry.items() if value}
    return hooks
