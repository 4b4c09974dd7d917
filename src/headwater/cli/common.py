"""Shared pieces of the cluster-facing commands (`get`, `reconcile`, `suspend`, `resume`, `version`).

Every such command takes kubectl-style connection options (`--kubeconfig`, `--context`, `-n`,
`--timeout`), runs one coroutine against the cluster and turns every expected failure into one
flux-style `✗ …` line on stderr and exit code 1 (never a traceback). Log lines go to stderr like
flux's logger; tables and versions go to stdout.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.runtime.kube import KubeClient

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_NAMESPACE = "flux-system"
DEFAULT_TIMEOUT = "5m"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
POLL_INTERVAL = 0.5


class CliError(Exception):
    """A failure to report as one `✗ message` line (exit 1)."""


@dataclass(frozen=True)
class Options:
    kubeconfig: str | None
    context: str | None
    namespace: str
    timeout: float
    all_namespaces: bool = False


def parse_timeout(text: str) -> float:
    from headwater.api.duration import DurationError, parse_positive

    try:
        return parse_positive(text).seconds
    except DurationError as err:
        raise click.BadParameter(str(err)) from err


def _inherit_from_root(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A leaf flag left unset takes the value given before the subcommand (`headwater -n x get ks`),
    which itself falls back to its environment variable and default (see `headwater.cli.main`)."""
    if value is not None:
        return value
    root = ctx.find_root()
    return root.params.get(param.name or "") if root is not ctx else None


def cluster_options(all_namespaces: bool = False) -> Callable[[F], F]:
    """The connection options of flux's persistent flags, added to one leaf command (as `opts`).

    They may be given before the subcommand too (kubectl style); given after it, they win.
    """

    def decorate(func: F) -> F:
        decorators = [
            click.option("--kubeconfig", default=None, metavar="PATH", callback=_inherit_from_root,
                         help="Path to the kubeconfig file (env KUBECONFIG)."),
            click.option("--context", default=None, callback=_inherit_from_root,
                         help="The kubeconfig context to use."),
            click.option("-n", "--namespace", default=None, callback=_inherit_from_root,
                         help=f"The namespace scope (default {DEFAULT_NAMESPACE}, env FLUX_SYSTEM_NAMESPACE)."),
            click.option("--timeout", default=None, metavar="DURATION", callback=_inherit_from_root,
                         help="Timeout for this operation (Go duration, e.g. 30s, 5m; default 5m)."),
        ]
        if all_namespaces:
            decorators.append(bool_flag("-A", "--all-namespaces",
                                        help="List the requested object(s) across all namespaces."))
        wrapped: Any = func
        for decorator in reversed(decorators):
            wrapped = decorator(wrapped)
        return wrapped  # type: ignore[no-any-return]

    return decorate


def make_options(kubeconfig: str | None, context: str | None, namespace: str | None, timeout: str | None,
                 all_namespaces: bool = False) -> Options:
    return Options(kubeconfig or None, context, namespace or os.environ.get("FLUX_SYSTEM_NAMESPACE") or
                   DEFAULT_NAMESPACE, parse_timeout(timeout or DEFAULT_TIMEOUT), all_namespaces)


def log(symbol: str, message: str) -> None:
    """One flux-style log line on stderr (`►` action, `✔` success, `◎` waiting, `✗` failure)."""
    click.echo(f"{symbol} {message}", err=True)


def fail(message: str) -> NoReturn:
    click.echo(f"✗ {message}", err=True)
    sys.exit(1)


def run(opts: Options, body: Callable[[KubeClient], Coroutine[Any, Any, T]]) -> T:
    """Connect, run `body(client)` under the `--timeout` budget, report failures flux-style."""
    from headwater.runtime.kube import ClusterUnreachable, ConfigError, KubeError, NotFound, UnknownKind, connect

    async def main() -> T:
        kubeconfig = opts.kubeconfig
        if kubeconfig and os.pathsep in kubeconfig:  # KUBECONFIG=a:b: the loader merges the env's list
            os.environ["KUBECONFIG"] = kubeconfig
            kubeconfig = None
        client = connect(kubeconfig, opts.context, user_agent="headwater-cli")
        client.timeout = min(client.timeout, opts.timeout)
        try:
            return await body(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except CliError as err:
        fail(str(err))
    except UnknownKind as err:
        fail(f"{err} (are the Flux CRDs installed?)")
    except ClusterUnreachable as err:
        fail(str(err))
    except ConfigError as err:
        fail(f"kubeconfig: {err}")
    except NotFound as err:
        fail(str(err))
    except KubeError as err:
        fail(str(err))
    except OSError as err:
        fail(str(err))


# -- object helpers --------------------------------------------------------------------------------


def conditions(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((obj.get("status") or {}).get("conditions") or [])


def condition(obj: Mapping[str, Any], cond_type: str) -> dict[str, Any] | None:
    for each in conditions(obj):
        if each.get("type") == cond_type:
            return each
    return None


def ready_status(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(READY, MESSAGE) as flux prints them: without a Ready condition, False / waiting to be reconciled."""
    ready = condition(obj, "Ready")
    if ready is None:
        return "False", "waiting to be reconciled"
    return str(ready.get("status", "Unknown")), str(ready.get("message", ""))


def is_suspended(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("spec") or {}).get("suspend"))


def revision_of(obj: Mapping[str, Any]) -> str:
    """The revision a `get` table shows: the source artifact's, or the last applied one."""
    status = obj.get("status") or {}
    return str((status.get("artifact") or {}).get("revision") or status.get("lastAppliedRevision") or "")


def truncate_hex(revision: str) -> str:
    """flux's utils.TruncateHex: `main@sha1:696f056df…` → `main@sha1:696f056d` (digests kept at 8+)."""
    import re

    return re.sub(r"((?:sha1|sha256|sha384|sha512):)([0-9a-f]{8})[0-9a-f]+", r"\1\2", revision)


def rfc3339nano(now_ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC: fractional seconds without trailing zeros."""
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def identify(kind: KindDef, namespace: str, name: str) -> str:
    return f"{kind.kind} '{namespace}/{name}'"


async def get_object(client: KubeClient, kind: KindDef, name: str, namespace: str) -> dict[str, Any]:
    from headwater.runtime.kube import NotFound

    try:
        return await client.get(kind.api_version, kind.kind, name, namespace)
    except NotFound as err:
        raise CliError(f"{identify(kind, namespace, name)} not found") from err


async def names_or_all(client: KubeClient, kind: KindDef, names: Sequence[str], namespace: str,
                       all_: bool) -> list[str]:
    if all_:
        items, _ = await client.list_all(kind.api_version, kind.kind, namespace)
        found = [str(item["metadata"]["name"]) for item in items]
        if not found:
            raise CliError(f"no {kind.kind} objects found in {namespace} namespace")
        return found
    if not names:
        raise CliError(f"please specify a {kind.kind} name (or --all)")
    return list(names)


async def wait_until(
    probe: Callable[[], Awaitable[T | None]], what: str, deadline: float, timeout_text: str
) -> T:
    """Poll `probe` until it returns a value; a CliError naming `what` at the deadline."""
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise CliError(f"timed out after {timeout_text} waiting for {what}")
        await asyncio.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))


def format_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
