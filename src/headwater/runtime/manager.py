"""The process around controllers: caches, leader election, metrics and probes, graceful shutdown.

One Manager runs in each controller process (`headwater controller <name>`), or one for all controllers
in the demo's single process. Order of life:

1. serve `/metrics` (`--metrics-addr`) and `/healthz` + `/readyz` (`--health-addr`);
2. start every informer of the shared cache (`manager.cache`: one list + watch per kind, however many
   controllers read it) and wait until each has its first list (`/readyz` turns OK then);
3. with `--enable-leader-election`, campaign for the Lease `<controller>-leader-election` first
   (caches are already warm, so a new leader starts work at once); otherwise start right away;
4. start the controllers' workers;
5. on SIGTERM/SIGINT: stop taking work, let in-flight reconciles finish, flush events, release the
   Lease, stop the servers. Losing the Lease ends the process with an error, as controller-runtime does,
   so that a replacement starts from a clean state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from headwater.runtime.cache import SharedCache
from headwater.runtime.controller import Controller
from headwater.runtime.informer import Informer
from headwater.runtime.kube.client import KubeClient
from headwater.runtime.leader import LeaderElector, LeadershipLost
from headwater.runtime.metrics import DEFAULT as DEFAULT_METRICS
from headwater.runtime.metrics import REGISTRY, FluxMetrics, make_health_app, make_metrics_app
from headwater.runtime.options import ControllerOptions, parse_addr
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.recorder import EventRecorder
from headwater.runtime.watches import KindKey, Watch

_log = logging.getLogger("headwater.manager")


def runtime_namespace() -> str:
    """Where the controller runs (Lease namespace): `RUNTIME_NAMESPACE` as in Flux, else flux-system."""
    return os.environ.get("RUNTIME_NAMESPACE") or "flux-system"


class Manager:
    def __init__(
        self,
        name: str,
        kube: KubeClient,
        options: ControllerOptions | None = None,
        *,
        lease_namespace: str | None = None,
        metrics: FluxMetrics = DEFAULT_METRICS,
        identity: str | None = None,
    ) -> None:
        self.name = name
        self.kube = kube
        self.options = options or ControllerOptions()
        self.lease_namespace = lease_namespace or runtime_namespace()
        self.metrics = metrics
        self.identity = identity
        self.controllers: list[Controller] = []
        self.informers: list[Informer] = []
        self._cache: SharedCache | None = None
        self.leading = asyncio.Event()
        self.addresses: dict[str, tuple[str, int]] = {}
        self._runners: list[web.AppRunner] = []
        self._informer_tasks: list[asyncio.Task[None]] = []
        self._extra_apps: dict[str, tuple[str, web.Application]] = {}

    def add_server(self, label: str, address: str, app: web.Application) -> None:
        """Serve another HTTP app for the process's whole life (e.g. the artifact server), on every
        replica, leader or not."""
        self._extra_apps[label] = (address, app)

    @property
    def cache(self) -> SharedCache:
        """The process's shared informers, scoped by `--watch-all-namespaces` and `--watch-label-selector`."""
        if self._cache is None:
            self._cache = SharedCache(self.kube, namespace=self.options.watch_namespace(),
                                      label_selector=self.options.watch_label_selector or None)
        return self._cache

    def add_informer(self, informer: Informer) -> Informer:
        if informer not in self.informers:
            self.informers.append(informer)
        return informer

    def add_controller(self, controller: Controller) -> Controller:
        self.controllers.append(controller)
        self.add_informer(controller.informer)
        return controller

    def new_controller(
        self,
        name: str,
        reconciler: Reconciler,
        *,
        watches: tuple[Watch, ...] | list[Watch] = (),
        options: ControllerOptions | None = None,
        field_manager: str | None = None,
        recorder: EventRecorder | None = None,
    ) -> Controller:
        """A Controller for the reconciler's kind on the shared cache, with its declared watches.

        The reconciled kind and every watched kind come from `cache`, so two controllers watching the
        same kind share one informer; indexes a watch reads are added to the reconciled kind's informer.
        """
        options = options or self.options
        own = KindKey(reconciler.api_version, reconciler.kind)
        primary = self.cache.informer_for(own)
        for declared in watches:
            if declared.index is not None:
                self.cache.add_index(own, *declared.index)
        manager_name = field_manager or name
        controller = Controller(
            name, self.kube, reconciler, primary, options=options, field_manager=manager_name,
            recorder=recorder or EventRecorder(self.kube, manager_name, events_addr=options.events_addr),
            metrics=self.metrics,
        )
        for declared in watches:
            controller.watch(self.cache.informer_for(declared.kind), declared)
        return self.add_controller(controller)

    def _all_informers(self) -> list[Informer]:
        shared = self._cache.informers if self._cache is not None else []
        return [*shared, *(i for i in self.informers if i not in shared)]

    @property
    def ready(self) -> bool:
        return all(i.synced for i in self._all_informers())

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set (graceful) or leadership is lost (`LeadershipLost`)."""
        await self._serve()
        try:
            self._informer_tasks = [asyncio.create_task(i.run(), name=f"informer-{i.kind}")
                                    for i in self._all_informers()]
            await self._wait_synced(stop)
            if stop.is_set():
                return
            if self.options.enable_leader_election:
                await self._run_elected(stop)
            else:
                await self._start_controllers()
                await stop.wait()
                await self._stop_controllers()
        finally:
            for task in self._informer_tasks:
                task.cancel()
            await asyncio.gather(*self._informer_tasks, return_exceptions=True)
            for runner in self._runners:
                await runner.cleanup()
            self._runners = []

    async def _run_elected(self, stop: asyncio.Event) -> None:
        elector = LeaderElector.from_options(self.kube, self.options, self.name, self.lease_namespace,
                                             self.identity, metrics=self.metrics)

        async def lead() -> None:
            await self._start_controllers()
            await asyncio.Event().wait()  # lead until cancelled

        campaign = asyncio.create_task(elector.run(lead), name=f"{self.name}-leader-election")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({campaign, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if campaign.done():
            await self._stop_controllers()
            campaign.result()  # LeadershipLost or the leading task's failure
            return
        await self._stop_controllers()  # finish in-flight reconciles while we still hold the Lease
        await elector.release()
        with contextlib.suppress(asyncio.CancelledError, LeadershipLost):
            await campaign

    async def _start_controllers(self) -> None:
        for controller in self.controllers:
            await controller.start()
        self.leading.set()
        _log.info("%s started %d controller(s)", self.name, len(self.controllers))

    async def _stop_controllers(self) -> None:
        if not self.leading.is_set():
            return
        await asyncio.gather(*(c.stop() for c in self.controllers))
        self.leading.clear()

    async def _wait_synced(self, stop: asyncio.Event) -> None:
        """Wait until every cache has its first list, or until asked to stop."""
        synced = asyncio.create_task(self._all_synced())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({synced, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (synced, stopping):
            task.cancel()

    async def _all_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._all_informers()))

    async def _serve(self) -> None:
        apps: dict[str, tuple[str, web.Application]] = {
            "metrics": (self.options.metrics_addr, make_metrics_app(REGISTRY)),
            "health": (self.options.health_addr, make_health_app(readiness={"informers-synced": lambda: self.ready})),
            **self._extra_apps,
        }
        for label, (address, app) in apps.items():
            if not address or address == "0":  # Flux disables an endpoint with "0"
                continue
            host, port = parse_addr(address)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host, port, reuse_address=True)
            await site.start()
            self._runners.append(runner)
            bound = runner.addresses[0] if runner.addresses else (host, port)
            self.addresses[label] = (str(bound[0]), int(bound[1]))


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run `main(stop)` with SIGTERM/SIGINT setting `stop`; exit code 0, or 1 when leadership was lost."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await main(stop)
        except LeadershipLost as err:
            _log.error("%s; exiting", err)
            return 1
        return 0

    return asyncio.run(runner())
