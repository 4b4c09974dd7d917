"""The helm controller's pure rules, as Flux's: release state, history, remediation, names, post-renderers."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from headwater.helm import history
from headwater.helm import remediation as rem
from headwater.helm.reconciler import inventory_of, post_renderer_steps, release_name_of
from headwater.helm.state import Desired, ReleaseStatus, determine

pytestmark = pytest.mark.unit

DESIRED = Desired("app", "1.0.0", "sha256:values")


def stored(version: int = 1, status: str = "deployed", **extra: Any) -> dict[str, Any]:
    return {"name": "web", "namespace": "apps", "version": version, "status": status, "chart_name": "app",
            "chart_version": "1.0.0", "digest": f"sha256:d{version}", "config_digest": "sha256:values", **extra}


def snap(version: int = 1, status: str = "deployed", **extra: Any) -> dict[str, Any]:
    return {"name": "web", "namespace": "apps", "version": version, "status": status, "chartName": "app",
            "chartVersion": "1.0.0", "digest": f"sha256:d{version}", "configDigest": "sha256:values", **extra}


STATES = [
    # (id, last stored release, spec, status, expected state, reason fragment)
    ("nothing stored", None, {}, {}, ReleaseStatus.ABSENT, "no release in storage"),
    ("a pending release is locked", stored(status="pending-upgrade"), {}, {"history": [snap()]},
     ReleaseStatus.LOCKED, "pending-upgrade"),
    ("locked wins over no history", stored(status="pending-install"), {}, {}, ReleaseStatus.LOCKED, ""),
    ("stored but no history: unmanaged", stored(), {}, {}, ReleaseStatus.UNMANAGED, "found existing release"),
    ("uninstalled and no history: absent", stored(status="uninstalled"), {}, {}, ReleaseStatus.ABSENT, "uninstalled"),
    ("a release we did not observe: unmanaged", stored(version=2), {}, {"history": [snap(1)]},
     ReleaseStatus.UNMANAGED, "not observed"),
    ("a changed digest: unmanaged", stored(digest="sha256:other"), {}, {"history": [snap()]},
     ReleaseStatus.UNMANAGED, "digest"),
    ("failed", stored(status="failed"), {}, {"history": [snap(status="failed")]}, ReleaseStatus.FAILED, ""),
    ("in sync", stored(), {}, {"history": [snap()]}, ReleaseStatus.IN_SYNC, ""),
    ("a new chart version", stored(chart_version="0.9.0"), {}, {"history": [snap()]}, ReleaseStatus.OUT_OF_SYNC,
     "chart changed"),
    ("new values", stored(), {}, {"history": [snap(configDigest="sha256:old")]}, ReleaseStatus.OUT_OF_SYNC,
     "values changed"),
    ("new post-renderers", stored(), {}, {"history": [snap()], "observedPostRenderersDigest": "sha256:old"},
     ReleaseStatus.OUT_OF_SYNC, "post-renderers"),
    ("tests enabled, not run", stored(), {"test": {"enable": True}}, {"history": [snap()]},
     ReleaseStatus.UNTESTED, ""),
    ("a failed test under an active remediation", stored(), {"test": {"enable": True}},
     {"history": [snap(testHooks={"t": {"phase": "Failed"}})], "lastAttemptedReleaseAction": "upgrade"},
     ReleaseStatus.FAILED, "test in failed phase"),
    ("a failed test ignored", stored(), {"test": {"enable": True, "ignoreFailures": True}},
     {"history": [snap(testHooks={"t": {"phase": "Failed"}})], "lastAttemptedReleaseAction": "upgrade"},
     ReleaseStatus.IN_SYNC, ""),
]


@pytest.mark.parametrize(("last", "spec", "status", "expected", "reason"),
                         [pytest.param(*case[1:], id=case[0]) for case in STATES])
def test_release_state(last: dict[str, Any] | None, spec: dict[str, Any], status: dict[str, Any],
                       expected: ReleaseStatus, reason: str) -> None:
    state = determine(last, spec, status, DESIRED)
    assert state.status is expected
    assert reason in state.reason


HISTORY = [snap(5, "failed"), snap(4, "superseded", testHooks={"t": {"phase": "Failed"}}), snap(3, "superseded"),
           snap(2, "superseded"), snap(1, "superseded")]


@pytest.mark.parametrize(("ignore_tests", "previous_version", "kept"), [
    pytest.param(False, 3, [5, 4, 3], id="a release with a failed test is skipped"),
    pytest.param(True, 4, [5, 4], id="unless test failures are ignored"),
])
def test_previous_and_truncate(ignore_tests: bool, previous_version: int, kept: list[int]) -> None:
    snapshots = [dict(s) for s in HISTORY]
    assert (history.previous(snapshots, ignore_tests) or {})["version"] == previous_version
    history.truncate(snapshots, ignore_tests)
    assert [s["version"] for s in snapshots] == kept


def test_truncate_keeps_everything_without_a_previous_success() -> None:
    snapshots = [snap(2, "failed"), snap(1, "failed")]
    history.truncate(snapshots, False)
    assert len(snapshots) == 2
    assert history.previous(snapshots, False) is None


@pytest.mark.parametrize(("spec", "action", "failures", "exhausted", "remediate_last", "strategy"), [
    pytest.param({}, "install", 0, False, False, "uninstall", id="install defaults: no retries"),
    pytest.param({}, "install", 1, True, False, "uninstall", id="one install failure exhausts zero retries"),
    pytest.param({"upgrade": {"remediation": {"retries": 2}}}, "upgrade", 2, False, True, "rollback",
                 id="upgrade with retries remediates its last failure by default"),
    pytest.param({"upgrade": {"remediation": {"retries": 2}}}, "upgrade", 3, True, True, "rollback",
                 id="past the retries"),
    pytest.param({"upgrade": {"remediation": {"retries": -1, "strategy": "uninstall"}}}, "upgrade", 99, False,
                 False, "uninstall", id="negative retries: for ever"),
    pytest.param({"install": {"remediation": {"retries": 1, "remediateLastFailure": True}}}, "install", 1,
                 False, True, "uninstall", id="explicit remediateLastFailure"),
])
def test_remediation(spec: dict[str, Any], action: str, failures: int, exhausted: bool, remediate_last: bool,
                     strategy: str) -> None:
    remediation = rem.for_action(spec, action)
    status = {f"{action}Failures": failures}
    assert remediation.retries_exhausted(status) is exhausted
    assert remediation.must_remediate_last_failure() is remediate_last
    assert remediation.strategy == strategy
    remediation.increment(status)
    assert status[f"{action}Failures"] == failures + 1


def release(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "apps"}, "spec": spec}


@pytest.mark.parametrize(("obj", "expected"), [
    pytest.param(release("web"), "web", id="the object's name"),
    pytest.param(release("web", targetNamespace="prod"), "prod-web", id="target namespace first"),
    pytest.param(release("web", releaseName="mine", targetNamespace="prod"), "mine", id="releaseName wins"),
    pytest.param(release("a" * 50, targetNamespace="prod"),
                 "prod-" + "a" * 35 + "-" + hashlib.sha256(("prod-" + "a" * 50).encode()).hexdigest()[:12],
                 id="over 53 characters: 40 and a hash"),
])
def test_release_name(obj: dict[str, Any], expected: str) -> None:
    name = release_name_of(obj)
    assert name == expected
    assert len(name) <= 53


def test_post_renderers_run_in_fluxs_order_with_origin_labels_last() -> None:
    obj = release("web", commonMetadata={"labels": {"team": "a"}},
                  postRenderers=[{"kustomize": {"images": [{"name": "nginx", "newTag": "2"}]}}])
    steps = post_renderer_steps(obj)
    assert steps == [{"metadata": {"labels": {"team": "a"}, "annotations": {}}},
                     {"kustomize": {"patches": [], "images": [{"name": "nginx", "newTag": "2"}]}},
                     {"metadata": {"labels": {"helm.toolkit.fluxcd.io/name": "web",
                                              "helm.toolkit.fluxcd.io/namespace": "apps"}}}]


def test_the_inventory_of_a_release_manifest() -> None:
    manifest = ("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n---\n"
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: other}\n")
    assert inventory_of(manifest, "apps")["entries"] == [
        {"id": "_r_rbac.authorization.k8s.io_ClusterRole", "v": "v1"},
        {"id": "apps_c__ConfigMap", "v": "v1"},
        {"id": "other_d_apps_Deployment", "v": "v1"},
    ]


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2026-12-02T18:44:00.123456789Z", "2026-12-02T18:44:00Z"), ("2026-12-02T18:44:00Z", "2026-12-02T18:44:00Z"),
    ("", ""),
])
def test_times_are_written_as_kubernetes_writes_them(stamp: str, expected: str) -> None:
    assert history.kube_time(stamp) == expected


@pytest.mark.parametrize(("spec", "status", "active", "interval"), [
    pytest.param({}, {"lastAttemptedReleaseAction": "install"}, "install", None, id="remediate on failure"),
    pytest.param({"install": {"strategy": {"name": "RetryOnFailure"}}}, {"lastAttemptedReleaseAction": "install"},
                 None, 300.0, id="retry on failure: no remediation, retried at 5m"),
    pytest.param({"upgrade": {"strategy": {"name": "RetryOnFailure", "retryInterval": "30s"}}},
                 {"lastAttemptedReleaseAction": "upgrade"}, None, 30.0, id="its retryInterval"),
    pytest.param({"upgrade": {"strategy": {"name": "RetryOnFailure"}}}, {"lastAttemptedReleaseAction": "install"},
                 "install", None, id="per action"),
])
def test_retry_on_failure(spec: dict[str, Any], status: dict[str, Any], active: str | None,
                          interval: float | None) -> None:
    remediation = rem.active(spec, status)
    assert (remediation.action if remediation else None) == active
    assert rem.retry_interval(spec, status) == interval
