"""`headwater diff kustomization`: what applying local manifests would change, as flux reports it.

A local build (`headwater build kustomization`) followed by a server-side dry-run of every object
against the cluster (`headwater.kustomize.preview`); stdout gets flux's report (`► Kind/ns/name created`,
`drifted` with a field-by-field diff, `deleted` for inventory objects the build no longer holds),
Secret values masked. Scripts rely on flux's exit codes, which differ from every other command's:
0 no difference, 1 differences found, 2 (">1") the diff itself failed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from headwater.api.kinds import KUSTOMIZATION
from headwater.cli.build import build_against, make_request, source_options
from headwater.cli.common import CliError, cluster_options, fail, log, make_options, run
from headwater.cli.names import complete_names
from headwater.cli.nouns import KindGroup, add_kind_leaf
from headwater.pflag import bool_flag

if TYPE_CHECKING:
    from headwater.kustomize.local import Request
    from headwater.runtime.kube import KubeClient

EXIT_CHANGED = 1
EXIT_FAILED = 2
CHANGED_MESSAGE = "identified at least one change, exiting with non-zero exit code"


@contextmanager
def failures_exit_2() -> Iterator[None]:
    """`run` reports a failure with exit code 1, which means "differences found" for diff."""
    try:
        yield
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise SystemExit(EXIT_FAILED) from None
        raise


@contextmanager
def progress(enabled: bool) -> Iterator[None]:
    """flux's spinner, reduced to one status line on an interactive stderr (erased when done)."""
    show = enabled and sys.stderr.isatty()
    if show:
        sys.stderr.write("◎ Kustomization diffing... running dry-run")
        sys.stderr.flush()
    try:
        yield
    finally:
        if show:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


async def diff_against(client: KubeClient, request: Request, show_progress: bool) -> bool:
    """Print the report of every built Kustomization; True when anything would change."""
    from headwater.kustomize.preview import preview

    changed = False
    errors: list[str] = []
    with progress(show_progress):
        results = await build_against(client, request)
        previews = [await preview(client, result.kustomization, result.objects) for result in results]
    for each in previews:
        sys.stdout.write(each.report())
        changed = changed or each.changed
        errors += each.errors
    sys.stdout.flush()
    if errors:
        raise CliError("\n".join(errors))
    return changed


@click.group(cls=KindGroup)
def diff() -> None:
    """Diff Flux resources built locally against the cluster."""


@click.command()
@click.argument("name", required=False, shell_complete=complete_names(KUSTOMIZATION))
@source_options
@bool_flag("--progress-bar", default=True, help="Show progress while diffing (on an interactive terminal).")
@bool_flag("--ignore-not-found",
           help="Diff against nothing when the Kustomization is not in the cluster (needs --kustomization-file).")
@cluster_options()
def diff_kustomization(name: str | None, path: str, kustomization_file: str, ignore_paths: tuple[str, ...],
                       strict_substitute: bool, recursive: bool, local_sources: tuple[str, ...],
                       in_memory_build: bool, progress_bar: bool, ignore_not_found: bool, kubeconfig: str | None,
                       context: str | None, namespace: str, timeout: str) -> None:
    """Build a Kustomization locally, dry-run it against the cluster and print the differences (alias: ks).

    Exit status: 0 no differences were found, 1 differences were found, 2 the diff failed with an error.

    \b
    Examples:
      headwater diff kustomization my-app --path ./apps/my-app
      headwater diff ks my-app --path ./apps/my-app --kustomization-file ./my-app.yaml
    """
    with failures_exit_2():
        opts = make_options(kubeconfig, context, namespace, timeout)
        try:
            request = make_request(name, opts, path=path, kustomization_file=kustomization_file,
                                   ignore_paths=ignore_paths, strict_substitute=strict_substitute,
                                   recursive=recursive, local_sources=local_sources,
                                   ignore_not_found=ignore_not_found)
        except CliError as err:
            fail(str(err))

        async def body(client: KubeClient) -> bool:
            return await diff_against(client, request, progress_bar)

        changed = run(opts, body)
    if changed:
        log("✗", CHANGED_MESSAGE)
        sys.exit(EXIT_CHANGED)


add_kind_leaf(diff, KUSTOMIZATION, diff_kustomization)
