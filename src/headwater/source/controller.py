"""Wire the source controller into a Manager: storage, artifact server, GitRepository controller.

A GitRepository that includes others must be rebuilt as soon as an included one stores a new artifact;
an index of "who includes whom" turns that status change into an immediate enqueue instead of a wait for
the interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headwater.api.duration import parse_duration
from headwater.artifact.server import create_app
from headwater.artifact.storage import Storage, advertised_address
from headwater.runtime.controller import Controller
from headwater.runtime.informer import Informer, WatchEvent, informer_for
from headwater.runtime.kube import KubeClient
from headwater.runtime.manager import Manager
from headwater.runtime.options import ControllerOptions
from headwater.runtime.recorder import EventRecorder
from headwater.source.gitrepository import API_VERSION, KIND, GitRepositoryReconciler

PROCESS = "source-controller"
INCLUDED_BY = "included-by"


def included_repositories(obj: dict[str, Any]) -> list[str]:
    namespace = obj["metadata"]["namespace"]
    return [f"{namespace}/{inc['repository']['name']}" for inc in (obj.get("spec") or {}).get("include") or []]


def wake_includers(informer: Informer, controller: Controller) -> None:
    def on_event(event: WatchEvent) -> None:
        if event.type != "MODIFIED" or event.old is None:
            return
        new = ((event.obj.get("status") or {}).get("artifact") or {}).get("revision")
        old = ((event.old.get("status") or {}).get("artifact") or {}).get("revision")
        if new and new != old:
            meta = event.obj["metadata"]
            for key in informer.by_index(INCLUDED_BY, f"{meta['namespace']}/{meta['name']}"):
                controller.enqueue(key)

    informer.add_handler(on_event)


def build_storage(settings: dict[str, Any]) -> Storage:
    root = Path(settings.get("storage_path") or "/data")
    root.mkdir(parents=True, exist_ok=True)
    hostname = advertised_address(settings.get("storage_addr") or ":9090", settings.get("storage_adv_addr") or "")
    return Storage(
        root, hostname,
        retention_records=int(settings.get("artifact_retention_records") or 2),
        retention_ttl=parse_duration(str(settings.get("artifact_retention_ttl") or "60s")).seconds,
    )


async def setup(manager: Manager, kube: KubeClient, options: ControllerOptions, settings: dict[str, Any]) -> None:
    store = build_storage(settings)
    informer = informer_for(kube, API_VERSION, KIND, options)
    informer.add_index(INCLUDED_BY, included_repositories)
    reconciler = GitRepositoryReconciler(kube, store, informer, no_cross_namespace_refs=options.no_cross_namespace_refs)
    recorder = EventRecorder(kube, PROCESS, events_addr=options.events_addr)
    controller = Controller("gitrepository", kube, reconciler, informer, options=options, recorder=recorder,
                            field_manager=PROCESS)
    wake_includers(informer, controller)
    manager.add_controller(controller)
    manager.add_server("storage", settings.get("storage_addr") or ":9090", create_app(store.root))
