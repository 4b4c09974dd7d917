"""A small reconciler over a test-only CRD, to exercise the runtime against the real apiserver.

`Example` objects say how their reconcile should behave: `spec.failures` (fail that many times, then
succeed), `spec.terminal` (fail terminally), `spec.interval`, `spec.suspend`. The reconciler records every
call with its timing and checks that no key is ever reconciled twice at the same time.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar

from headwater.runtime.controller import Controller, ReconcileContext
from headwater.runtime.informer import Informer, ObjectKey, run_until_synced, stop
from headwater.runtime.kube import KubeClient
from headwater.runtime.options import ControllerOptions
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.result import ReconcileError, Result, TerminalError

GROUP = "example.headwater.dev"
API_VERSION = f"{GROUP}/v1"
KIND = "Example"

EXAMPLE_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"examples.{GROUP}"},
    "spec": {
        "group": GROUP,
        "names": {"kind": KIND, "plural": "examples", "singular": "example", "listKind": "ExampleList"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1",
            "served": True,
            "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {
                            "interval": {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"},
                            "suspend": {"type": "boolean"},
                            "message": {"type": "string"},
                            "failures": {"type": "integer"},
                            "terminal": {"type": "boolean"},
                        },
                    },
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }},
        }],
    },
}


@dataclass
class Call:
    key: ObjectKey
    generation: int
    started: float
    ended: float = 0.0


@dataclass
class ExampleReconciler(Reconciler):
    api_version: ClassVar[str] = API_VERSION
    kind: ClassVar[str] = KIND
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    attempts: dict[ObjectKey, int] = field(default_factory=lambda: defaultdict(int))
    active: set[ObjectKey] = field(default_factory=set)
    overlaps: list[ObjectKey] = field(default_factory=list)
    finalized: list[ObjectKey] = field(default_factory=list)

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        meta = ctx.obj["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in self.active:
            self.overlaps.append(key)
        self.active.add(key)
        call = Call(key, ctx.generation, time.monotonic())
        self.calls.append(call)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            spec = ctx.obj.get("spec") or {}
            self.attempts[key] += 1
            if spec.get("terminal"):
                raise TerminalError("InvalidSpec", "terminal is set: this cannot succeed")
            if self.attempts[key] <= int(spec.get("failures") or 0):
                raise ReconcileError("ExampleFailed", f"deliberate failure {self.attempts[key]}")
            ctx.status["message"] = spec.get("message", "")
            return Result()
        finally:
            call.ended = time.monotonic()
            self.active.discard(key)

    async def finalize(self, ctx: ReconcileContext) -> None:
        meta = ctx.obj["metadata"]
        self.finalized.append((meta["namespace"], meta["name"]))

    def calls_for(self, key: ObjectKey) -> list[Call]:
        return [c for c in self.calls if c.key == key]


class RunningController:
    """An informer + controller for Examples running in the test's event loop."""

    def __init__(self, kube: KubeClient, namespace: str | None, options: ControllerOptions,
                 reconciler: ExampleReconciler | None = None) -> None:
        self.reconciler = reconciler or ExampleReconciler()
        self.informer = Informer(kube, API_VERSION, KIND, namespace=namespace)
        self.controller = Controller("example-controller", kube, self.reconciler, self.informer, options=options)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RunningController:
        self._task = await run_until_synced(self.informer)
        await self.controller.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.controller.stop()
        if self._task is not None:
            await stop(self._task)


def example(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name, "namespace": namespace},
            "spec": spec}
