"""Which remediation applies and how many failures it allows (Flux's Install/UpgradeRemediation).

The active remediation follows the last attempted release action: an install failure is remediated by
uninstalling, an upgrade failure by a rollback (or an uninstall, `upgrade.remediation.strategy`).
`retries` counts failures allowed before the release is left alone (`Stalled`, `RetriesExceeded`);
a negative number retries for ever. An upgrade remediates its last failure by default when retries
are set; an install does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Remediation:
    action: str  # install | upgrade
    retries: int
    ignore_test_failures: bool | None
    remediate_last_failure: bool | None
    strategy: str  # uninstall | rollback

    def failure_count(self, status: dict[str, Any]) -> int:
        return int(status.get(f"{self.action}Failures") or 0)

    def increment(self, status: dict[str, Any]) -> None:
        status[f"{self.action}Failures"] = self.failure_count(status) + 1

    def retries_exhausted(self, status: dict[str, Any]) -> bool:
        return self.retries >= 0 and self.failure_count(status) > self.retries

    def must_remediate_last_failure(self) -> bool:
        if self.remediate_last_failure is not None:
            return self.remediate_last_failure
        return self.action == "upgrade" and self.retries > 0

    def must_ignore_test_failures(self, default: bool) -> bool:
        return default if self.ignore_test_failures is None else self.ignore_test_failures


def for_action(spec: dict[str, Any], action: str) -> Remediation:
    """The remediation of `install` or `upgrade` from a HelmRelease spec (raw JSON, Flux's defaults)."""
    config = ((spec.get(action) or {}).get("remediation")) or {}
    default_strategy = "uninstall" if action == "install" else "rollback"
    return Remediation(action=action, retries=int(config.get("retries") or 0),
                       ignore_test_failures=config.get("ignoreTestFailures"),
                       remediate_last_failure=config.get("remediateLastFailure"),
                       strategy=str(config.get("strategy") or default_strategy) if action == "upgrade"
                       else "uninstall")


def retries_on_failure(spec: dict[str, Any], action: str) -> bool:
    """Whether `action` uses the RetryOnFailure strategy: no remediation, the action retried at
    `strategy.retryInterval` (an install retried as an upgrade) for as long as it fails."""
    return ((spec.get(action) or {}).get("strategy") or {}).get("name") == "RetryOnFailure"


def retry_interval(spec: dict[str, Any], status: dict[str, Any]) -> float | None:
    """Seconds until a failed RetryOnFailure action is tried again (None for the other strategy)."""
    from headwater.api.duration import seconds_or

    action = str(status.get("lastAttemptedReleaseAction") or "")
    if action not in ("install", "upgrade") or not retries_on_failure(spec, action):
        return None
    return seconds_or(((spec.get(action) or {}).get("strategy") or {}).get("retryInterval"), 300.0)


def active(spec: dict[str, Any], status: dict[str, Any]) -> Remediation | None:
    """The remediation of the last attempted release action, if any (none under RetryOnFailure)."""
    action = status.get("lastAttemptedReleaseAction")
    if action not in ("install", "upgrade") or retries_on_failure(spec, str(action)):
        return None
    return for_action(spec, str(action))


def clear_failures(status: dict[str, Any]) -> None:
    for key in ("failures", "installFailures", "upgradeFailures"):
        status.pop(key, None)
