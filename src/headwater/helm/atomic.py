"""The atomic release: state → next Helm action → run it → again, until in sync, stopped or stalled.

Flux's model (helm-controller's AtomicRelease), step for step: each pass determines the release
state from the Helm storage (`state.py`), picks the action for it, and runs it through the engine;
an action type runs at most once per reconcile, and a remediation (rollback, uninstall) ends the
reconcile, so the next attempt starts from a fresh look. Failures that stored a release count against
the active remediation's retries; exhausted retries stall the object (`RetriesExceeded`) until its
spec, chart or values change or `reconcile.fluxcd.io/resetAt` is handled. Conditions (`Released`,
`TestSuccess`, `Remediated`) are summarised into `Ready` as Flux does, and every action leaves Flux's
event with the chart version and config digest as metadata.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from headwater.api.duration import format_go
from headwater.apply.cel_health import CustomHealthChecks
from headwater.helm import drift, history
from headwater.helm import remediation as rem
from headwater.helm.chart import ResolvedChart
from headwater.helm.engine import EngineError, HelmEngine, KubeTarget
from headwater.helm.state import Desired, ReleaseStatus, State, determine
from headwater.runtime import conditions as cond
from headwater.runtime.context import ReconcileContext
from headwater.runtime.events import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING
from headwater.runtime.kube.client import KubeClient
from headwater.runtime.result import ReconcileError, TerminalError

GROUP = "helm.toolkit.fluxcd.io"
RELEASED, TEST_SUCCESS, REMEDIATED, DRIFTED = "Released", "TestSuccess", "Remediated", "Drifted"
FIELD_MANAGER = "helm-controller"  # the engine's field manager too (engine-go/main.go)
RELEASE, REMEDIATE, TEST, UNLOCK = "release", "remediate", "test", "unlock"


@dataclass
class Request:
    """Everything one reconcile releases, and where."""

    ctx: ReconcileContext
    engine: HelmEngine
    kube: KubeTarget
    chart: ResolvedChart
    values: dict[str, Any]
    config_digest: str
    release_name: str
    target_namespace: str
    storage_namespace: str
    post_renderers: list[dict[str, Any]]
    post_renderers_digest: str
    force_requested: bool = False
    common_metadata_digest: str = ""
    health: CustomHealthChecks | None = None  # spec.healthCheckExprs, judged while Helm waits (watcher only)
    cluster: KubeClient | None = None  # the release's cluster as the release's identity (drift detection)
    performed: list[str] = field(default_factory=list)

    @property
    def spec(self) -> dict[str, Any]:
        return self.ctx.obj.get("spec") or {}

    @property
    def status(self) -> dict[str, Any]:
        return self.ctx.status

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.status.setdefault("history", [])  # type: ignore[no-any-return]

    def desired(self) -> Desired:
        return Desired(self.chart.name, self.chart.version, self.config_digest, self.post_renderers_digest,
                       self.common_metadata_digest)

    def target(self, timeout: float) -> dict[str, Any]:
        return {"kube": self.kube.as_params(), "namespace": self.target_namespace,
                "storage_namespace": self.storage_namespace, "release_name": self.release_name,
                "timeout_seconds": timeout}

    def timeout(self, action: str) -> float:
        from headwater.api.duration import seconds_or

        default = seconds_or(self.spec.get("timeout"), 300.0)
        return seconds_or((self.spec.get(action) or {}).get("timeout"), default)

    def mark(self, cond_type: str, status: bool | None, reason: str, message: str) -> None:
        conds, gen = self.ctx.conditions, self.ctx.generation
        if status is None:
            cond.mark_unknown(conds, cond_type, reason, message, generation=gen)
        elif status:
            cond.mark_true(conds, cond_type, reason, message, generation=gen)
        else:
            cond.mark_false(conds, cond_type, reason, message, generation=gen)

    def _chart_facts(self, revision: str) -> tuple[str, str]:
        """(app version, OCI digest) of the chart version an event names, when this reconcile knows them."""
        current = history.latest(self.history) or {}
        if current.get("chartVersion") == revision:
            return str(current.get("appVersion") or ""), str(current.get("ociDigest") or "")
        if self.chart.version == revision:
            return self.chart.app_version, self.chart.oci_digest
        return "", ""

    def event(self, warning: bool, reason: str, message: str, revision: str = "", token: str = "") -> None:
        metadata = {}
        if revision:
            metadata[f"{GROUP}/revision"] = revision
            app_version, oci_digest = self._chart_facts(revision)
            if app_version:
                metadata[f"{GROUP}/app-version"] = app_version
            if oci_digest:
                metadata[f"{GROUP}/oci-digest"] = oci_digest
        if token:
            metadata[f"{GROUP}/token"] = token
        self.ctx.event(EVENT_TYPE_WARNING if warning else EVENT_TYPE_NORMAL, reason, message, metadata or None)


# -- the loop ---------------------------------------------------------------------------------------

Action = tuple[str, str, Callable[[Request], Awaitable[None]]]  # (type, name, run)


async def run(request: Request, last_release: Callable[[], Awaitable[dict[str, Any] | None]]) -> None:
    """Run actions until none remains; raise ReconcileError to be retried, TerminalError to stall."""
    previous: set[str] = set()
    while True:
        state = determine(await last_release(), request.spec, request.status, request.desired())
        action = next_action(request, state)
        if action is None:
            if state.status is ReleaseStatus.IN_SYNC:
                await check_drift(request)
            cond.delete(request.ctx.conditions, cond.RECONCILING_CONDITION)
            summarize(request)
            return
        kind, name, perform = action
        if kind in previous:
            stop_or_requeue(request)
            return
        timeout = request.timeout({"install": "install", "upgrade": "upgrade", "test": "test",
                                   "rollback": "rollback", "uninstall": "uninstall"}.get(name, ""))
        message = f"Running '{name}' action with timeout of {format_seconds(timeout)}"
        cond.mark_reconciling(request.ctx.conditions, cond.PROGRESSING_REASON, message,
                              generation=request.ctx.generation)
        if kind == RELEASE:
            cond.mark_ready_unknown(request.ctx.conditions, message, cond.PROGRESSING_REASON,
                                    generation=request.ctx.generation)
        await request.ctx.status_writer.write(request.ctx.obj)
        await perform(request)
        request.performed.append(name)
        if kind == RELEASE:
            request.force_requested = False  # a forced release is one action, not one per loop
        if kind == REMEDIATE:
            active = rem.active(request.spec, request.status)
            if active is not None and active.retries_exhausted(request.status):
                raise retries_exceeded(request, active)
            stop_or_requeue(request)
            return
        previous.add(kind)


def stop_or_requeue(request: Request) -> None:
    """After a remediation, or before running an action type twice: retry later unless out of retries."""
    active = rem.active(request.spec, request.status)
    summarize(request)
    if active is None or not active.retries_exhausted(request.status):
        ready = cond.get(request.ctx.conditions, cond.READY_CONDITION) or {}
        raise ReconcileError(str(ready.get("reason") or "ProgressingWithRetry"), str(ready.get("message") or ""))
    cond.delete(request.ctx.conditions, cond.RECONCILING_CONDITION)


def retries_exceeded(request: Request, active: rem.Remediation) -> TerminalError:
    action = request.status.get("lastAttemptedReleaseAction") or active.action
    return TerminalError("RetriesExceeded", f"Failed to {action} after {active.failure_count(request.status)} "
                                            "attempt(s)")


def next_action(request: Request, state: State) -> Action | None:
    spec, status, force = request.spec, request.status, request.force_requested
    match state.status:
        case ReleaseStatus.IN_SYNC:
            history.truncate(request.history, ignore_test_failures(request))
            if force:
                return RELEASE, "upgrade", upgrade
            if cond.is_true(request.ctx.conditions, REMEDIATED):
                _replace_remediated(request)
            return None
        case ReleaseStatus.LOCKED:
            return UNLOCK, "unlock", unlock
        case ReleaseStatus.ABSENT:
            if rem.retries_on_failure(spec, "install"):
                return RELEASE, "install", install
            if rem.for_action(spec, "install").retries_exhausted(status) and not force:
                raise retries_exceeded(request, rem.for_action(spec, "install"))
            return RELEASE, "install", install
        case ReleaseStatus.UNMANAGED:
            request.history.clear()
            return RELEASE, "upgrade", upgrade
        case ReleaseStatus.OUT_OF_SYNC:
            if rem.retries_on_failure(spec, "upgrade"):
                return RELEASE, "upgrade", upgrade
            if rem.for_action(spec, "upgrade").retries_exhausted(status) and not force:
                raise retries_exceeded(request, rem.for_action(spec, "upgrade"))
            return RELEASE, "upgrade", upgrade
        case ReleaseStatus.UNTESTED:
            if cond.is_true(request.ctx.conditions, REMEDIATED):
                _replace_remediated(request)
            return TEST, "test", test
        case ReleaseStatus.FAILED:
            active = rem.active(spec, status)
            if active is None or active.failure_count(status) <= 0 or force:
                return RELEASE, "upgrade", upgrade
            if active.retries_exhausted(status) and not active.must_remediate_last_failure():
                raise retries_exceeded(request, active)
            ignore = active.must_ignore_test_failures(bool((spec.get("test") or {}).get("ignoreFailures")))
            history.truncate(request.history, ignore)
            if active.strategy == "rollback":
                if history.previous(request.history, ignore) is None:
                    raise TerminalError("MissingRollbackTarget", "Failed to perform remediation: missing target "
                                        "release for rollback: cannot remediate failed release")
                return REMEDIATE, "rollback", rollback_remediation
            return REMEDIATE, "uninstall", uninstall_remediation
    raise ReconcileError("StateError", f"Could not determine release state: {state.reason or state.status.value}")


def ignore_test_failures(request: Request) -> bool:
    default = bool((request.spec.get("test") or {}).get("ignoreFailures"))
    active = rem.active(request.spec, request.status)
    return active.must_ignore_test_failures(default) if active is not None else default


def _replace_remediated(request: Request) -> None:
    current = history.latest(request.history) or {}
    message = (f"Helm upgrade succeeded for release {history.full_release_name(current)} with chart "
               f"{history.versioned_chart_name(current)}")
    cond.delete(request.ctx.conditions, REMEDIATED)
    request.mark(RELEASED, True, "UpgradeSucceeded", message)


def summarize(request: Request) -> None:
    """Ready from Remediated, TestSuccess (when tests count) and Released, newest generation first."""
    conds = request.ctx.conditions
    test_spec = request.spec.get("test") or {}
    order = [REMEDIATED, RELEASED]
    if test_spec.get("enable") and not test_spec.get("ignoreFailures"):
        order = [REMEDIATED, TEST_SUCCESS, RELEASED]
    if not test_spec.get("enable"):
        cond.delete(conds, TEST_SUCCESS)
    candidates = [c for c in conds if c.get("type") in order]
    if not candidates:
        return
    candidates.sort(key=lambda c: (-int(c.get("observedGeneration") or 0), order.index(c["type"])))
    top = candidates[0]
    status: cond.Status = cond.FALSE
    if top["type"] != REMEDIATED:
        given = top["status"]
        status = cond.TRUE if given == cond.TRUE else cond.FALSE if given == cond.FALSE else cond.UNKNOWN
    if status == cond.TRUE:
        cond.delete(conds, cond.STALLED_CONDITION)
    cond.set_condition(conds, cond.READY_CONDITION, status, top["reason"], top["message"],
                       generation=request.ctx.generation)


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes or hours else "") + f"{secs}s"
    return text


async def check_drift(request: Request) -> None:
    """Compare the stored manifest with the cluster; correct (`enabled`) or report (`warn`) drift."""
    config = request.spec.get("driftDetection") or {}
    mode = str(config.get("mode") or "disabled")
    if mode not in ("enabled", "warn") or request.cluster is None:
        cond.delete(request.ctx.conditions, DRIFTED)
        return
    stored = await request.engine.call("get", request.target(60))
    current = history.latest(request.history) or {}
    name = history.full_release_name(current)
    changes = await drift.detect(request.cluster, str(stored.get("manifest") or ""), request.target_namespace,
                                 request.release_name, list(config.get("ignore") or []), FIELD_MANAGER)
    if not changes:
        request.mark(DRIFTED, False, "NoDriftDetected", f"No drift detected for release {name}")
        return
    summary = drift.summary(changes)
    message = f"Cluster state of release {name} has drifted from the desired state:\n{summary}"
    request.event(True, "DriftDetected", message, str(current.get("chartVersion", "")),
                  str(current.get("configDigest", "")))
    if mode == "warn":
        request.mark(DRIFTED, True, "DriftDetected", message)
        return
    errors = await drift.correct(request.cluster, changes, FIELD_MANAGER)
    if errors:
        failure = f"Failed to correct the drift of release {name}:\n" + "\n".join(errors)
        request.mark(DRIFTED, True, "DriftDetected", failure)
        request.event(True, "DriftCorrectionFailed", failure)
        return
    corrected = f"Cluster state of release {name} has been corrected:\n{summary}"
    request.mark(DRIFTED, False, "NoDriftDetected", corrected)
    request.event(False, "DriftCorrected", corrected, str(current.get("chartVersion", "")),
                  str(current.get("configDigest", "")))


# -- observing the storage --------------------------------------------------------------------------

async def observe(request: Request, action: str) -> dict[str, Any] | None:
    """Bring status.history in line with the storage after an action; the newest stored release."""
    stored = await request.engine.call("history", {**request.target(60), "max": 0})
    by_version = {release["version"]: release for release in stored}
    known = {int(s.get("version") or 0) for s in request.history}
    newest_known = max(known, default=0)
    for snapshot in request.history:
        release = by_version.get(int(snapshot.get("version") or 0))
        if release is not None and history.targets(snapshot, release):
            hooks = snapshot.get("testHooks")
            snapshot.update(history.from_release(release, oci_digest=snapshot.get("ociDigest", "")))
            if hooks is not None:
                snapshot["testHooks"] = hooks
    oci_digest = request.chart.oci_digest if action in ("install", "upgrade") else ""
    for version in sorted(v for v in by_version if v > newest_known):
        request.history.insert(0, history.from_release(by_version[version], action=action, oci_digest=oci_digest))
    history.sort_by_version(request.history)
    return by_version[max(by_version)] if by_version else None


def _trim(message: str) -> str:
    return message.strip()


# -- the actions ------------------------------------------------------------------------------------

def _wait(request: Request, action: str) -> dict[str, Any]:
    """How an action waits; the kinds `healthCheckExprs` judge when it waits with the poller (watcher)."""
    spec = request.spec
    config = spec.get(action) or {}
    strategy = ((spec.get("waitStrategy") or {}).get("name")) or "poller"
    wait = "hookOnly" if config.get("disableWait") else ("legacy" if strategy == "legacy" else "watcher")
    params: dict[str, Any] = {"wait": wait, "wait_for_jobs": not config.get("disableWaitForJobs")}
    if wait == "watcher" and request.health:
        params["health_checks"] = [{"group": group, "kind": kind} for group, kind in request.health.group_kinds()]
    return params


def _health(request: Request, params: dict[str, Any]) -> CustomHealthChecks | None:
    """The health checks that answer the engine's callbacks for an action with `params`."""
    return request.health if params.get("health_checks") else None


