"""Entry point of the `headwater` command."""

from __future__ import annotations

import sys

import click

from headwater import __version__
from headwater.cli.lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "bootstrap": ("headwater.cli.bootstrap:bootstrap", "Deploy headwater on a cluster the GitOps way."),
    "build": ("headwater.cli.build:build", "Build a Kustomization locally, as the controller would."),
    "check": ("headwater.cli.check:check", "Check the prerequisites and the installed controllers."),
    "completion": ("headwater.cli.completion:completion", "Print a shell completion script."),
    "controller": ("headwater.cli.controller:controller", "Run a controller process (source, …, or all)."),
    "create": ("headwater.cli.create:create", "Create or update sources, Kustomizations and secrets."),
    "delete": ("headwater.cli.delete:delete", "Delete sources and Kustomizations."),
    "dev": ("headwater.cli.dev:dev", "Run a local Kubernetes control plane and the demo."),
    "diff": ("headwater.cli.diff:diff", "Diff a Kustomization built locally against the cluster."),
    "events": ("headwater.cli.events:events", "Show the events of Flux resources."),
    "export": ("headwater.cli.export:export", "Export Flux resources as YAML."),
    "get": ("headwater.cli.get:get", "Get the status of Flux resources."),
    "install": ("headwater.cli.install:install", "Install or upgrade the controllers on a cluster."),
    "logs": ("headwater.cli.logs:logs", "Show the controllers' logs."),
    "reconcile": ("headwater.cli.reconcile:reconcile", "Reconcile Flux resources now and wait for the outcome."),
    "resume": ("headwater.cli.suspend:resume", "Resume suspended Flux resources."),
    "suspend": ("headwater.cli.suspend:suspend", "Suspend the reconciliation of Flux resources."),
    "trace": ("headwater.cli.trace:trace", "Show which Kustomization and source manage an object."),
    "tree": ("headwater.cli.tree:tree", "Print the objects a Kustomization manages, as a tree."),
    "uninstall": ("headwater.cli.install:uninstall", "Remove the controllers and CRDs, keep workloads."),
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
