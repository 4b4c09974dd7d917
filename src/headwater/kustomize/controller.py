"""Wire the kustomize controller into a Manager: Kustomization informer and indexes, source informers.

Sources are watched too (read-only caches): a new artifact on a GitRepository, OCIRepository, Bucket or
ExternalArtifact enqueues the Kustomizations that use it at once (all four share the artifact contract:
`status.artifact` with url, digest and revision), and a Kustomization turning Ready enqueues its
dependants.
"""

from __future__ import annotations

from typing import Any

from headwater.kustomize.reconciler import API_VERSION, FIELD_MANAGER, KIND, KustomizationReconciler
from headwater.kustomize.sources import index_kustomizations, on_dependency_change, on_source_change
from headwater.runtime.controller import Controller
from headwater.runtime.informer import informer_for
from headwater.runtime.kube import KubeClient
from headwater.runtime.manager import Manager
from headwater.runtime.options import ControllerOptions
from headwater.runtime.recorder import EventRecorder

SOURCE_API = "source.toolkit.fluxcd.io/v1"
WATCHED_SOURCES = ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact")


async def setup(manager: Manager, kube: KubeClient, options: ControllerOptions, settings: dict[str, Any]) -> None:
    kustomizations = informer_for(kube, API_VERSION, KIND, options)
    index_kustomizations(kustomizations)
    sources = {kind: manager.add_informer(informer_for(kube, SOURCE_API, kind, options)) for kind in WATCHED_SOURCES}
    reconciler = KustomizationReconciler(
        kube, kustomizations, sources,
        no_cross_namespace_refs=options.no_cross_namespace_refs,
        no_remote_bases=bool(settings.get("no_remote_bases")),
        requeue_dependency=options.requeue_dependency,
        default_service_account=options.default_service_account,
        strict_substitution=options.feature_gates.get("StrictPostBuildSubstitutions", False),
        additive_cel_check=options.feature_gates.get("AdditiveCELDependencyCheck", False),
    )
    recorder = EventRecorder(kube, FIELD_MANAGER, events_addr=options.events_addr)
    controller = Controller("kustomization", kube, reconciler, kustomizations, options=options, recorder=recorder,
                            field_manager=FIELD_MANAGER)
    for kind, informer in sources.items():
        informer.add_handler(on_source_change(kind, kustomizations, controller.enqueue))
    kustomizations.add_handler(on_dependency_change(kustomizations, controller.enqueue))
    manager.add_controller(controller)
