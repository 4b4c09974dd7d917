"""Wire the helm controller into a Manager: one Helm engine process, the HelmRelease controller, watches.

A new artifact on a HelmChart, OCIRepository or ExternalArtifact a HelmRelease names (`spec.chartRef`),
or on the HelmChart it made from `spec.chart` (found by that chart's origin labels), enqueues the
HelmRelease at once; a HelmRelease turning Ready wakes those that depend on it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from headwater.api.defs.helm import HELM_RELEASE
from headwater.api.kinds import kind_named
from headwater.devcluster.helmtools import tools
from headwater.helm.chart import ChartCache
from headwater.helm.engine import HelmEngine
from headwater.helm.reconciler import ORIGIN_NAME, ORIGIN_NAMESPACE, HelmReleaseReconciler
from headwater.helm.spec import CHART_REF, DEPENDS_ON, SPEC, HelmFlags
from headwater.helm.target import kubeconfig_of
from headwater.kustomize.sources import dependency_changed
from headwater.runtime.informer import Informer, ObjectKey, WatchEvent
from headwater.runtime.kube.client import HttpKubeClient
from headwater.runtime.spec import SetupContext
from headwater.runtime.watches import artifact_changed, referenced_by, watches

ENGINE_NAME = "hw-helm-engine"


def engine_binary() -> Path:
    """`$HEADWATER_HELM_ENGINE`, else `hw-helm-engine` on PATH (the image), else `headwater dev build`'s."""
    configured = os.environ.get("HEADWATER_HELM_ENGINE")
    if configured:
        return Path(configured)
    on_path = shutil.which(ENGINE_NAME)
    return Path(on_path) if on_path else tools().engine


def chart_template_owner(event: WatchEvent, _: Informer) -> Iterable[ObjectKey]:
    labels = (event.obj.get("metadata") or {}).get("labels") or {}
    if labels.get(ORIGIN_NAME) and labels.get(ORIGIN_NAMESPACE):
        yield str(labels[ORIGIN_NAMESPACE]), str(labels[ORIGIN_NAME])


async def setup(ctx: SetupContext[HelmFlags]) -> None:
    options, cache = ctx.options, ctx.cache
    source_kinds = [kind_named(kind) for kind in CHART_REF.kinds]
    kubeconfig = kubeconfig_of(ctx.kube.config) if isinstance(ctx.kube, HttpKubeClient) else ""
    cache_root = Path(ctx.flags.chart_cache_path or tempfile.mkdtemp(prefix="headwater-helm-charts-"))
    reconciler = HelmReleaseReconciler(
        ctx.kube, HelmEngine(engine_binary()), cache.informer_for(HELM_RELEASE),
        {kind.kind: cache.informer_for(kind) for kind in source_kinds}, ChartCache(cache_root),
        kubeconfig=kubeconfig, field_manager=SPEC.process_name,
        no_cross_namespace_refs=options.no_cross_namespace_refs,
        default_service_account=options.default_service_account, requeue_dependency=options.requeue_dependency,
        qps=options.kube_api_qps, burst=options.kube_api_burst,
        additive_cel_check=options.feature_gates.get("AdditiveCELDependencyCheck", False))
    helm_chart = kind_named("HelmChart")
    ctx.manager.new_controller(
        "helmrelease", reconciler, options=options, field_manager=SPEC.process_name,
        watches=[
            *(referenced_by(CHART_REF, kind.api_version, kind.kind, when=artifact_changed) for kind in source_kinds),
            watches(helm_chart.api_version, helm_chart.kind, chart_template_owner, when=artifact_changed),
            referenced_by(DEPENDS_ON, HELM_RELEASE.api_version, HELM_RELEASE.kind, when=dependency_changed),
        ],
    )
