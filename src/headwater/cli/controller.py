"""`headwater controller <name>`: run one controller as a process, or `all` of them in one.

Each controller registers a `setup(manager, kube, options, settings)` function (imported lazily, so
starting one controller never imports the others) and its own flags on top of the shared ones. Out of a
cluster the process uses `--kubeconfig`; in a cluster, the Pod's service account.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import click

from headwater.runtime.options import ControllerOptions, controller_options


@dataclass(frozen=True)
class ControllerEntry:
    process_name: str  # Flux's Deployment name, also the Lease name prefix
    setup: str  # "module:function"
    concurrent: int


CONTROLLERS: dict[str, ControllerEntry] = {
    "source": ControllerEntry("source-controller", "headwater.source.controller:setup", 2),
    "kustomize": ControllerEntry("kustomize-controller", "headwater.kustomize.controller:setup", 4),
}

Setup = Callable[..., Awaitable[None]]


def _setup(entry: ControllerEntry) -> Setup:
    module, attribute = entry.setup.split(":")
    function: Setup = getattr(importlib.import_module(module), attribute)
    return function


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name", type=click.Choice([*CONTROLLERS, "all"]))
@click.option("--kubeconfig", envvar="KUBECONFIG", default=None, help="Kubeconfig file (default: in-cluster).")
@click.option("--context", "kube_context", default=None, help="Kubeconfig context.")
@click.option("--storage-path", default="/data", show_default=True, help="Where the source controller keeps artifacts.")
@click.option("--storage-addr", default=":9090", show_default=True, help="Address the artifact server listens on.")
@click.option("--storage-adv-addr", default="", help="Host[:port] put in artifact URLs (default: this host).")
@click.option("--artifact-retention-ttl", default="60s", show_default=True,
              help="How long superseded artifacts are kept.")
@click.option("--artifact-retention-records", default=2, show_default=True,
              help="How many artifacts per object are kept.")
@click.option("--no-remote-bases", is_flag=True, help="Refuse kustomize remote bases (the kustomize controller).")
@click.option("--log-file", default=None, metavar="PATH",
              help="Also append the logs to PATH as JSON lines (whatever --log-encoding), as well as to stderr; "
                   "`headwater logs --log-dir DIR` reads DIR/*.log.")
@controller_options()
def controller(name: str, kubeconfig: str | None, kube_context: str | None, log_file: str | None,
               **params: Any) -> None:
    """Run a controller (source, …) or all of them in one process."""
    from headwater.runtime.kube import ConfigError, connect
    from headwater.runtime.logging import setup_logging
    from headwater.runtime.manager import Manager, run_until_signalled

    options = ControllerOptions.from_params(params)
    settings = dict(params)
    try:
        setup_logging(options.log_level, options.log_encoding, log_file=log_file)
    except OSError as err:
        click.secho(f"error: --log-file {log_file}: {err.strerror or err}", fg="red", err=True)
        sys.exit(1)
    names = list(CONTROLLERS) if name == "all" else [name]
    process_name = "headwater-controllers" if name == "all" else CONTROLLERS[name].process_name

    async def run(stop: asyncio.Event) -> None:
        try:
            kube = connect(kubeconfig, kube_context, user_agent=process_name)
        except ConfigError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(1)
        async with kube:
            manager = Manager(process_name, kube, options)
            for each in names:
                await _setup(CONTROLLERS[each])(manager, kube, options, settings)
            await manager.run(stop)

    sys.exit(run_until_signalled(run))
