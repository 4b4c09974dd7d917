"""Entry point of the `headwater` command."""

from __future__ import annotations

import sys

import click

from headwater import __version__
from headwater.cli.lazy import LazyGroup
from headwater.pflag import bool_flag

COMMANDS: dict[str, tuple[str, str]] = {
    "bootstrap": ("headwater.cli.bootstrap:bootstrap", "Deploy headwater on a cluster the GitOps way."),
    "build": ("headwater.cli.helm_local:build", "Build a Kustomization or HelmRelease locally."),
    "check": ("headwater.cli.check:check", "Check the prerequisites and the installed controllers."),
    "completion": ("headwater.cli.completion:completion", "Print a shell completion script."),
    "controller": ("headwater.cli.controller:controller", "Run a controller process (source, …, or all)."),
    "create": ("headwater.cli.create:create", "Create or update sources, Kustomizations, HelmReleases and secrets."),
    "debug": ("headwater.cli.debug:debug", "Show what the controllers see of Flux resources (helmrelease)."),
    "delete": ("headwater.cli.delete:delete", "Delete Flux resources."),
    "dev": ("headwater.cli.dev:dev", "Run a local Kubernetes control plane and the demo."),
    "diff": ("headwater.cli.helm_local:diff", "Diff a Kustomization or HelmRelease built locally."),
    "events": ("headwater.cli.events:events", "Show the events of Flux resources."),
    "export": ("headwater.cli.export:export", "Export Flux resources as YAML."),
    "get": ("headwater.cli.get:get", "Get the status of Flux resources."),
    "install": ("headwater.cli.install:install", "Install or upgrade the controllers on a cluster."),
    "logs": ("headwater.cli.logs:logs", "Show the controllers' logs."),
    "reconcile": ("headwater.cli.reconcile:reconcile", "Reconcile Flux resources now and wait for the outcome."),
    "resume": ("headwater.cli.suspend:resume", "Resume suspended Flux resources."),
    "stats": ("headwater.cli.stats:stats", "Count the Flux objects of each kind: running, failing, suspended."),
    "suspend": ("headwater.cli.suspend:suspend", "Suspend the reconciliation of Flux resources."),
    "trace": ("headwater.cli.trace:trace", "Show which Kustomization or HelmRelease and source manage an object."),
    "tree": ("headwater.cli.tree:tree", "Print the objects a Kustomization manages, as a tree."),
    "uninstall": ("headwater.cli.install:uninstall", "Remove the controllers and CRDs, keep workloads."),
    "version": ("headwater.cli.version:version", "Print the client and cluster versions."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--cli-version", prog_name="headwater")
@click.option("--kubeconfig", envvar="KUBECONFIG", default=None, metavar="PATH",
              help="Path to the kubeconfig file (env KUBECONFIG).")
@click.option("--context", default=None, help="The kubeconfig context to use.")
@click.option("-n", "--namespace", envvar="FLUX_SYSTEM_NAMESPACE", default="flux-system", show_default=True,
              help="The namespace scope (env FLUX_SYSTEM_NAMESPACE).")
@click.option("--timeout", default="5m", show_default=True, metavar="DURATION",
              help="Timeout for operations (Go duration).")
@bool_flag("--verbose", help="Print more detail (e.g. logs of waits, full errors).")
def cli(kubeconfig: str | None, context: str | None, namespace: str, timeout: str, verbose: bool) -> None:
    """headwater: GitOps for Kubernetes, compatible with Flux v2.

    The connection flags may be given here, before the command, or after it (where they win).
    """


def main() -> None:
    try:
        cli.main(prog_name="headwater", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
