"""`headwater install` and `headwater uninstall`: put the controllers on a cluster, or take them off.

`install` generates the manifests (`headwater.install`), applies them server-side (CRDs and namespace
first, waited for), then waits until the controller Deployments are ready, printing Flux's progress
lines; it is idempotent and doubles as upgrade. `--export` prints the YAML without touching a cluster.
`uninstall` follows Flux's order (controllers, finalizers, CRDs, namespace) so the workloads the
controllers applied stay where they are. The install flags are shared with `bootstrap`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from headwater import __version__
from headwater.cli.common import CliError, Options, cluster_options, fail, log, make_options, run
from headwater.pflag import bool_flag, string_slice

if TYPE_CHECKING:
    from headwater.install.options import InstallOptions
    from headwater.runtime.kube import KubeClient

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_REGISTRY = "ghcr.io/headwater"  # headwater.install.options.DEFAULT_REGISTRY (not imported: --help stays light)
DEFAULT_COMPONENTS = "source-controller,kustomize-controller,helm-controller"


def install_flags(func: F) -> F:
    """The flags `install` and `bootstrap` share (flux's names and defaults)."""
    decorators = [
        click.option("-v", "--version", "version_", default=f"v{__version__}", show_default=True,
                     help="The headwater version (image tag) to install."),
        string_slice("--components", default=[DEFAULT_COMPONENTS], show_default=True,
                     help="The components to install, comma-separated."),
        string_slice("--components-extra", help="Components to install in addition to --components, comma-separated."),
        click.option("--registry", default=DEFAULT_REGISTRY, show_default=True,
                     help="The container registry (prefix) the headwater image is pulled from."),
        click.option("--image-pull-secret", default="",
                     help="The name of an existing Secret in the namespace to pull the image with."),
        bool_flag("--watch-all-namespaces", default=True,
                  help="Watch every namespace (false: only the installation's)."),
        bool_flag("--network-policy", default=True,
                  help="Deny ingress to the controllers from other namespaces (NetworkPolicies)."),
        click.option("--log-level", type=click.Choice(["debug", "info", "error", "trace"]), default="info",
                     show_default=True, help="The controllers' log level."),
        click.option("--cluster-domain", default="cluster.local", show_default=True,
                     help="The cluster's DNS domain, used in the controllers' service addresses."),
        string_slice("--toleration-keys",
                     help="Taint keys the controllers tolerate (operator Exists), comma-separated."),
        bool_flag("--wait-controllers", default=True,
                  help="Wait until the controller Deployments are ready (headwater only; false when the "
                       "controllers run outside the cluster)."),
    ]
    wrapped: Any = func
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]


def make_install_options(namespace: str, params: dict[str, Any]) -> InstallOptions:
    """InstallOptions from the shared flags; a bad value exits with one `✗` line."""
    from headwater.install.options import InstallError, InstallOptions

    opts = InstallOptions(
        namespace=namespace, version=params["version_"], registry=params["registry"],
        components=params["components"], components_extra=params["components_extra"],
        network_policy=params["network_policy"], watch_all_namespaces=params["watch_all_namespaces"],
        log_level=params["log_level"], cluster_domain=params["cluster_domain"],
        image_pull_secret=params["image_pull_secret"], toleration_keys=params["toleration_keys"],
    )
    try:
        opts.validate()
    except InstallError as err:
        fail(str(err))
    return opts


async def install_components(client: KubeClient, install: InstallOptions, opts: Options, deadline: float,
                             wait: bool) -> None:
    """Apply the installation and (when `wait`) wait for its controllers, flux-style lines on stderr."""
    from headwater.install.cluster import apply_manifests, wait_deployments
    from headwater.install.manifests import generate
    from headwater.install.options import InstallError

    try:
        objects = generate(install)
        log("►", f"installing components in {install.namespace} namespace")
        for line in await apply_manifests(client, objects, timeout=max(1.0, deadline - time.monotonic())):
            click.echo(line, err=True)
        if wait:
            log("◎", "verifying installation")
            await wait_deployments(client, install.namespace, [c.name for c in install.selected()],
                                   timeout=max(0.0, deadline - time.monotonic()), report=log)
    except InstallError as err:
        raise CliError(str(err)) from err


@click.command("install")
@bool_flag("--export", help="Print the manifests as YAML instead of applying them.")
@install_flags
@cluster_options()
def install(export: bool, kubeconfig: str | None, context: str | None, namespace: str, timeout: str,
            **params: Any) -> None:
    """Install or upgrade the headwater controllers (Flux's components) on a cluster.

    Applies the CRDs, the controllers' Deployments, RBAC and network policies to the namespace, then waits
    until the controllers are ready. Running it again upgrades in place.
    """
    install_opts = make_install_options(namespace, params)
    if export:
        from headwater.install.manifests import render

        click.echo(render(install_opts), nl=False)
        return
    opts = make_options(kubeconfig, context, namespace, timeout)

    async def body(client: KubeClient) -> None:
        deadline = time.monotonic() + opts.timeout
        await client.version()  # an unreachable cluster is one line, before any progress
        log("✚", "generating manifests")
        log("✔", "manifests build completed")
        await install_components(client, install_opts, opts, deadline, params["wait_controllers"])
        log("✔", "install finished")

    run(opts, body)


@click.command("uninstall")
@bool_flag("--keep-namespace", help="Do not delete the namespace.")
@bool_flag("--dry-run", help="Only print the objects that would be deleted.")
@bool_flag("-s", "--silent", help="Delete without asking for confirmation.")
@cluster_options()
def uninstall(keep_namespace: bool, dry_run: bool, silent: bool, kubeconfig: str | None, context: str | None,
              namespace: str, timeout: str) -> None:
    """Uninstall the controllers and the Flux CRDs; the objects they applied stay.

    Deletes the controllers first, then removes the finalizers of every Flux object (so nothing is
    pruned), then the CRDs and, unless --keep-namespace, the namespace.
    """
    opts = make_options(kubeconfig, context, namespace, timeout)
    if not dry_run and not silent:
        try:
            confirmed = click.confirm("Are you sure you want to delete headwater and its custom resource "
                                      "definitions", default=False, err=True)
        except click.Abort:  # end of input (no terminal) or Ctrl-C
            confirmed = False
        if not confirmed:
            fail("aborting")

    async def body(client: KubeClient) -> None:
        from headwater.install.uninstall import uninstall as run_uninstall

        await client.version()  # fail fast, with one line, when the cluster is unreachable
        await run_uninstall(client, opts.namespace, keep_namespace=keep_namespace, dry_run=dry_run, report=log)

    run(opts, body)

