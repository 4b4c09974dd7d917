"""Entry point of the `headwater` command."""

from __future__ import annotations

import sys

import click

from headwater import __version__
from headwater.cli.lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "controller": ("headwater.cli.controller:controller", "Run a controller process (source, …, or all)."),
    "dev": ("headwater.cli.dev:dev", "Run a local Kubernetes control plane and the demo."),
    "get": ("headwater.cli.get:get", "Get the status of Flux resources."),
    "reconcile": ("headwater.cli.reconcile:reconcile", "Reconcile Flux resources now and wait for the outcome."),
    "resume": ("headwater.cli.suspend:resume", "Resume suspended Flux resources."),
    "suspend": ("headwater.cli.suspend:suspend", "Suspend the reconciliation of Flux resources."),
    "version": ("headwater.cli.version:version", "Print the client and cluster versions."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--cli-version", prog_name="headwater")
def cli() -> None:
    """headwater: GitOps for Kubernetes, compatible with Flux v2."""


def main() -> None:
    try:
        cli.main(prog_name="headwater", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
