"""`headwater dev …`: the local control plane (build, up, down, status, kubeconfig) and the demo.

Failures print one clear line (what failed, which log to read) and exit 1; never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click

from headwater.pflag import bool_flag

DEFAULT_CLUSTER = "default"


@contextmanager
def _friendly_errors() -> Iterator[None]:
    from headwater.devcluster.build import BuildError
    from headwater.devcluster.cluster import ClusterError
    from headwater.runtime.kube.errors import KubeError

    try:
        yield
    except (BuildError, ClusterError, KubeError, OSError, ValueError) as err:
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(1)


def _progress(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


@click.group()
def dev() -> None:
    """Local development tools: a real Kubernetes control plane on this machine."""


@dev.command("build")
def build_cmd() -> None:
    """Build (once) and cache the control-plane binaries, the Helm engine, the helm CLI and the cosign CLI
    (the signature tests sign with it) from their Go modules."""
    from headwater.devcluster import build, cosigntool, helmtools

    with _friendly_errors():
        bins = build.ensure_built(_progress)
        helmtools.ensure_helm_tools(_progress)
        cosigntool.ensure_cosign(_progress)
        click.echo(f"binaries ready: {bins.kube_apiserver.parent.parent}")


@dev.group()
def cluster() -> None:
    """Start, stop and inspect local clusters (several can run side by side)."""


name_option = click.option("--name", default=DEFAULT_CLUSTER, show_default=True, help="Cluster name.")


@cluster.command("up")
@name_option
@click.option("--nodes", default=2, show_default=True, help="Number of fake (kwok) nodes.")
@click.option("--api-port", type=int, default=None, help="Preferred apiserver port (another is chosen if taken).")
def cluster_up(name: str, nodes: int, api_port: int | None) -> None:
    """Start a cluster (idempotent: a running one is left as it is)."""
    from headwater.devcluster.cluster import Cluster

    with _friendly_errors():
        info = Cluster(name, nodes=nodes, api_port=api_port).up(_progress)
        click.echo(f"apiserver:  {info.server}")
        click.echo(f"kubeconfig: {info.kubeconfig}")
        click.echo(f"try:        kubectl --kubeconfig {info.kubeconfig} get nodes")


@cluster.command("down")
@name_option
@bool_flag("--all", "all_", help="Stop every local cluster.")
def cluster_down(name: str, all_: bool) -> None:
    """Stop the cluster's processes and remove its state."""
    from headwater.devcluster.cluster import Cluster, list_clusters

    with _friendly_errors():
        for each in list_clusters() if all_ else [name]:
            Cluster(each).down(_progress)


@cluster.command("status")
@name_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def cluster_status(name: str, output: str) -> None:
    """Show whether the cluster runs and which components are alive. Exit 1 when not running."""
    from headwater.devcluster.cluster import Cluster

    with _friendly_errors():
        status = Cluster(name).status()
    if output == "json":
        click.echo(json.dumps(status, indent=2))
    else:
        click.echo(f"cluster {name}: {'running' if status['running'] else 'not running'}")
        if status.get("server"):
            click.echo(f"  apiserver  {status['server']}")
            click.echo(f"  kubeconfig {status['kubeconfig']}")
        for component, alive in status["components"].items():
            click.echo(f"  {component:<24} {'alive' if alive else 'DEAD'}")
    sys.exit(0 if status["running"] else 1)


@cluster.command("kubeconfig")
@name_option
@bool_flag("--path", "path_only", help="Print the file's path instead of its content.")
def cluster_kubeconfig(name: str, path_only: bool) -> None:
    """Print the admin kubeconfig of a running cluster."""
    from headwater.devcluster.cluster import Cluster

    info = Cluster(name).info()
    if info is None:
        click.secho(f"error: cluster {name} is not running (start it with `headwater dev cluster up`)",
                    fg="red", err=True)
        sys.exit(1)
    click.echo(str(info.kubeconfig) if path_only else info.kubeconfig.read_text(), nl=path_only)


@cluster.command("list")
def cluster_list() -> None:
    """List local clusters that have state on this machine."""
    from headwater.devcluster.cluster import Cluster, list_clusters

    for each in list_clusters():
        status = Cluster(each).status()
        click.echo(f"{each:<20} {'running' if status['running'] else 'stopped'}  {status.get('server', '')}")


@dev.command("demo")
@name_option
def demo(name: str) -> None:
    """Run the GitOps demo: a cluster, a Git server with an example repo, the controllers, a bootstrap."""
    from headwater.devcluster.demo import run_demo

    with _friendly_errors():
        run_demo(name, _progress, click.echo)


@dev.command("down")
@name_option
def dev_down(name: str) -> None:
    """Stop the demo: its controllers, its Git server and its cluster."""
    from headwater.devcluster.demo import stop_demo

    with _friendly_errors():
        stop_demo(name, _progress)