def _release_params(request: Request, action: str) -> dict[str, Any]:
    spec, config = request.spec, request.spec.get(action) or {}
    params = {**request.target(request.timeout(action)), **_wait(request, action),
              "chart": str(request.chart.directory), "values": request.values,
              "disable_hooks": bool(config.get("disableHooks")),
              "disable_openapi_validation": bool(config.get("disableOpenAPIValidation")),
              "skip_schema_validation": bool(config.get("disableSchemaValidation")),
              "take_ownership": not config.get("disableTakeOwnership"), "force_conflicts": True,
              "post_renderers": request.post_renderers,
              "post_render_strategy": spec.get("postRenderStrategy") or "combined"}
    if action == "install":
        crds = "Skip" if config.get("skipCRDs") else str(config.get("crds") or "Create")
        server_side = config.get("serverSideApply")
        params.update(crds=crds, create_namespace=bool(config.get("createNamespace")),
                      replace=bool(config.get("replace")),
                      server_side_apply="false" if server_side is False else "true")
    else:
        server_side = {"enabled": "true", "disabled": "false"}.get(str(config.get("serverSideApply") or "auto"),
                                                                   "auto")
        params.update(crds=str(config.get("crds") or "Skip"), max_history=int(spec.get("maxHistory", 5) or 0),
                      cleanup_on_fail=bool(config.get("cleanupOnFail")), force_replace=bool(config.get("force")),
                      reuse_values=bool(config.get("preserveValues")), server_side_apply=server_side)
    if request.chart.oci_digest:
        params["chart_version"] = request.chart.version
    return params


