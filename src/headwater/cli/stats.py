"""`headwater stats [-A]`: how many objects of each Flux kind there are and how they are doing, as flux prints it.

One row per kind of the registry (the RECONCILERS column names it): RUNNING (objects not suspended),
FAILING (Ready=False), SUSPENDED, STORAGE (the summed `status.artifact.size` of a source kind, in
binary units as flux formats them: `-`, `512 B`, `1.5 KiB`). A kind the cluster does not serve
counts zero, as in flux.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from headwater.api.kinds import ALL_KINDS
from headwater.cli.common import cluster_options, condition, is_suspended, make_options, run

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

HEADER = ["RECONCILERS", "RUNNING", "FAILING", "SUSPENDED", "STORAGE"]


def format_size(size: int) -> str:
    """flux's formatSize: `-` for nothing, bytes below 1 KiB, else one decimal and a binary prefix."""
    if size <= 0:
        return "-"
    if size < 1024:
        return f"{size} B"
    div, exp = 1024, 0
    rest = size // 1024
    while rest >= 1024:
        div *= 1024
        exp += 1
        rest //= 1024
    return f"{size / div:.1f} {'KMGTPE'[exp]}iB"


def stats_row(kind: str, items: Iterable[dict[str, Any]]) -> list[str]:
    objects = list(items)
    suspended = sum(1 for obj in objects if is_suspended(obj))
    failing = sum(1 for obj in objects if (condition(obj, "Ready") or {}).get("status") == "False")
    size = 0
    for obj in objects:
        value = ((obj.get("status") or {}).get("artifact") or {}).get("size")
        if isinstance(value, int) and not isinstance(value, bool):
            size += value
    return [kind, str(len(objects) - suspended), str(failing), str(suspended), format_size(size)]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@cluster_options(all_namespaces=True)
def stats(kubeconfig: str | None, context: str | None, namespace: str | None, timeout: str | None,
          all_namespaces: bool) -> None:
    """Print how many objects of each Flux kind reconcile, fail or are suspended, and their storage."""
    from headwater.cli.get import render
    from headwater.runtime.kube import UnknownKind

    opts = make_options(kubeconfig, context, namespace, timeout, all_namespaces)

    async def body(client: KubeClient) -> list[list[str]]:
        rows = []
        for kind in ALL_KINDS:
            try:
                items, _ = await client.list_all(kind.api_version, kind.kind,
                                                 None if opts.all_namespaces else opts.namespace)
            except UnknownKind:
                items = []
            rows.append(stats_row(kind.kind, items))
        return rows

    render(HEADER, run(opts, body), no_header=False)
