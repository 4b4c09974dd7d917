"""`headwater controller <name>`: run one controller as a process, or `all` of them in one.

The controllers are discovered (`headwater.controllers`: built-ins and installed plug-ins), and each
gets a command built from its spec: the shared flags it has in Flux (`--concurrent` with its own
default, `--requeue-dependency`, …), the process flags below, and its own typed flags, which appear on
its command only. `all` takes the union: each controller's own flags, the shared ones, and each
controller keeps its own `--concurrent` default unless the flag is given. Out of a cluster the process
uses `--kubeconfig`; in a cluster, the Pod's service account. The process's client paces itself with
`--kube-api-qps`/`--kube-api-burst` (one bucket per process: under `all`, the controllers share it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from headwater.runtime.flags import click_options, from_params
from headwater.runtime.options import ControllerOptions, add_controller_options
from headwater.runtime.spec import ControllerSpec

if TYPE_CHECKING:
    from headwater.runtime.kube import HttpKubeClient

ALL = "all"
ALL_PROCESS_NAME = "headwater-controllers"
CONTEXT = {"help_option_names": ["-h", "--help"]}


def _process_options() -> list[click.Option]:
    return [
        click.Option(["--kubeconfig"], envvar="KUBECONFIG", default=None,
                     help="Kubeconfig file (default: in-cluster)."),
        click.Option(["--context", "kube_context"], default=None, help="Kubeconfig context."),
        click.Option(["--log-file"], default=None, metavar="PATH",
                     help="Also append the logs to PATH as JSON lines (whatever --log-encoding), as well as to "
                          "stderr; `headwater logs --log-dir DIR` reads DIR/*.log."),
    ]


def _own_flag_options(specs: Sequence[ControllerSpec]) -> list[click.Option]:
    """Each spec's own flags once; two controllers declaring one flag share its value."""
    seen: dict[str, click.Option] = {}
    for spec in specs:
        for option in click_options(spec.flags):
            if option.name not in seen:
                seen[str(option.name)] = option
    return list(seen.values())


def _command(name: str, specs: Sequence[ControllerSpec], process_name: str, summary: str) -> click.Command:
    def callback(**params: Any) -> None:
        explicit_concurrency = click.get_current_context().get_parameter_source("concurrent") not in (
            click.core.ParameterSource.DEFAULT, None)
        _run(specs, process_name, params, explicit_concurrency=explicit_concurrency)

    command = click.Command(name, callback=callback, help=summary, short_help=summary, context_settings=CONTEXT,
                            params=[*_process_options(), *_own_flag_options(specs)])
    if len(specs) == 1:
        spec = specs[0]
        add_controller_options(command, concurrent=spec.concurrent, **dict(spec.shared_flags))
    else:
        add_controller_options(command)
    return command


def controller_client(kubeconfig: str | None, kube_context: str | None, process_name: str,
                      options: ControllerOptions) -> HttpKubeClient:
    """The process's client: its identity from the kubeconfig (or in-cluster), paced by the options."""
    from headwater.runtime.kube import connect

    return connect(kubeconfig, kube_context, user_agent=process_name,
                   qps=options.kube_api_qps, burst=options.kube_api_burst)


def _run(specs: Sequence[ControllerSpec], process_name: str, params: dict[str, Any], *,
         explicit_concurrency: bool) -> None:
    from headwater.runtime.kube import ConfigError
    from headwater.runtime.logging import setup_logging
    from headwater.runtime.manager import Manager, run_until_signalled

    kubeconfig, kube_context, log_file = params.pop("kubeconfig"), params.pop("kube_context"), params.pop("log_file")
    options = ControllerOptions.from_params(params)
    try:
        options.validate()
    except ValueError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(1)
    flags = [from_params(spec.flags, dict(params)) for spec in specs]
    try:
        setup_logging(options.log_level, options.log_encoding, log_file=log_file)
    except OSError as err:
        click.secho(f"error: --log-file {log_file}: {err.strerror or err}", fg="red", err=True)
        sys.exit(1)

    async def run(stop: asyncio.Event) -> None:
        try:
            kube = controller_client(kubeconfig, kube_context, process_name, options)
        except ConfigError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(1)
        async with kube:
            manager = Manager(process_name, kube, options)
            for spec, own in zip(specs, flags, strict=True):
                each = options if explicit_concurrency else dataclasses.replace(options, concurrent=spec.concurrent)
                await spec.install(manager, each, own)
            await manager.run(stop)

    sys.exit(run_until_signalled(run))


class ControllerGroup(click.Group):
    """The discovered controllers as subcommands, plus `all`; discovery runs only when this group is used."""

    def _specs(self) -> dict[str, ControllerSpec]:
        from headwater.controllers import discover

        return discover()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self._specs(), ALL]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        specs = self._specs()
        if cmd_name == ALL:
            names = ", ".join(specs)
            return _command(ALL, list(specs.values()), ALL_PROCESS_NAME,
                            f"Run every controller ({names}) in one process, on one shared cache.")
        spec = specs.get(cmd_name)
        if spec is None:
            return None
        return _command(spec.name, [spec], spec.process_name, spec.summary)


controller = ControllerGroup("controller", context_settings=CONTEXT,
                             help="Run a controller (source, kustomize, …) or all of them in one process.")