async def _release_action(request: Request, action: str) -> None:
    verb, chart = action, request.chart
    request.status["lastAttemptedReleaseAction"] = action
    if action == "install":
        request.history.clear()
        cond.delete(request.ctx.conditions, TEST_SUCCESS)
        cond.delete(request.ctx.conditions, REMEDIATED)
    before = history.latest(request.history)
    error: EngineError | None = None
    params = _release_params(request, action)
    started = time.monotonic()
    try:
        await request.engine.call(action, params, health=_health(request, params))
    except EngineError as err:
        error = err
    request.status["lastAttemptedReleaseActionDuration"] = format_go(int((time.monotonic() - started) * 1e9))
    latest = await observe(request, action)
    stored_new = latest is not None and (before is None or latest["version"] != before.get("version"))
    reason = "InstallFailed" if action == "install" else "UpgradeFailed"
    if error is not None:
        message = (f"Helm {verb} failed for release {request.target_namespace}/{request.release_name} with chart "
                   f"{chart.name}@{chart.version}: {_trim(error.message)}")
        request.status["failures"] = int(request.status.get("failures") or 0) + 1
        request.mark(RELEASED, False, reason, message)
        request.event(True, reason, message, chart.version, request.config_digest)
        if not stored_new:
            summarize(request)
            raise ReconcileError(reason, message)
        rem.for_action(request.spec, action).increment(request.status)
        summarize(request)
        return
    current = history.latest(request.history) or {}
    success = "InstallSucceeded" if action == "install" else "UpgradeSucceeded"
    message = (f"Helm {verb} succeeded for release {history.full_release_name(current)} with chart "
               f"{history.versioned_chart_name(current)}")
    request.mark(RELEASED, True, success, message)
    if action == "upgrade":
        cond.delete(request.ctx.conditions, REMEDIATED)
    test_spec = request.spec.get("test") or {}
    if test_spec.get("enable") and not history.has_been_tested(current):
        request.mark(TEST_SUCCESS, None, "AwaitingTests",
                     f"Helm release {history.full_release_name(current)} with chart "
                     f"{history.versioned_chart_name(current)} is awaiting tests")
    request.status["observedPostRenderersDigest"] = request.post_renderers_digest
    if request.common_metadata_digest:
        request.status["observedCommonMetadataDigest"] = request.common_metadata_digest
    else:
        request.status.pop("observedCommonMetadataDigest", None)
    request.event(False, success, message, current.get("chartVersion", ""), current.get("configDigest", ""))
    summarize(request)


