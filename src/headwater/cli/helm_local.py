"""`headwater build helmrelease` and `headwater diff helmrelease`: two commands Flux lacks.

Both render the HelmRelease as the controller would (`headwater.helm.local`) with the real Helm engine
started for the command. `build` prints the manifest the release would store, Secret values masked;
`diff` dry-runs every rendered object against the cluster under the helm controller's field manager
(`headwater.kustomize.preview`, the same report and exit codes as `diff kustomization`: 0 no
difference, 1 differences found, 2 the diff failed) and lists the release's inventory objects the
render no longer holds as deleted, as an upgrade would remove them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from headwater.api.defs.helm import HELM_RELEASE
from headwater.cli.build import build
from headwater.cli.common import CliError, cluster_options, fail, log, make_options, run
from headwater.cli.diff import CHANGED_MESSAGE, EXIT_CHANGED, diff, failures_exit_2
from headwater.cli.names import complete_names
from headwater.cli.nouns import add_kind_leaf
from headwater.pflag import string_slice

if TYPE_CHECKING:
    from headwater.helm.local import Rendered, Request
    from headwater.runtime.kube import KubeClient

F = TypeVar("F", bound=Callable[..., Any])


def render_options(func: F) -> F:
    """The flags both commands share."""
    wrapped: Any = func
    for decorator in reversed([
        click.option("--path", default="", metavar="DIR",
                     help="Path to a local chart directory, used instead of the chart source's artifact."),
        string_slice("--values", metavar="FILES",
                     help="Local values files merged over the HelmRelease's values, in order (comma-separated, "
                     "repeatable)."),
        click.option("--helmrelease-file", default="", metavar="FILE",
                     help="Path to the HelmRelease YAML file (used instead of the cluster's)."),
    ]):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[no-any-return]


def make_request(name: str | None, namespace: str, path: str, values: tuple[str, ...],
                 helmrelease_file: str) -> Request:
    from headwater.helm.local import Request

    if not name:
        raise CliError("helmrelease name is required")
    if path and not Path(path).is_dir():
        raise CliError(f'invalid chart path "{path}"')
    files = tuple(Path(v) for v in values)
    for file in files:
        if not file.is_file():
            raise CliError(f'invalid values file "{file}"')
    if helmrelease_file and not Path(helmrelease_file).is_file():
        raise CliError(f'invalid helmrelease file "{helmrelease_file}"')
    return Request(name=name, namespace=namespace, path=Path(path).resolve() if path else None, values_files=files,
                   release_file=Path(helmrelease_file) if helmrelease_file else None)


def request_or_fail(name: str | None, namespace: str, path: str, values: tuple[str, ...],
                    helmrelease_file: str) -> Request:
    """The validated command line, or the flux-style one-line error and exit code 1."""
    try:
        return make_request(name, namespace, path, values, helmrelease_file)
    except CliError as err:
        fail(str(err))


async def render_against(client: KubeClient, request: Request) -> Rendered:
    from headwater.helm.controller import engine_binary
    from headwater.helm.engine import HelmEngine
    from headwater.helm.local import LocalRenderError, render_release

    engine = HelmEngine(engine_binary())
    try:
        return await render_release(client, engine, request)
    except LocalRenderError as err:
        raise CliError(str(err)) from err
    finally:
        await engine.close()


@click.command()
@click.argument("name", required=False, shell_complete=complete_names(HELM_RELEASE))
@render_options
@cluster_options()
def build_helmrelease(name: str | None, path: str, values: tuple[str, ...], helmrelease_file: str,
                      kubeconfig: str | None, context: str | None, namespace: str, timeout: str) -> None:
    """Render a HelmRelease as the controller would release it and print the YAML (alias: hr).

    The HelmRelease is read from the cluster (or --helmrelease-file); its values are composed with
    valuesFrom as the controller composes them, then --values files are merged on top; the chart is
    --path or the artifact of the HelmRelease's chart source; post-renderers and commonMetadata apply.
    The output is the manifest the release would store (no hooks, no crds/), Secret values as ***.

    \b
    Examples:
      headwater build helmrelease podinfo -n apps
      headwater build hr podinfo -n apps --path ./charts/podinfo --values ./staging-values.yaml
    """
    opts = make_options(kubeconfig, context, namespace, timeout)
    request = request_or_fail(name, opts.namespace, path, values, helmrelease_file)

    async def body(client: KubeClient) -> Rendered:
        return await render_against(client, request)

    rendered = run(opts, body)
    from headwater.kustomize.local import to_yaml
    from headwater.kustomize.masking import mask_secret_values

    sys.stdout.write(to_yaml([mask_secret_values(obj) for obj in rendered.objects]))


@click.command()
@click.argument("name", required=False, shell_complete=complete_names(HELM_RELEASE))
@render_options
@cluster_options()
def diff_helmrelease(name: str | None, path: str, values: tuple[str, ...], helmrelease_file: str,
                     kubeconfig: str | None, context: str | None, namespace: str, timeout: str) -> None:
    """Render a HelmRelease locally, dry-run it against the cluster and print the differences (alias: hr).

    Exit status: 0 no differences were found, 1 differences were found, 2 the diff failed with an error.

    \b
    Examples:
      headwater diff helmrelease podinfo -n apps --values ./new-values.yaml
      headwater diff hr podinfo -n apps --path ./charts/podinfo
    """
    with failures_exit_2():
        opts = make_options(kubeconfig, context, namespace, timeout)
        request = request_or_fail(name, opts.namespace, path, values, helmrelease_file)

        async def body(client: KubeClient) -> bool:
            from headwater.helm.atomic import FIELD_MANAGER
            from headwater.helm.local import inventory_owner, objects_as_applied
            from headwater.kustomize.preview import Preview, diff_object, pruned
            from headwater.runtime.kube import KubeError

            rendered = await render_against(client, request)
            objects = objects_as_applied(rendered)
            report = Preview([], [])
            for obj in objects:
                try:
                    report.changes.append(await diff_object(client, obj, {}, FIELD_MANAGER))
                except KubeError as err:
                    report.errors.append(str(err))
            if report.errors:
                raise CliError("\n".join(report.errors))
            report.changes += pruned(inventory_owner(rendered), objects)
            sys.stdout.write(report.report())
            sys.stdout.flush()
            return report.changed

        changed = run(opts, body)
    if changed:
        log("✗", CHANGED_MESSAGE)
        sys.exit(EXIT_CHANGED)


add_kind_leaf(build, HELM_RELEASE, build_helmrelease)
add_kind_leaf(diff, HELM_RELEASE, diff_helmrelease)

__all__ = ["build", "build_helmrelease", "diff", "diff_helmrelease"]
