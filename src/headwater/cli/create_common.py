"""What every `create …` leaf shares: flux's create flags, the name check, the export path, the log lines.

flux declares `--interval`, `--export` and `--label` on `create` itself (persistent flags), so users
write them after the leaf (`flux create source git x --export`); click only parses a group's options
before the subcommand, so each leaf carries them instead. Bad input becomes one `✗` line and exit 1
before any cluster access; `--export` never connects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import click

from headwater.cli.common import Options, cluster_options, fail, make_options
from headwater.pflag import bool_flag, string_slice

F = TypeVar("F", bound=Callable[..., Any])


def create_options(func: F) -> F:
    """The create flags (`--interval`, `--export`, `--label`) and the connection options."""
    wrapped: Any = cluster_options()(func)
    for decorator in reversed([
        click.option("--interval", default="1m", show_default=True, metavar="DURATION",
                     help="Source sync interval (Go duration)."),
        bool_flag("--export", help="Print the object(s) as YAML instead of applying them."),
        string_slice("--label", "labels", metavar="KEY=VALUE",
                     help="Set labels on the resource (repeatable, key=value)."),
    ]):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]


def name_argument(func: F) -> F:
    """An optional NAME (flux errors itself when it is missing: exit 1, not click's usage error)."""
    return click.argument("name", required=False)(func)


def require_name(name: str | None, what: str) -> str:
    if not name:
        fail(f"{what} name is required")
    return name


def export_or_connect(obj: Mapping[str, Any], export: bool, kubeconfig: str | None, context: str | None,
                      namespace: str, timeout: str) -> Options | None:
    """`--export`: print `obj` and answer None (nothing to apply); otherwise the options to apply it with."""
    if export:
        print_export([obj])
        return None
    return make_options(kubeconfig, context, namespace, timeout)


def print_export(objects: Iterable[Mapping[str, Any]]) -> None:
    from headwater.manifests import to_yaml

    click.echo(to_yaml(objects), nl=False)


def confirm(question: str) -> bool:
    """A y/N question on stderr, like flux's prompt; no answer (EOF, Ctrl-C) counts as no."""
    import sys

    try:
        answer = click.confirm(question, err=True, default=False)
    except click.Abort:
        answer = False
    if not sys.stdin.isatty():  # a piped answer is not echoed: end the prompt's line ourselves
        click.echo(err=True)
    return answer
