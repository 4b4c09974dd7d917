"""`headwater create …`: generate Flux objects, print them (`--export`) or upsert them and wait.

The tree mirrors flux's: `create source git|helm|chart`, `create kustomization` (alias `ks`),
`create helmrelease` (alias `hr`) and `create secret git|tls|helm`. The objects themselves come from
`headwater.manifests`, so what `--export` prints is what gets applied; this module only holds the
Kustomization leaf and the command tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from headwater.api.kinds import GIT_REPOSITORY, HELM_CHART, HELM_RELEASE, HELM_REPOSITORY, KUSTOMIZATION
from headwater.cli.common import fail, log, run
from headwater.cli.create_common import create_options, export_or_connect, name_argument, require_name
from headwater.cli.create_helm import create_helmrelease, source_chart, source_helm
from headwater.cli.create_secret import secret
from headwater.cli.create_source import source_git
from headwater.cli.nouns import KindGroup, add_kind_leaf
from headwater.pflag import bool_flag, string_slice

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient


@click.group(cls=KindGroup)
def create() -> None:
    """Create or update sources, Kustomizations, HelmReleases and secrets."""


@click.command()
@name_argument
@click.option("--source", "source_", default="", metavar="[KIND/]NAME[.NAMESPACE]",
              help="Source of the manifests: GitRepository (default), OCIRepository or Bucket.")
@click.option("--path", default="./", show_default=True,
              help="Path to the directory with the manifests, relative to the source root.")
@bool_flag("--prune", help="Enable garbage collection.")
@bool_flag("--wait", help="Health-check every applied object (supersedes --health-check).")
@string_slice("--health-check", "health_checks", metavar="KIND/NAME.NAMESPACE",
              help="Workload to include in the health assessment (repeatable, comma-separated).")
@click.option("--health-check-timeout", default="2m", show_default=True, metavar="DURATION",
              help="Timeout of the health checks.")
@click.option("--validation", default=None, hidden=True,
              help="Deprecated and ignored: objects are validated by server-side apply dry-run.")
@string_slice("--depends-on", metavar="[NAMESPACE/]NAME",
              help="Kustomizations that must be ready first (repeatable, comma-separated).")
@click.option("--service-account", default=None, help="Service account to impersonate when applying.")
@click.option("--decryption-provider", default=None, help="Decryption provider (sops).")
@click.option("--decryption-secret", default=None, help="Secret with the keys for SOPS decryption.")
@click.option("--target-namespace", default=None, help="Namespace to set on every applied namespaced object.")
@click.option("--kubeconfig-secret-ref", default=None, help="Secret with a kubeconfig for a remote cluster.")
@click.option("--retry-interval", default=None, metavar="DURATION",
              help="Interval at which to retry a failed reconciliation.")
@create_options
def create_kustomization(name: str | None, source_: str, path: str, prune: bool, wait: bool,
                         health_checks: tuple[str, ...], health_check_timeout: str, validation: str | None,
                         depends_on: tuple[str, ...], service_account: str | None, decryption_provider: str | None,
                         decryption_secret: str | None, target_namespace: str | None,
                         kubeconfig_secret_ref: str | None, retry_interval: str | None, interval: str,
                         export: bool, labels: tuple[str, ...], kubeconfig: str | None, context: str | None,
                         namespace: str, timeout: str) -> None:
    """Create or update a Kustomization and wait for it to apply (alias: ks)."""
    from headwater.manifests import GenerateError, kustomization, parse_labels

    name = require_name(name, "Kustomization")
    if validation:
        log("⚠️", "--validation is deprecated and ignored: objects are validated by server-side apply dry-run")
    try:
        obj = kustomization(
            name, namespace, source=source_, path=path, interval=interval, prune=prune, wait=wait,
            health_checks=health_checks, health_check_timeout=health_check_timeout,
            depends_on=depends_on, target_namespace=target_namespace, service_account=service_account,
            decryption_provider=decryption_provider, decryption_secret=decryption_secret,
            kubeconfig_secret_ref=kubeconfig_secret_ref, retry_interval=retry_interval,
            labels=parse_labels(labels))
    except GenerateError as err:
        fail(str(err))
    opts = export_or_connect(obj, export, kubeconfig, context, namespace, timeout)
    if opts is None:
        return
    log("✚", "generating Kustomization")

    async def body(client: KubeClient) -> None:
        from headwater.cli.upsert import Deadline, upsert, wait_ready

        deadline = Deadline(opts.timeout)
        log("►", "applying Kustomization")
        _, created = await upsert(client, obj)
        log("✔", f"Kustomization {'created' if created else 'updated'}")
        log("◎", "waiting for Kustomization reconciliation")
        ready = await wait_ready(client, KUSTOMIZATION, name, namespace, deadline)
        log("✔", f"Kustomization {name} is ready")
        log("✔", f"applied revision {(ready.get('status') or {}).get('lastAppliedRevision', '')}")

    run(opts, body)


create.subgroup_help = "Create or update {}."
add_kind_leaf(create, GIT_REPOSITORY, source_git)
add_kind_leaf(create, HELM_REPOSITORY, source_helm)
add_kind_leaf(create, HELM_CHART, source_chart)
add_kind_leaf(create, KUSTOMIZATION, create_kustomization)
add_kind_leaf(create, HELM_RELEASE, create_helmrelease)
create.add_command(secret)