async def install(request: Request) -> None:
    await _release_action(request, "install")


async def upgrade(request: Request) -> None:
    await _release_action(request, "upgrade")


async def test(request: Request) -> None:
    current = history.latest(request.history) or {}
    test_spec = request.spec.get("test") or {}
    filters: dict[str, list[str]] = {}
    for entry in test_spec.get("filters") or []:
        filters.setdefault("!name" if entry.get("exclude") else "name", []).append(str(entry.get("name")))
    error: EngineError | None = None
    tested: dict[str, Any] | None = None
    try:
        tested = await request.engine.call("test", {**request.target(request.timeout("test")), "filters": filters})
    except EngineError as err:
        error, tested = err, err.release
    if tested is not None and history.targets(current, tested):
        current["testHooks"] = history.test_hooks(tested)
    names = f"{history.full_release_name(current)} with chart {history.versioned_chart_name(current)}"
    if error is not None:
        message = f"Helm test failed for release {names}: {_trim(error.message)}"
        request.status["failures"] = int(request.status.get("failures") or 0) + 1
        request.mark(TEST_SUCCESS, False, "TestFailed", message)
        request.event(True, "TestFailed", message, current.get("chartVersion", ""), current.get("configDigest", ""))
        active = rem.active(request.spec, request.status)
        if active is not None and not active.must_ignore_test_failures(bool(test_spec.get("ignoreFailures"))):
            active.increment(request.status)
        summarize(request)
        if not history.has_been_tested(current):
            raise ReconcileError("TestFailed", message)
        return
    hooks = current.get("testHooks") or {}
    detail = f"{len(hooks)} test hooks completed successfully" if hooks else "no test hooks"
    message = f"Helm test succeeded for release {names}: {detail}"
    request.mark(TEST_SUCCESS, True, "TestSucceeded", message)
    request.event(False, "TestSucceeded", message, current.get("chartVersion", ""), current.get("configDigest", ""))
    summarize(request)


