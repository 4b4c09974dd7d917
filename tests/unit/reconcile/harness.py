"""One harness for the reconcile tables: objects in a fake apiserver, one real Controller run, the outcome.

A case seeds objects into a `FakeKube`, asks for one reconcile of one key, and compares the `Outcome`:
the stored object (conditions, status fields), the Kubernetes Events recorded during the run, and how
the key was requeued (nothing, at once, after a fixed delay, or with backoff). The run is the real
thing: the controller package's own `setup` wires reconciler, informers and wake-ups, informers list
and watch the fake, and the Controller's worker takes the key, so suspend, the finalizer,
requestedAt, the outcome → conditions mapping and the requeue decision are the production code.

Everything that depends on the runtime's internals is in this file and nowhere else (the runtime is
being reshaped: shared cache, reconciler base, status writer): how a controller is set up
(`start_rig`, or `rig_of` for a Controller a test built), how one key is processed (`Rig.reconcile`),
and how the queue is read (`HarnessQueue`).

The queue keeps time virtually: a delayed add is recorded with its delay and never fires by itself, so
nothing moves behind a test's back and requeue delays are compared exactly, without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.runtime import conditions as cond
from headwater.runtime.controller import Controller
from headwater.runtime.informer import Informer, ObjectKey, run_until_synced, stop
from headwater.runtime.manager import Manager
from headwater.runtime.options import ControllerOptions
from headwater.runtime.workqueue import QueueShutDown, WorkQueue
from headwater.testing.fakekube import FakeKube

Obj = dict[str, Any]
KS_API = "kustomize.toolkit.fluxcd.io/v1"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
NAMESPACE = "apps"


@dataclass(frozen=True)
class Requeue:
    """How the run left its key: `none`, `now`, `after` (a fixed delay) or `backoff` (counted failure)."""

    kind: str
    after: float = 0.0


NONE = Requeue("none")
NOW = Requeue("now")


def after(seconds: float) -> Requeue:
    return Requeue("after", seconds)


def backoff(seconds: float) -> Requeue:
    return Requeue("backoff", seconds)


@dataclass
class Outcome:
    """What one reconcile left behind."""

    obj: Obj | None  # the stored object afterwards; None when it is gone
    events: list[tuple[str, str, str]]  # (type, reason, message) recorded about it during the run
    requeue: Requeue
    reconciled: bool  # whether the reconciler's `reconcile` ran (not for suspend, deletion, ...)
    status_writes: int
    woken: list[ObjectKey] = field(default_factory=list)  # other keys the run enqueued

    @property
    def status(self) -> Obj:
        return dict((self.obj or {}).get("status") or {})

    def condition(self, cond_type: str) -> tuple[str, str] | None:
        """(status, reason) of a condition, or None when absent."""
        found = cond.get(self.status.get("conditions") or [], cond_type)
        return (str(found["status"]), str(found.get("reason", ""))) if found else None

    def message(self, cond_type: str = cond.READY_CONDITION) -> str:
        return cond.get_message(self.status.get("conditions") or [], cond_type)

    @property
    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]


class HarnessQueue(WorkQueue[ObjectKey]):
    """The controller's queue, with virtual time and a record of what one run asked of it."""

    def __init__(self, original: WorkQueue[ObjectKey]) -> None:
        super().__init__(original.name, rate_limiter=original.rate_limiter)
        self.delays: dict[ObjectKey, float] = {}  # pending delayed adds (virtual: they never fire)
        self._wanted: ObjectKey | None = None
        self._takes = 0
        self._added: set[ObjectKey] = set()
        self._backoff: set[ObjectKey] = set()

    # -- virtual delayed adds ----------------------------------------------------------------------

    def add_after(self, key: ObjectKey, delay: float) -> None:
        if self.shutting_down:
            return
        if delay <= 0:
            self.add(key)
        elif key not in self.delays or delay < self.delays[key]:
            self.delays[key] = delay

    def add_rate_limited(self, key: ObjectKey) -> float:
        self._backoff.add(key)
        return super().add_rate_limited(key)

    def cancel_scheduled(self, key: ObjectKey) -> bool:
        return self.delays.pop(key, None) is not None

    def is_scheduled(self, key: ObjectKey) -> bool:
        return key in self.delays

    def add(self, key: ObjectKey) -> None:
        self._added.add(key)
        super().add(key)

    # -- one run -----------------------------------------------------------------------------------

    def begin(self, key: ObjectKey) -> None:
        """The next `get` hands out `key` (others queued before are dropped), and only it."""
        self.add(key)
        self._wanted, self._takes = key, 1
        self._added, self._backoff = set(), set()

    async def get(self) -> ObjectKey:
        while self._takes > 0:
            key = await super().get()
            if key == self._wanted:
                self._takes -= 1
                return key
            self.done(key)  # another key queued before this run: not what this run is about
        raise QueueShutDown(self.name)

    def end(self, key: ObjectKey) -> tuple[Requeue, list[ObjectKey]]:
        if key in self.delays:
            requeue = Requeue("backoff" if key in self._backoff else "after", self.delays[key])
        elif key in self._added or self.is_queued(key):
            requeue = NOW
        else:
            requeue = NONE
        return requeue, sorted(k for k in self._added if k != key)


