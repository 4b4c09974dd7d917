"""Wire the Helm sources into the source controller: the HelmRepository and HelmChart controllers.

They share the source controller's storage and artifact server (one process serves every artifact). A
HelmChart is woken as soon as the HelmRepository or GitRepository it names stores a new artifact (the
index of the registry's `spec.sourceRef` reference), not at its next interval.
"""

from __future__ import annotations

from headwater.api.defs.source import GIT_REPOSITORY, HELM_CHART, HELM_REPOSITORY
from headwater.artifact.storage import Storage
from headwater.runtime.spec import SetupContext
from headwater.runtime.watches import artifact_changed, referenced_by
from headwater.source.helm.helmchart import HelmChartReconciler
from headwater.source.helm.helmrepository import HelmRepositoryReconciler
from headwater.source.helm.limits import HelmLimits
from headwater.source.spec import SPEC, SourceFlags

SOURCE_REF = HELM_CHART.reference_at("spec", "sourceRef")


def limits_of(flags: SourceFlags) -> HelmLimits:
    return HelmLimits(max_index_size=flags.helm_index_max_size, max_chart_size=flags.helm_chart_max_size,
                      max_chart_file_size=flags.helm_chart_file_max_size)


def setup_helm(ctx: SetupContext[SourceFlags], store: Storage) -> None:
    limits = limits_of(ctx.flags)
    options, cache = ctx.options, ctx.cache
    ctx.manager.new_controller("helmrepository", HelmRepositoryReconciler(ctx.kube, store, limits), options=options,
                               field_manager=SPEC.process_name)
    sources = {kind.kind: cache.informer_for(kind) for kind in (HELM_REPOSITORY, GIT_REPOSITORY)}
    ctx.manager.new_controller(
        "helmchart", HelmChartReconciler(ctx.kube, store, sources, limits), options=options,
        field_manager=SPEC.process_name,
        watches=[referenced_by(SOURCE_REF, kind.api_version, kind.kind, when=artifact_changed)
                 for kind in (HELM_REPOSITORY, GIT_REPOSITORY)],
    )
