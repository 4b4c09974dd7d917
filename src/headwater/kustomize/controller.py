"""Wire the kustomize controller into a Manager: the Kustomization controller and its declared watches.

Sources are read from the shared cache: a new artifact on any kind the registry allows in a
Kustomization's `spec.sourceRef` (GitRepository, OCIRepository, Bucket, ExternalArtifact: all share the
artifact contract, `status.artifact` with url, digest and revision) enqueues the Kustomizations naming
it at once, and a Kustomization turning Ready, or applying a new revision while Ready, enqueues those
that depend on it (`spec.dependsOn`). Flux re-checks waiting dependants on a timer; here the indexes of
those two reference fields find exactly the affected objects.

Builds run in the controller's private work area (`kustomize.workarea`), made at start, which also
removes what a killed predecessor left there.
"""

from __future__ import annotations

from headwater.api.defs.kustomize import KUSTOMIZATION
from headwater.api.kinds import kind_named
from headwater.kustomize.reconciler import FIELD_MANAGER, KustomizationReconciler
from headwater.kustomize.sources import dependency_changed
from headwater.kustomize.spec import DEPENDS_ON, SOURCE_REF, KustomizeFlags
from headwater.kustomize.workarea import WorkArea
from headwater.runtime.spec import SetupContext
from headwater.runtime.watches import artifact_changed, referenced_by


async def setup(ctx: SetupContext[KustomizeFlags]) -> None:
    options, cache = ctx.options, ctx.cache
    source_kinds = [kind_named(kind) for kind in SOURCE_REF.kinds]
    reconciler = KustomizationReconciler(
        ctx.kube, cache.informer_for(KUSTOMIZATION), {kind.kind: cache.informer_for(kind) for kind in source_kinds},
        no_cross_namespace_refs=options.no_cross_namespace_refs,
        no_remote_bases=ctx.flags.no_remote_bases,
        requeue_dependency=options.requeue_dependency,
        default_service_account=options.default_service_account,
        strict_substitution=options.feature_gates.get("StrictPostBuildSubstitutions", False),
        additive_cel_check=options.feature_gates.get("AdditiveCELDependencyCheck", False),
        kube_api_qps=options.kube_api_qps,  # clients for spec.kubeConfig clusters pace themselves too
        kube_api_burst=options.kube_api_burst,
        work=WorkArea().open(),
    )
    ctx.manager.new_controller(
        "kustomization", reconciler, options=options, field_manager=FIELD_MANAGER,
        watches=[
            *(referenced_by(SOURCE_REF, kind.api_version, kind.kind, when=artifact_changed) for kind in source_kinds),
            referenced_by(DEPENDS_ON, KUSTOMIZATION.api_version, KUSTOMIZATION.kind, when=dependency_changed),
        ],
    )
