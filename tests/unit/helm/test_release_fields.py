"""The HelmRelease fields Flux writes or reads beyond the release loop: digest tracking, the common-metadata
digest, health checks handed to the engine's wait, the engine's health callback answers, readyExpr."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from headwater.apply.cel_health import InvalidCELExpression, compile_health_checks
from headwater.helm import atomic
from headwater.helm.digest_tracking import MUTATE_ERROR, track
from headwater.helm.engine import HelmEngine
from headwater.helm.reconciler import HelmReleaseReconciler, health_checks_of
from headwater.helm.state import Desired, ReleaseStatus, determine
from headwater.runtime.result import ReconcileError, TerminalError, WaitingError

pytestmark = pytest.mark.unit

DIGEST = "sha256:0cc9a8446c95009ef382f5eade883a67c257f77d50f84e78ecef2aac9428d1e5"


@pytest.mark.parametrize(("version", "kind", "revision", "expected_version", "expected_digest"), [
    pytest.param("6.6.1", "OCIRepository", f"6.6.1@{DIGEST}", "6.6.1+0cc9a8446c95", DIGEST, id="tag@digest"),
    pytest.param("6.6.1", "OCIRepository", DIGEST, "6.6.1+0cc9a8446c95", DIGEST, id="digest only"),
    pytest.param("v1.2", "OCIRepository", f"1.2.0@{DIGEST}", "1.2.0+0cc9a8446c95", DIGEST,
                 id="the version is normalised and compared as semver"),
    pytest.param("1.0.0-rc.1+build.7", "OCIRepository", f"1.0.0-rc.1@{DIGEST}", "1.0.0-rc.1+0cc9a8446c95", DIGEST,
                 id="build metadata is replaced, the prerelease kept"),
    pytest.param("6.6.1", "HelmChart", "6.6.1", "6.6.1", "", id="other sources are not tracked"),
    pytest.param("6.6.1", "ExternalArtifact", DIGEST, "6.6.1", "", id="external artifacts are not tracked"),
])
def test_oci_charts_carry_their_digest(version: str, kind: str, revision: str, expected_version: str,
                                       expected_digest: str) -> None:
    tracked = track(version, kind, revision)
    assert (tracked.version, tracked.oci_digest) == (expected_version, expected_digest)


@pytest.mark.parametrize(("version", "revision", "message"), [
    pytest.param("6.6.1", f"6.6.2@{DIGEST}", "artifact revision 6.6.2 does not match chart version 6.6.1",
                 id="another tag"),
    pytest.param("6.6.1", f"latest@{DIGEST}", "failed parsing artifact revision latest", id="a tag that is no semver"),
    pytest.param("6.6.1", "sha256:abc", "invalid artifact revision sha256:abc", id="a short digest"),
    pytest.param("6.6.1", "0cc9a8446c95009ef382", "invalid artifact revision 0cc9a8446c95009ef382",
                 id="no algorithm"),
    pytest.param("next", DIGEST, "the chart version next is not semver", id="a chart version that is no semver"),
])
def test_a_revision_that_does_not_fit_is_a_chart_mutate_error(version: str, revision: str, message: str) -> None:
    with pytest.raises(ReconcileError) as raised:
        track(version, "OCIRepository", revision)
    assert (raised.value.reason, raised.value.message) == (MUTATE_ERROR, message)


STORED = {"name": "web", "namespace": "apps", "version": 1, "status": "deployed", "chart_name": "app",
          "chart_version": "1.0.0", "digest": "sha256:d1", "config_digest": "sha256:values"}
SNAPSHOT = {"name": "web", "namespace": "apps", "version": 1, "status": "deployed", "chartName": "app",
            "chartVersion": "1.0.0", "digest": "sha256:d1", "configDigest": "sha256:values"}


@pytest.mark.parametrize(("observed", "desired", "expected"), [
    pytest.param(None, "", ReleaseStatus.IN_SYNC, id="no common metadata, none observed"),
    pytest.param(None, "sha256:new", ReleaseStatus.OUT_OF_SYNC, id="common metadata added"),
    pytest.param("sha256:old", "sha256:new", ReleaseStatus.OUT_OF_SYNC, id="common metadata changed"),
    pytest.param("sha256:old", "", ReleaseStatus.OUT_OF_SYNC, id="common metadata removed"),
    pytest.param("sha256:same", "sha256:same", ReleaseStatus.IN_SYNC, id="unchanged"),
])
def test_common_metadata_changes_upgrade_the_release(observed: str | None, desired: str,
                                                     expected: ReleaseStatus) -> None:
    status: dict[str, Any] = {"history": [dict(SNAPSHOT)]}
    if observed is not None:
        status["observedCommonMetadataDigest"] = observed
    state = determine(dict(STORED), {}, status, Desired("app", "1.0.0", "sha256:values", "", desired))
    assert state.status is expected
    if expected is ReleaseStatus.OUT_OF_SYNC:
        assert state.reason == "release common metadata changed"


DATABASE = {"apiVersion": "example.com/v1", "kind": "Database",
            "current": "status.phase == 'Ready'", "failed": "status.phase == 'Failed'"}
CACHES = {"apiVersion": "cache.example.com/v1", "current": "true"}


@pytest.mark.parametrize(("spec", "action", "wait", "kinds"), [
    pytest.param({"healthCheckExprs": [DATABASE, CACHES]}, "install", "watcher",
                 [{"group": "example.com", "kind": "Database"}, {"group": "cache.example.com", "kind": ""}],
                 id="the poller judges the covered kinds"),
    pytest.param({"healthCheckExprs": [DATABASE], "waitStrategy": {"name": "legacy"}}, "upgrade", "legacy", None,
                 id="not with the legacy wait"),
    pytest.param({"healthCheckExprs": [DATABASE], "upgrade": {"disableWait": True}}, "upgrade", "hookOnly", None,
                 id="not when waiting is disabled"),
    pytest.param({"healthCheckExprs": [DATABASE]}, "rollback", "watcher",
                 [{"group": "example.com", "kind": "Database"}], id="a rollback waits the same way"),
    pytest.param({}, "install", "watcher", None, id="no expressions"),
])
def test_the_wait_hands_health_checks_to_the_engine(spec: dict[str, Any], action: str, wait: str,
                                                    kinds: list[dict[str, str]] | None) -> None:
    request = cast(atomic.Request, SimpleNamespace(spec=spec, health=health_checks_of(spec)))
    params = atomic._wait(request, action)
    assert params["wait"] == wait
    assert params.get("health_checks") == kinds


def test_a_bad_expression_stalls_before_anything_is_released() -> None:
    with pytest.raises(InvalidCELExpression) as raised:
        health_checks_of({"healthCheckExprs": [{**DATABASE, "failed": "status.phase =="}]})
    assert isinstance(raised.value, TerminalError)
    assert raised.value.reason == "InvalidCELExpression"


def _object(phase: str | None, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "example.com/v1", "kind": "Database",
                            "metadata": {"name": "orders", "namespace": "apps", "generation": 1}}
    if phase is not None:
        body["status"] = {"phase": phase, **status}
    return body


@pytest.mark.parametrize(("request_id", "obj", "status", "message"), [
    pytest.param(7, _object("Ready"), "Current", "", id="current"),
    pytest.param(7, _object("Failed"), "Failed", "", id="failed"),
    pytest.param(7, _object("Provisioning"), "InProgress", "", id="none true: in progress"),
    pytest.param(7, _object("Ready", observedGeneration=0), "InProgress", "", id="a stale generation"),
    pytest.param(7, _object(None), "Unknown", "undeclared reference to 'status'",
                 id="a field not there yet"),
    pytest.param(8, _object("Ready"), "Unknown", "no health check covers the object", id="another request"),
    pytest.param(7, {**_object("Ready"), "kind": "Table"}, "Unknown", "no health check covers the object",
                 id="a kind not covered"),
])
def test_the_engine_s_health_callbacks_are_answered(request_id: int, obj: dict[str, Any], status: str,
                                                    message: str) -> None:
    engine = HelmEngine(Path("/nonexistent/hw-helm-engine"))
    engine._health[7] = compile_health_checks([DATABASE])
    reply = engine.health_reply({"id": 3, "request": request_id, "object": obj})
    assert (reply["id"], reply["status"]) == (3, status)
    assert message in reply["message"]


def _release(name: str, *, ready: bool = True, version: str = "1.0.0", generation: int = 1,
             observed: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "apps", "generation": generation},
            "spec": {"values": {"app": {"version": version}}},
            "status": {"observedGeneration": observed,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


SAME_VERSION = "dep.spec.values.app.version == self.spec.values.app.version"


@pytest.mark.parametrize(("dependency", "ready_expr", "additive", "waits"), [
    pytest.param(_release("backend"), "", False, "", id="ready"),
    pytest.param(_release("backend", ready=False), "", False, "dependency 'apps/backend' is not ready",
                 id="not ready"),
    pytest.param(_release("backend", generation=2), "", False, "dependency 'apps/backend' is not ready",
                 id="not ready at its latest generation"),
    pytest.param(_release("backend", ready=False), SAME_VERSION, False, "", id="readyExpr replaces Ready"),
    pytest.param(_release("backend", version="0.9.0"), SAME_VERSION, False,
                 "dependency 'apps/backend' is not ready (readyExpr)", id="readyExpr false"),
    pytest.param(_release("backend", ready=False), SAME_VERSION, True,
                 "dependency 'apps/backend' is not ready (readyExpr)", id="additive: readyExpr and Ready"),
    pytest.param(_release("backend"), "dep.status.missing == 1", False,
                 "dependency 'apps/backend' is not ready (readyExpr)", id="an evaluation error is not ready"),
])
def test_dependencies(dependency: dict[str, Any], ready_expr: str, additive: bool, waits: str) -> None:
    releases = {("apps", "backend"): dependency}
    checker = SimpleNamespace(releases=releases, requeue_dependency=5.0, additive_cel_check=additive)
    frontend = _release("frontend")
    frontend["spec"]["dependsOn"] = [{"name": "backend", "readyExpr": ready_expr}]
    if not waits:
        HelmReleaseReconciler._check_dependencies(cast(HelmReleaseReconciler, checker), frontend)
        return
    with pytest.raises(WaitingError) as raised:
        HelmReleaseReconciler._check_dependencies(cast(HelmReleaseReconciler, checker), frontend)
    assert (raised.value.reason, raised.value.message) == ("DependencyNotReady", waits)


def test_a_ready_expr_that_does_not_compile_stalls() -> None:
    checker = SimpleNamespace(releases={("apps", "backend"): _release("backend")}, requeue_dependency=5.0,
                              additive_cel_check=False)
    frontend = _release("frontend")
    frontend["spec"]["dependsOn"] = [{"name": "backend", "readyExpr": "dep.status =="}]
    with pytest.raises(TerminalError) as raised:
        HelmReleaseReconciler._check_dependencies(cast(HelmReleaseReconciler, checker), frontend)
    assert raised.value.reason == "InvalidCELExpression"


@pytest.mark.parametrize(("history", "revision", "expected"), [
    pytest.param([{"chartVersion": "6.6.1+0cc9a8446c95", "appVersion": "6.6.1", "ociDigest": DIGEST}],
                 "6.6.1+0cc9a8446c95", ("6.6.1", DIGEST), id="the release an event is about"),
    pytest.param([], "6.6.2+0cc9a8446c95", ("6.6.2", DIGEST), id="the chart being released"),
    pytest.param([{"chartVersion": "6.6.0", "appVersion": "6.6.0"}], "6.6.0", ("6.6.0", ""),
                 id="no OCI digest"),
    pytest.param([], "1.0.0", ("", ""), id="a version this reconcile does not know"),
])
def test_events_are_annotated_with_the_app_version_and_oci_digest(history: list[dict[str, Any]], revision: str,
                                                                  expected: tuple[str, str]) -> None:
    chart = SimpleNamespace(version="6.6.2+0cc9a8446c95", app_version="6.6.2", oci_digest=DIGEST)
    request = cast(atomic.Request, SimpleNamespace(history=history, chart=chart))
    assert atomic.Request._chart_facts(request, revision) == expected


class _Exploding:
    def read(self, obj: Any) -> Any:
        raise RecursionError("too deep")


@pytest.mark.parametrize(("reader", "callback"), [
    pytest.param(_Exploding(), {"id": 4, "request": 9, "object": _object("Ready")}, id="a reader that fails"),
    pytest.param(None, {"id": 4, "request": "9", "object": _object("Ready")}, id="a request id that is no number"),
    pytest.param(None, {"id": 4, "request": 9, "object": ["not", "an", "object"]}, id="an object that is no mapping"),
])
def test_a_callback_that_cannot_be_judged_is_unknown(reader: Any, callback: dict[str, Any]) -> None:
    engine = HelmEngine(Path("/nonexistent/hw-helm-engine"))
    engine._health[9] = reader or compile_health_checks([DATABASE])
    reply = engine.health_reply(callback)
    assert (reply["id"], reply["status"]) == (4, "Unknown")
