"""The example reconciler as a real controller process, for tests of the Manager.

Run as `python -m tests.cluster.example_process --kubeconfig K --namespace NS --journal FILE [flags]`
with the shared controller flags (`--enable-leader-election`, `--metrics-addr`, …). It appends one JSON
line per event to the journal: `ready` (with the bound addresses), `start`/`end` of each reconcile,
`leading`, `exit`; tests read the journal to see who reconciled what, and when.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import click

from headwater.runtime.controller import Controller, ReconcileContext
from headwater.runtime.informer import Informer
from headwater.runtime.kube import connect
from headwater.runtime.logging import setup_logging
from headwater.runtime.manager import Manager, run_until_signalled
from headwater.runtime.options import ControllerOptions, add_controller_options
from headwater.runtime.result import Result
from tests.cluster.example_reconciler import ExampleReconciler


class Journal:
    def __init__(self, path: Path, identity: str) -> None:
        self.path = path
        self.identity = identity

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "identity": self.identity, "t": time.time(), **fields})
        with self.path.open("a") as handle:
            handle.write(line + "\n")


class JournaledReconciler(ExampleReconciler):
    journal: Journal

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        meta = ctx.obj["metadata"]
        self.journal.write("start", name=meta["name"], generation=ctx.generation)
        try:
            return await super().reconcile(ctx)
        finally:
            self.journal.write("end", name=meta["name"], generation=ctx.generation)


@click.command()
@click.option("--kubeconfig", required=True)
@click.option("--namespace", required=True)
@click.option("--journal", "journal_path", required=True, type=click.Path(path_type=Path))
@click.option("--identity", default=None)
@click.option("--delay", default=0.0, type=float, help="Seconds each reconcile takes.")
def main(kubeconfig: str, namespace: str, journal_path: Path, identity: str | None, delay: float,
         **params: Any) -> None:
    options = ControllerOptions.from_params(params)
    setup_logging(options.log_level, options.log_encoding)
    identity = identity or f"example-{os.getpid()}"
    journal = Journal(journal_path, identity)

    async def run(stop: asyncio.Event) -> None:
        async with connect(kubeconfig) as kube:
            reconciler = JournaledReconciler(delay=delay)
            reconciler.journal = journal
            informer = Informer(kube, reconciler.api_version, reconciler.kind, namespace=namespace)
            manager = Manager("example-controller", kube, options, lease_namespace=namespace, identity=identity)
            manager.add_controller(Controller("example-controller", kube, reconciler, informer, options=options))

            async def announce() -> None:
                await manager.leading.wait()
                journal.write("leading")

            async def report_ready() -> None:
                await asyncio.gather(*(i.wait_synced() for i in manager.informers))  # servers start first
                journal.write("ready", addresses={k: list(v) for k, v in manager.addresses.items()})

            helpers = [asyncio.create_task(announce()), asyncio.create_task(report_ready())]
            try:
                await manager.run(stop)
            finally:
                for task in helpers:
                    task.cancel()

    code = run_until_signalled(run)
    journal.write("exit", code=code)
    raise SystemExit(code)


command = add_controller_options(main)  # the shared controller flags, as every controller has

if __name__ == "__main__":
    command()
