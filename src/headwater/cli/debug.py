"""`headwater debug helmrelease NAME` (alias hr): what a HelmRelease's controller sees, for troubleshooting.

`--show-status` prints the object's status, `--show-history` its release history (`status.history`),
`--show-values` the values the release is installed with: `spec.valuesFrom` read from the cluster and
composed with `spec.values` by the same code and Helm engine the helm controller uses (so `targetPath`,
`literal` and `optional` mean exactly what they mean to the controller). Each part as go-yaml prints it,
parts separated by `---`, as flux prints them.

The values may hold what the referenced Secrets hold: they are printed because the user asked for
them (as `flux debug hr --show-values > values.yaml` is used), on stdout only, never logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from headwater.api.kinds import HELM_RELEASE
from headwater.cli.common import CliError, cluster_options, fail, get_object, make_options, run
from headwater.cli.names import complete_names
from headwater.cli.nouns import KindGroup, add_kind_leaf
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient


@click.group(cls=KindGroup)
def debug() -> None:
    """Show what the controllers see of Flux resources, for troubleshooting."""


@click.command()
@click.argument("name", required=False, shell_complete=complete_names(HELM_RELEASE))
@bool_flag("--show-status", help="Print the status of the HelmRelease.")
@bool_flag("--show-values", help="Print the final values of the release (they may include Secret data).")
@bool_flag("--show-history", help="Print the release history of the HelmRelease.")
@cluster_options()
def debug_helmrelease(name: str | None, show_status: bool, show_values: bool, show_history: bool,
                      kubeconfig: str | None, context: str | None, namespace: str | None, timeout: str | None) -> None:
    """Print the status, history or final values of a HelmRelease (alias: hr).

    WARNING: --show-values prints what Secrets named in spec.valuesFrom hold.
    """
    from headwater.manifests.goyaml import dump

    if not name:
        fail("HelmRelease name is required")
    if not (show_status or show_values or show_history):
        fail("either --show-status, --show-values or --show-history must be set")
    opts = make_options(kubeconfig, context, namespace, timeout)

    async def body(client: KubeClient) -> list[str]:
        hr = await get_object(client, HELM_RELEASE, name, opts.namespace)
        status = hr.get("status") or {}
        parts: list[str] = []
        if show_status:
            parts.append(dump(status))
        if show_history:
            parts.append(dump(status.get("history") or []))
        if show_values:
            parts.append(dump(await final_values(client, hr)))
        return parts

    click.echo("---\n".join(run(opts, body)), nl=False)


async def final_values(client: KubeClient, hr: dict[str, Any]) -> dict[str, Any]:
    """The values the helm controller would install `hr` with (its engine composes them)."""
    from headwater.helm.controller import engine_binary
    from headwater.helm.engine import EngineError, HelmEngine
    from headwater.helm.values import ValuesError, compose

    engine = HelmEngine(engine_binary())
    try:
        composed = await compose(engine, client, str(hr["metadata"]["namespace"]), hr.get("spec") or {})
    except ValuesError as err:
        raise CliError(str(err)) from None
    except EngineError as err:
        hint = " (build it with `headwater dev build`)" if err.kind == "EngineMissing" else ""
        raise CliError(f"{err.message}{hint}") from None
    finally:
        await engine.close()
    return composed.values


add_kind_leaf(debug, HELM_RELEASE, debug_helmrelease)