@dataclass
class Rig:
    """One controller running over a fake apiserver."""

    fake: FakeKube
    controller: Controller
    queue: HarnessQueue
    informer_tasks: list[asyncio.Task[None]]

    @property
    def reconciler(self) -> Any:
        return self.controller.reconciler

    @property
    def kind(self) -> str:
        return str(self.controller.reconciler.kind)

    async def reconcile(self, name: str, namespace: str = NAMESPACE) -> Outcome:
        """Process the object's key once, as a worker does, and report what came of it."""
        server, key = self.fake.server, (namespace, name)
        await server.settled()  # the caches hold everything written so far
        revision, calls, runs = server.revision, len(server.calls), self.controller.reconciles
        self.queue.begin(key)
        await self.controller._worker()  # takes exactly this key, then stops
        await self.controller.recorder.close()  # events are written in the background: wait for them
        await server.settled()
        requeue, woken = self.queue.end(key)
        api_version = self.controller.reconciler.api_version
        events = [(e["type"], e["reason"], e["message"]) for e in server.events(name=name, namespace=namespace)
                  if int(e["metadata"]["resourceVersion"]) > revision and e["involvedObject"].get("kind") == self.kind]
        writes = sum(1 for c in server.calls[calls:] if c.subresource == "status" and c.name == name
                     and c.kind == self.kind)
        return Outcome(server.get_object(api_version, self.kind, name, namespace), events, requeue,
                       self.controller.reconciles > runs, writes, woken)

    async def close(self) -> None:
        for task in self.informer_tasks:
            await stop(task)
        await self.controller.stop()


def harness_options(**overrides: Any) -> ControllerOptions:
    """Flux's defaults, without interval jitter (so requeue delays are exact)."""
    return ControllerOptions(**{"interval_jitter_percentage": 0, **overrides})


async def start_rig(controller: str, fake: FakeKube, *, options: ControllerOptions | None = None,
                    storage: Path | None = None, storage_address: str = "", kind: str | None = None,
                    **flags: Any) -> Rig:
    """THE factory: install the named controller ("kustomize", "source") over `fake`, informers synced.

    The controller is wired by its own spec (`ControllerSpec.install`), as `headwater controller <name>`
    does; `flags` are its own flags by field name (`no_remote_bases`, ...); `storage` is the source
    controller's storage root, advertised as `storage_address`; `kind` picks which of the process's
    controllers the rig drives (default: its first, e.g. the source controller's GitRepository one).
    """
    from headwater.controllers import discover

    spec = discover()[controller]
    if controller == "source":
        flags = {"storage_path": str(storage), "storage_adv_addr": storage_address, **flags}
    options = options or harness_options()
    manager = Manager(spec.process_name, fake, options)
    await spec.install(manager, options, spec.flags(**flags))
    running = manager.controllers[0] if kind is None else \
        next(c for c in manager.controllers if c.reconciler.kind == kind)
    informers = [*manager.cache.informers, *(i for i in manager.informers if i not in manager.cache.informers)]
    return await rig_of(fake, running, informers)


async def rig_of(fake: FakeKube, controller: Controller, informers: list[Informer]) -> Rig:
    """A Rig around a controller built elsewhere (the Controller's own tests): informers started."""
    queue = HarnessQueue(controller.queue)
    controller.queue = queue
    tasks = []
    for informer in informers:
        tasks.append(await run_until_synced(informer))
        await fake.server.watching(informer.api_version, informer.kind)
    return Rig(fake, controller, queue, tasks)


@contextlib.asynccontextmanager
async def rig_for(controller: str, fake: FakeKube, **kwargs: Any) -> Any:
    rig = await start_rig(controller, fake, **kwargs)
    try:
        yield rig
    finally:
        await rig.close()


__all__ = ["NAMESPACE", "NONE", "NOW", "Outcome", "Requeue", "Rig", "after", "backoff", "harness_options",
           "rig_for", "rig_of", "start_rig"]
