"""Shell completion of object names, read from the cluster.

Completing `headwater reconcile ks <TAB>` should offer the Kustomizations that exist, as flux's
`ValidArgsFunction`s do. A completion runs on every key press, so it must be quick and never noisy:
one list call under a short timeout, and any failure (no kubeconfig, unreachable cluster, CRD missing)
completes nothing rather than printing an error into the user's prompt.

The connection flags are read from the partly parsed command line, leaf first then its parents (so
`headwater -n apps reconcile ks <TAB>` and `headwater reconcile ks -n apps <TAB>` both work).
Only click is imported here: the Kubernetes client is imported when a completion actually runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from headwater.cli.common import DEFAULT_NAMESPACE

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef

COMPLETION_TIMEOUT = 3.0

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def context_param(ctx: click.Context, name: str) -> Any:
    """The first value given for `name` on this command or any parent command, else None."""
    current: click.Context | None = ctx
    while current is not None:
        value = current.params.get(name)
        if value is not None:
            return value
        current = current.parent
    return None


def list_names(api_version: str, kind: str, ctx: click.Context, timeout: float = COMPLETION_TIMEOUT) -> list[str]:
    """Names of `kind` objects in the namespace the command line selects (all namespaces with -A)."""
    import asyncio

    from headwater.runtime.kube import connect

    kubeconfig = context_param(ctx, "kubeconfig")
    namespace = context_param(ctx, "namespace") or os.environ.get("FLUX_SYSTEM_NAMESPACE") or DEFAULT_NAMESPACE
    if context_param(ctx, "all_namespaces"):
        namespace = None

    async def fetch() -> list[str]:
        client = connect(kubeconfig or None, context_param(ctx, "context"), user_agent="headwater-completion")
        client.timeout = timeout
        try:
            items, _ = await client.list_all(api_version, kind, namespace)
        finally:
            await client.close()
        return sorted(str(item["metadata"]["name"]) for item in items)

    async def bounded() -> list[str]:
        return await asyncio.wait_for(fetch(), timeout)

    return asyncio.run(bounded())


def complete_object_names(api_version: str, kind: str, ctx: click.Context, incomplete: str,
                          prefix: str = "", exclude: frozenset[str] = frozenset()) -> list[CompletionItem]:
    """Completion items `prefix + name` for names starting with `incomplete`; [] on any failure."""
    try:
        names = list_names(api_version, kind, ctx)
    except Exception:  # a completion must stay silent whatever went wrong
        return []
    return [CompletionItem(prefix + name) for name in names
            if (prefix + name).startswith(incomplete) and name not in exclude]


def complete_names(kind: KindDef) -> Completer:
    """A `shell_complete` callback completing names of `kind` (names already typed are not offered)."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        given = ctx.params.get(param.name or "")
        typed = frozenset(given) if isinstance(given, tuple | list) else frozenset()
        return complete_object_names(kind.api_version, kind.kind, ctx, incomplete, exclude=typed)

    return complete
