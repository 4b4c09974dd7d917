"""`headwater build kustomization`: the manifests a Kustomization would apply, built from a local directory.

The point is to see, before pushing, what the controller will apply: so the build is the controller's
own pipeline (`headwater.kustomize.local`) with the Kustomization read from the cluster (or a file, and
with `--dry-run` no cluster at all), and the output is flux's multi-document YAML on stdout. Errors are
one `✗ …` line and exit code 1, as for every other command.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from headwater.api.kinds import KUSTOMIZATION
from headwater.cli.common import CliError, Options, cluster_options, fail, make_options, run
from headwater.cli.names import complete_names
from headwater.cli.nouns import KindGroup, add_kind_leaf
from headwater.pflag import bool_flag, string_slice

if TYPE_CHECKING:
    from headwater.kustomize.local import Request, Result
    from headwater.runtime.kube import KubeClient

F = TypeVar("F", bound=Callable[..., Any])


def source_options(func: F) -> F:
    """The flags `build kustomization` and `diff kustomization` share."""
    wrapped: Any = func
    for decorator in reversed([
        click.option("--path", default="", metavar="DIR", help="Path to the local manifests, standing for "
                     "the Kustomization's spec.path."),
        click.option("--kustomization-file", default="", metavar="FILE",
                     help="Path to the Flux Kustomization YAML file (used instead of the cluster's)."),
        string_slice("--ignore-paths", metavar="PATTERNS",
                     help="Paths to leave out of a generated kustomization.yaml, in .gitignore format "
                     "(comma-separated, repeatable)."),
        bool_flag("--strict-substitute", help="Fail when a variable without a default is used but not defined."),
        bool_flag("-r", "--recursive", help="Also build the Kustomizations this one contains."),
        string_slice("--local-sources", metavar="KIND/NS/NAME=PATH",
                     help="Local checkouts of the sources of nested Kustomizations (comma-separated, repeatable)."),
        bool_flag("--in-memory-build",
                  help="Accepted for compatibility: builds always run on a scratch copy, never in DIR."),
    ]):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]


def make_request(name: str | None, opts: Options, *, path: str, kustomization_file: str,
                 ignore_paths: tuple[str, ...], dry_run: bool = False, strict_substitute: bool = False,
                 recursive: bool = False, local_sources: tuple[str, ...] = (),
                 ignore_not_found: bool = False) -> Request:
    """The validated command line; a CliError names the flag at fault."""
    from headwater.kustomize.local import LocalBuildError, Request, parse_local_sources

    if not name:
        raise CliError("kustomization name is required")
    if not path or not Path(path).is_dir():
        raise CliError(f'invalid resource path "{path}"')
    if dry_run and not kustomization_file:
        raise CliError("dry-run mode requires a kustomization file")
    if ignore_not_found and not kustomization_file:
        raise CliError("--ignore-not-found requires a kustomization file")
    if kustomization_file and not Path(kustomization_file).is_file():
        raise CliError(f'invalid kustomization file "{kustomization_file}"')
    try:
        sources = parse_local_sources(local_sources)
    except LocalBuildError as err:
        raise CliError(str(err)) from err
    return Request(name=name, namespace=opts.namespace, path=Path(path).resolve(),
                   kustomization_file=Path(kustomization_file) if kustomization_file else None,
                   ignore_paths=ignore_paths, dry_run=dry_run, strict_substitute=strict_substitute,
                   recursive=recursive, local_sources=sources, ignore_not_found=ignore_not_found,
                   timeout=opts.timeout)


async def build_against(client: KubeClient | None, request: Request) -> list[Result]:
    """Build with the cluster's Kustomization, variables and field types (none for a dry-run)."""
    from headwater.kustomize.local import LocalBuildError, build_local
    from headwater.runtime.kube.openapi import OpenAPITypes

    async def get(api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        assert client is not None
        return await client.get_or_none(api_version, kind, name, namespace)

    try:
        if client is None:
            return await build_local(request, None, None)
        return await build_local(request, get, OpenAPITypes(client))
    except LocalBuildError as err:
        raise CliError(str(err)) from err


def build_offline(request: Request) -> list[Result]:
    """`--dry-run`: no connection at all; failures reported as `run` reports them."""
    try:
        return asyncio.run(asyncio.wait_for(build_against(None, request), request.timeout))
    except CliError as err:
        fail(str(err))
    except TimeoutError:
        fail(f"build timed out after {request.timeout:g}s")


@click.group(cls=KindGroup)
def build() -> None:
    """Build Flux resources locally."""


@click.command()
@click.argument("name", required=False, shell_complete=complete_names(KUSTOMIZATION))
@source_options
@bool_flag("--dry-run", help="Use only --kustomization-file: no cluster access (variables from "
              "substituteFrom are not substituted).")
@cluster_options()
def build_kustomization(name: str | None, path: str, kustomization_file: str, ignore_paths: tuple[str, ...],
                        strict_substitute: bool, recursive: bool, local_sources: tuple[str, ...],
                        in_memory_build: bool, dry_run: bool, kubeconfig: str | None, context: str | None,
                        namespace: str, timeout: str) -> None:
    """Build a Kustomization from local manifests, as the controller would, and print the YAML (alias: ks).

    The Kustomization is read from the cluster (or --kustomization-file); a kustomization.yaml is
    generated when DIR has none; the spec's overlay (targetNamespace, namePrefix/Suffix, commonMetadata,
    patches, images, components), kustomize and postBuild substitution run as in the controller. Secret
    values never leave the machine's memory: SOPS ones print as **SOPS**, the others as ***.

    \b
    Examples:
      headwater build kustomization my-app --path ./apps/my-app
      headwater build ks my-app --path ./apps/my-app --kustomization-file ./my-app.yaml --dry-run
      headwater build ks my-app --path ./apps --recursive --local-sources GitRepository/flux-system/repo=.
    """
    opts = make_options(kubeconfig, context, namespace, timeout)
    try:
        request = make_request(name, opts, path=path, kustomization_file=kustomization_file,
                               ignore_paths=ignore_paths, dry_run=dry_run, strict_substitute=strict_substitute,
                               recursive=recursive, local_sources=local_sources)
    except CliError as err:
        fail(str(err))
    if dry_run:
        results = build_offline(request)
    else:
        async def body(client: KubeClient) -> list[Result]:
            return await build_against(client, request)

        results = run(opts, body)
    from headwater.kustomize.local import to_yaml
    from headwater.kustomize.masking import mask_secret_values

    sys.stdout.write(to_yaml([mask_secret_values(obj) for result in results for obj in result.objects]))


add_kind_leaf(build, KUSTOMIZATION, build_kustomization)
