"""Kustomization reconcile outcomes as a table: objects in → conditions, status, events, requeue out.

Each case seeds the fake apiserver (the source with a real artifact, dependencies, Secrets, hooks
standing in for other controllers), runs the kustomize controller's real reconcile of `apps/app` once
(and again after each step in `then`), and compares the last outcome and the objects left in the
cluster. Defaults: `interval: 10m` (a success requeues after 600 s), `retryInterval: 2m` (a failure
after 120 s), `--requeue-dependency` 30 s, `prune: true`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from headwater.runtime.kube import Forbidden, Invalid
from headwater.testing.fakekube import FakeKube
from tests.unit.reconcile.artifacts import Shelf, revision_of
from tests.unit.reconcile.expect import ABSENT, Expect, at, compare, stalled
from tests.unit.reconcile.harness import KS_API, NAMESPACE, NONE, SOURCE_API, after, harness_options, rig_for
from tests.unit.reconcile.objects import (
    OWNER_LABELS,
    applied,
    config_map,
    config_map_yaml,
    deployment_status,
    deployment_yaml,
    git_repository,
    kustomization,
)
from tests.unit.reconcile.steps import Again, CommonStep, Delete, Patch, take_common

pytestmark = pytest.mark.unit
Obj = dict[str, Any]

FILES = {"settings.yaml": config_map_yaml(), "web.yaml": deployment_yaml()}
REV = revision_of(FILES)
WEB_ONLY = {"web.yaml": deployment_yaml()}
BAD_BUILD = {"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                   "resources: [missing.yaml]\n"}
TYPED = {"web.yaml": deployment_yaml(replicas="${REPLICAS}")}
INVENTORY = [{"id": "apps_settings__ConfigMap", "v": "v1"}, {"id": "apps_web_apps_Deployment", "v": "v1"}]
OTHER_REV = "main@sha1:" + "0" * 40

READY = {"Ready": ("True", "ReconciliationSucceeded"), "Reconciling": ABSENT, "Stalled": ABSENT}
WAITING_SOURCE = {"Ready": ("False", "ArtifactFailed"), "Reconciling": ("True", "Progressing"), "Stalled": ABSENT}
WAITING_DEPENDENCY = {"Ready": ("False", "DependencyNotReady"), "Reconciling": ("True", "Progressing")}
RETRYING_BUILD = {"Ready": ("False", "BuildFailed"), "Reconciling": ("True", "ProgressingWithRetry")}
APPLY_FAILED = {"Ready": ("False", "ReconciliationFailed"), "Reconciling": ("True", "ProgressingWithRetry")}
Cluster = Mapping[str, Mapping[str, Any] | None]  # "Kind/name" -> expected fields, or None: absent
KEPT: Cluster = {"ConfigMap/settings": {}, "Deployment/web": {}}
DELETED: Cluster = {"ConfigMap/settings": None, "Deployment/web": None}
SERVICE_ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "tenant", "namespace": NAMESPACE}}
KINDS = {"ConfigMap": "v1", "Deployment": "apps/v1", "Secret": "v1"}


# -- steps between runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Publish:
    """The source moves to a new artifact with these files."""

    files: dict[str, str]


Step = Publish | CommonStep


async def take(step: Step, fake: FakeKube, shelf: Shelf) -> None:
    if isinstance(step, Publish):
        source = fake.server.get_object(SOURCE_API, "GitRepository", "repo", NAMESPACE)
        assert source is not None
        source["status"]["artifact"] = shelf.publish(step.files)
        fake.server.put(source)
    else:
        await take_common(step, fake, KS_API, "Kustomization", "app")


# -- the table --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    expect: Expect
    spec: Mapping[str, Any] = field(default_factory=dict)  # merged into the Kustomization's spec
    annotations: Mapping[str, str] = field(default_factory=dict)
    files: dict[str, str] | None = field(default_factory=lambda: FILES)  # None: the source has no artifact
    source_namespace: str | None = NAMESPACE  # None: there is no source
    objects: tuple[Obj, ...] = ()  # seeded as they are (dependencies, Secrets, ConfigMaps)
    flags: Mapping[str, Any] = field(default_factory=dict)  # controller options
    hooks: Mapping[str, Any] = field(default_factory=dict)  # kind -> status hook (another controller)
    faults: tuple[tuple[str, BaseException, Mapping[str, Any]], ...] = ()  # (verb, error, match)
    then: tuple[Step, ...] = ()
    cluster: Cluster = field(default_factory=dict)


def dependency(**status_or_spec: Any) -> Obj:
    status = status_or_spec.pop("status", None)
    return kustomization("base", status=status, **status_or_spec)


CASES: list[Case] = [
    # -- ready ------------------------------------------------------------------------------------
    Case("ready: the build is applied, inventory and revisions recorded", Expect(
        conditions=READY, message=f"Applied revision: {REV}", events=(("Normal", "ReconciliationSucceeded"),),
        event_text="ConfigMap/apps/settings created", requeue=after(600),
        fields={"status.lastAppliedRevision": REV, "status.lastAttemptedRevision": REV,
                "status.observedGeneration": 1, "status.inventory.entries": INVENTORY}),
        cluster={"ConfigMap/settings": {"metadata.labels": OWNER_LABELS, "data": {"a": "1"}},
                 "Deployment/web": {"spec.replicas": 1}}),
    Case("the finalizer is added on the first reconcile", Expect(
        conditions=READY, fields={"metadata.finalizers": ["finalizers.fluxcd.io"]})),
    Case("an unchanged second run writes no status and records no event", Expect(
        conditions=READY, events=(), status_writes=0, requeue=after(600)), then=(Again(),)),
    Case("a new generation is applied and observed", Expect(
        conditions=READY, fields={"status.observedGeneration": 2, "status.lastAppliedRevision": REV}),
        then=(Patch({"spec": {"retryInterval": "3m"}}),)),
    Case("a new source revision is applied", Expect(
        conditions=READY, fields={"status.lastAppliedRevision": revision_of(WEB_ONLY)}, requeue=after(600)),
        then=(Publish(WEB_ONLY),)),
    Case("a source in another namespace is allowed by default", Expect(conditions=READY, requeue=after(600)),
         spec={"sourceRef": {"kind": "GitRepository", "name": "repo", "namespace": "other"}},
         source_namespace="other"),
    # -- the source -------------------------------------------------------------------------------
    Case("source not found: wait at the retry interval", Expect(
        conditions=WAITING_SOURCE, message="Source 'GitRepository/apps/repo' not found", events=(),
        requeue=after(120)), source_namespace=None),
    Case("source without artifact: wait", Expect(
        conditions=WAITING_SOURCE, message="Source artifact not found for GitRepository/apps/repo", events=(),
        requeue=after(120)), files=None),
    Case("an unsupported sourceRef kind stalls", Expect(
        conditions=stalled("ArtifactFailed"), message="unsupported source kind 'Widget'",
        events=(("Warning", "ArtifactFailed"),), requeue=NONE, fields={"status.observedGeneration": 1}),
        spec={"sourceRef": {"kind": "Widget", "name": "repo"}}),
    Case("a cross-namespace source is denied with --no-cross-namespace-refs", Expect(
        conditions=stalled("AccessDenied"), message="cross-namespace references are not allowed",
        events=(("Warning", "AccessDenied"),), requeue=NONE),
        spec={"sourceRef": {"kind": "GitRepository", "name": "repo", "namespace": "other"}},
        source_namespace="other", flags={"no_cross_namespace_refs": True}),
    # -- dependencies -----------------------------------------------------------------------------
    Case("dependency not found: wait --requeue-dependency", Expect(
        conditions=WAITING_DEPENDENCY, message="dependency 'apps/base' not found", events=(), requeue=after(30)),
        spec={"dependsOn": [{"name": "base"}]}),
    Case("dependency not ready", Expect(
        conditions=WAITING_DEPENDENCY, message="dependency 'apps/base' is not ready", requeue=after(30)),
        spec={"dependsOn": [{"name": "base"}]}, objects=(dependency(status=applied(REV, ready=False)),)),
    Case("dependency ready at another revision of the same source", Expect(
        conditions=WAITING_DEPENDENCY, message=f"it has not applied revision '{REV}' yet", requeue=after(30)),
        spec={"dependsOn": [{"name": "base"}]}, objects=(dependency(status=applied(OTHER_REV)),)),
    Case("dependency ready at our revision", Expect(conditions=READY, requeue=after(600)),
         spec={"dependsOn": [{"name": "base"}]}, objects=(dependency(status=applied(REV)),)),
    Case("a dependency cycle is reported, not waited on forever", Expect(
        conditions=WAITING_DEPENDENCY, message="circular dependency: apps/app -> apps/base -> apps/app",
        requeue=after(30)),
        spec={"dependsOn": [{"name": "base"}]},
        objects=(dependency(dependsOn=[{"name": "app"}], status=applied(REV)),)),
    Case("readyExpr true replaces the built-in check", Expect(conditions=READY),
         spec={"dependsOn": [{"name": "base", "readyExpr": "dep.metadata.name == 'base'"}]},
         objects=(dependency(status=applied(REV, ready=False)),)),
    Case("readyExpr false waits", Expect(
        conditions=WAITING_DEPENDENCY, message="(readyExpr)", requeue=after(30)),
        spec={"dependsOn": [{"name": "base", "readyExpr": "dep.status.lastAppliedRevision == 'x'"}]},
        objects=(dependency(status=applied(REV)),)),
    Case("a readyExpr that does not parse stalls", Expect(conditions=stalled("InvalidCELExpression"), requeue=NONE),
         spec={"dependsOn": [{"name": "base", "readyExpr": "dep.status ==== ("}]},
         objects=(dependency(status=applied(REV)),)),
    # -- suspend and requests ---------------------------------------------------------------------
    Case("suspended: nothing is done, nothing recorded", Expect(
        reconciled=False, requeue=NONE, events=(), fields={"status": None, "metadata.finalizers": None}),
        spec={"suspend": True}, cluster={"ConfigMap/settings": None}),
    Case("requestedAt is echoed to lastHandledReconcileAt", Expect(
        conditions=READY, fields={"status.lastHandledReconcileAt": "token-1"}),
        annotations={"reconcile.fluxcd.io/requestedAt": "token-1"}),
    Case("requestedAt is echoed on a failure too", Expect(
        conditions=WAITING_SOURCE, fields={"status.lastHandledReconcileAt": "token-2"}),
        annotations={"reconcile.fluxcd.io/requestedAt": "token-2"}, source_namespace=None),
    # -- pruning ----------------------------------------------------------------------------------
    Case("an object removed from the source is pruned", Expect(
        conditions=READY, event_text="ConfigMap/apps/settings deleted",
        fields={"status.inventory.entries": [{"id": "apps_web_apps_Deployment", "v": "v1"}]}),
        then=(Publish(WEB_ONLY),), cluster={"ConfigMap/settings": None, "Deployment/web": {}}),
    Case("prune: false keeps an object removed from the source", Expect(conditions=READY),
         spec={"prune": False}, then=(Publish(WEB_ONLY),), cluster=KEPT),
    # -- build ------------------------------------------------------------------------------------
    Case("a kustomization that does not build: retry at retryInterval", Expect(
        conditions=RETRYING_BUILD, message="missing.yaml", events=(("Warning", "BuildFailed"),),
        requeue=after(120), fields={"status.lastAttemptedRevision": revision_of(BAD_BUILD),
                                    "status.lastAppliedRevision": None}),
        files=BAD_BUILD),
    Case("a retried failure still reads Ready=False, not the progress shown while it ran", Expect(
        conditions=RETRYING_BUILD, message="missing.yaml", requeue=after(120)), files=BAD_BUILD, then=(Again(),)),
    Case("without retryInterval a failure retries at the interval", Expect(
        conditions=RETRYING_BUILD, requeue=after(600)), files=BAD_BUILD, spec={"retryInterval": None}),
    Case("the decryption Secret is missing", Expect(
        conditions=RETRYING_BUILD, message="decryption secret 'apps/sops-keys' not found", requeue=after(120)),
        spec={"decryption": {"provider": "sops", "secretRef": {"name": "sops-keys"}}}),
    Case("postBuild.substituteFrom a missing ConfigMap fails", Expect(
        conditions=RETRYING_BUILD, message="substitute from 'ConfigMap/vars' error", requeue=after(120)),
        spec={"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}},
        cluster={"ConfigMap/settings": None}),
    Case("postBuild.substituteFrom a missing optional ConfigMap is fine", Expect(conditions=READY),
         spec={"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "vars", "optional": True}]}}),
    Case("substituted values take the schema's type (replicas is an integer)", Expect(conditions=READY),
         files=TYPED, spec={"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}},
         objects=(config_map("vars", REPLICAS="3"),), cluster={"Deployment/web": {"spec.replicas": 3}}),
    # -- apply ------------------------------------------------------------------------------------
    Case("an apply the apiserver refuses: retry at retryInterval", Expect(
        conditions=APPLY_FAILED, message="ConfigMap/apps/settings apply failed",
        events=(("Warning", "ReconciliationFailed"),), requeue=after(120)),
        faults=(("apply", Invalid(422, "Invalid", "data: Invalid value"), {"kind": "ConfigMap", "dry_run": False}),)),
    Case("the service account may not write: the apply fails as that account", Expect(
        conditions=APPLY_FAILED, message="forbidden for the tenant", requeue=after(120)),
        spec={"serviceAccountName": "tenant"},
        faults=(("apply", Forbidden(403, "Forbidden", "forbidden for the tenant"),
                 {"user": "system:serviceaccount:apps:tenant"}),),
        cluster={"ConfigMap/settings": None}),
    Case("a serviceAccountName no ServiceAccount can have is refused before any request", Expect(
        conditions=APPLY_FAILED, message='invalid spec.serviceAccountName "tenant\\nImpersonate-Group: x"',
        requeue=after(120)),
        spec={"serviceAccountName": "tenant\nImpersonate-Group: x"}, cluster={"ConfigMap/settings": None}),
    Case("a secret-less kubeConfig (configMapRef) is refused, never applied to this cluster", Expect(
        conditions=APPLY_FAILED, message="spec.kubeConfig.configMapRef", requeue=after(120)),
        spec={"kubeConfig": {"configMapRef": {"name": "cluster"}}}, cluster={"ConfigMap/settings": None}),
    Case("healthCheckExprs that do not compile stall before anything is applied", Expect(
        conditions=stalled("InvalidCELExpression"), requeue=NONE),
        spec={"healthCheckExprs": [{"apiVersion": "apps/v1", "kind": "Deployment", "current": "status ==== ("}]},
        cluster={"ConfigMap/settings": None}),
    # -- health -----------------------------------------------------------------------------------
    Case("wait: true and everything rolls out: Healthy", Expect(
        conditions={**READY, "Healthy": ("True", "Succeeded")}, event_text="Health check passed",
        events=(("Normal", "ReconciliationSucceeded"), ("Normal", "ReconciliationSucceeded"))),
        spec={"wait": True}, hooks={"Deployment": deployment_status(ready=True)}),
    Case("a health check that fails: retry at retryInterval", Expect(
        conditions={"Ready": ("False", "HealthCheckFailed"), "Healthy": ("False", "HealthCheckFailed")},
        message="Deployment/apps/web", events=(("Normal", "ReconciliationSucceeded"), ("Warning", "HealthCheckFailed")),
        requeue=after(120), fields={"status.lastAppliedRevision": None}),
        spec={"healthChecks": [{"kind": "Deployment", "name": "web", "namespace": NAMESPACE}]},
        hooks={"Deployment": deployment_status(ready=False)}),
    # -- deletion ---------------------------------------------------------------------------------
    Case("deletion with prune: true deletes what was applied (MirrorPrune)", Expect(gone=True),
         then=(Delete(),), cluster=DELETED),
    Case("deletion with prune: false keeps it (MirrorPrune)", Expect(gone=True),
         spec={"prune": False}, then=(Delete(),), cluster=KEPT),
    Case("deletionPolicy Delete deletes even with prune: false", Expect(gone=True),
         spec={"prune": False, "deletionPolicy": "Delete"}, then=(Delete(),), cluster=DELETED),
    Case("deletionPolicy Orphan keeps even with prune: true", Expect(gone=True),
         spec={"deletionPolicy": "Orphan"}, then=(Delete(),), cluster=KEPT),
    Case("deletion prunes as the service account when it exists", Expect(gone=True),
         spec={"serviceAccountName": "tenant"}, objects=(SERVICE_ACCOUNT,), then=(Delete(),), cluster=DELETED),
    Case("deletion without the service account to impersonate keeps what it applied, unblocked (Flux)",
         Expect(gone=True), spec={"serviceAccountName": "tenant"}, then=(Delete(),), cluster=KEPT),
    Case("deleting a suspended Kustomization keeps what it applied", Expect(gone=True),
         then=(Patch({"spec": {"suspend": True}}), Delete()), cluster=KEPT),
]


async def run_case(case: Case, fake: FakeKube, shelf: Shelf) -> Any:
    if case.source_namespace is not None:
        artifact = shelf.publish(case.files) if case.files is not None else None
        fake.server.put(git_repository(namespace=case.source_namespace, artifact=artifact))
    for obj in case.objects:
        fake.server.put(obj)
    for kind, hook in case.hooks.items():
        fake.server.status_hook(KINDS[kind], kind, hook)
    spec = {k: v for k, v in case.spec.items() if v is not None}
    ks = kustomization("app", annotations=dict(case.annotations), **spec)
    for key in [k for k, v in case.spec.items() if v is None]:
        ks["spec"].pop(key, None)
    fake.server.put(ks)
    for verb, error, match in case.faults:
        fake.server.fail(verb, error, times=None, **match)
    async with rig_for("kustomize", fake, options=harness_options(**case.flags)) as rig:
        outcome = await rig.reconcile("app")
        for step in case.then:
            await take(step, fake, shelf)
            outcome = await rig.reconcile("app")
    return outcome


def cluster_state(fake: FakeKube, wanted: Cluster) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ref, fields in wanted.items():
        kind, name = ref.split("/")
        obj = fake.server.get_object(KINDS[kind], kind, name, NAMESPACE)
        found[ref] = None if obj is None else {path: at(obj, path) for path in fields or {}}
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_kustomization_reconcile(case: Case, fake: FakeKube, shelf: Shelf) -> None:
    outcome = await run_case(case, fake, shelf)
    found, expected = compare(outcome, case.expect)
    found["cluster"], expected["cluster"] = cluster_state(fake, case.cluster), dict(case.cluster)
    assert found == expected
