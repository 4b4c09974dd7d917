"""`headwater version`: the client's version and, from a cluster, the apiserver's (like `flux version`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from headwater.cli.common import cluster_options, make_options, run
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient


@click.command("version")
@bool_flag("--client", "client_only", help="Print only the client version (no cluster access).")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="Output format.")
@cluster_options()
def version(client_only: bool, output: str, kubeconfig: str | None, context: str | None, namespace: str,
            timeout: str) -> None:
    """Print the client and the cluster's versions."""
    from headwater import __version__

    info: dict[str, str] = {"headwater": f"v{__version__}"}
    if not client_only:
        opts = make_options(kubeconfig, context, namespace, timeout)

        async def body(client: KubeClient) -> str:
            return str((await client.version()).get("gitVersion", "unknown"))

        info["kubernetes"] = run(opts, body)
    if output == "json":
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            click.echo(f"{key}: {value}")