async def rollback_remediation(request: Request) -> None:
    active = rem.active(request.spec, request.status)
    ignore = active.must_ignore_test_failures(bool((request.spec.get("test") or {}).get("ignoreFailures"))) \
        if active else False
    target = history.previous(request.history, ignore) or {}
    config = request.spec.get("rollback") or {}
    server_side = {"enabled": "true", "disabled": "false"}.get(str(config.get("serverSideApply") or "auto"), "auto")
    params = {**request.target(request.timeout("rollback")), **_wait(request, "rollback"),
              "version": target.get("version"), "disable_hooks": bool(config.get("disableHooks")),
              "force_replace": bool(config.get("force")), "force_conflicts": True,
              "cleanup_on_fail": bool(config.get("cleanupOnFail")),
              "max_history": int(request.spec.get("maxHistory", 5) or 0), "server_side_apply": server_side}
    names = f"{history.full_release_name(target)} with chart {history.versioned_chart_name(target)}"
    await _remediate(request, "rollback", params, target, "Rollback",
                     f"Helm rollback to previous release {names} succeeded",
                     f"Helm rollback to previous release {names} failed")


async def uninstall_remediation(request: Request) -> None:
    current = history.latest(request.history) or {}
    names = f"{history.full_release_name(current)} with chart {history.versioned_chart_name(current)}"
    await _remediate(request, "uninstall", uninstall_params(request), current, "Uninstall",
                     f"Helm uninstall remediation for release {names} succeeded",
                     f"Helm uninstall remediation for release {names} failed")


async def _remediate(request: Request, op: str, params: dict[str, Any], subject: dict[str, Any], verb: str,
                     success: str, failure: str) -> None:
    """Run a remediation and record it: Remediated=True/False with `<verb>Succeeded|Failed` and its event."""
    error: EngineError | None = None
    try:
        await request.engine.call(op, params, health=_health(request, params))
    except EngineError as err:
        error = err
    await observe(request, op)
    version = str(subject.get("chartVersion", ""))
    if error is not None:
        message = f"{failure}: {_trim(error.message)}"
        request.status["failures"] = int(request.status.get("failures") or 0) + 1
        request.mark(REMEDIATED, False, f"{verb}Failed", message)
        request.event(True, f"{verb}Failed", message, version, request.config_digest)
    else:
        request.mark(REMEDIATED, True, f"{verb}Succeeded", success)
        request.event(False, f"{verb}Succeeded", success, version, str(subject.get("configDigest", "")))
    summarize(request)


def uninstall_params(request: Request) -> dict[str, Any]:
    config = request.spec.get("uninstall") or {}
    return {**request.target(request.timeout("uninstall")),
            "wait": "hookOnly" if config.get("disableWait") else "watcher",
            "disable_hooks": bool(config.get("disableHooks")), "keep_history": bool(config.get("keepHistory")),
            "deletion_propagation": str(config.get("deletionPropagation") or "background")}


async def unlock(request: Request) -> None:
    current = history.latest(request.history) or {}
    try:
        stale = str((await request.engine.call("get", request.target(60))).get("status"))
        unlocked = await request.engine.call("unlock", request.target(60))
    except EngineError as err:
        message = f"Unlock of Helm release {history.full_release_name(current)} failed: {_trim(err.message)}"
        request.status["failures"] = int(request.status.get("failures") or 0) + 1
        request.mark(RELEASED, False, "UnlockFailed", message)
        request.event(True, "UnlockFailed", message)
        raise ReconcileError("UnlockFailed", message) from err
    await observe(request, "unlock")
    message = (f"Unlocked Helm release {unlocked['namespace']}/{unlocked['name']}.v{unlocked['version']} with chart "
               f"{unlocked.get('chart_name')}@{unlocked.get('chart_version')} in {stale} state")
    request.mark(RELEASED, False, "PendingRelease", message)
    request.event(False, "PendingRelease", message)
