"""`headwater create source helm|chart NAME` and `create helmrelease NAME` (alias hr): flux's Helm generators.

The objects come from `headwater.manifests.helm`, so what `--export` prints is what gets applied.
Like flux, `create source helm` without `--secret-ref` turns `--username/--password` and the
`--cert-file/--key-file/--ca-file` files into a Secret `helm-<name>` (applied first, never printed);
`--export` prints the HelmRepository only. An OCI HelmRepository has nothing to fetch: it is done once
stored. The others wait for Ready (the HelmRelease: for its install or upgrade) up to `--timeout`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from headwater.api.kinds import HELM_CHART, HELM_RELEASE, HELM_REPOSITORY
from headwater.cli.common import fail, log, run
from headwater.cli.create_common import create_options, export_or_connect, name_argument, require_name
from headwater.manifests.helm import CHART_REF_KINDS, CHART_SOURCE_KINDS, CRDS_POLICIES
from headwater.pflag import bool_flag, string_slice

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

FETCH_TIMEOUT_HELP = "Timeout of the fetch operations (Go duration)."


@click.command("helm")
@name_argument
@click.option("--url", default="", help="Helm repository address (http://, https:// or oci://).")
@click.option("-u", "--username", default=None, help="Basic authentication username.")
@click.option("-p", "--password", default=None, help="Basic authentication password.")
@click.option("--cert-file", default=None, help="Path to the TLS client certificate (PEM).")
@click.option("--key-file", default=None, help="Path to the TLS client key (PEM).")
@click.option("--ca-file", default=None, help="Path to the TLS CA certificate (PEM).")
@click.option("--secret-ref", default=None, help="Name of an existing Secret with TLS, basic-auth or docker-config "
                                                  "credentials.")
@click.option("--oci-provider", default=None, help="OCI provider for authentication (generic, aws, azure, gcp).")
@bool_flag("--pass-credentials", help="Pass the credentials to every domain (with a secret).")
@click.option("--fetch-timeout", default=None, metavar="DURATION", help=FETCH_TIMEOUT_HELP)
@create_options
def source_helm(name: str | None, url: str, username: str | None, password: str | None, cert_file: str | None,
                key_file: str | None, ca_file: str | None, secret_ref: str | None, oci_provider: str | None,
                pass_credentials: bool, fetch_timeout: str | None, interval: str, export: bool,
                labels: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str,
                timeout: str) -> None:
    """Create or update a HelmRepository source and wait for its index."""
    from headwater.manifests import GenerateError, helm_repository, parse_labels

    name = require_name(name, "HelmRepository source")
    try:
        label_map = parse_labels(labels)
        obj = helm_repository(name, namespace, url=url, interval=interval, secret_ref=secret_ref,
                              pass_credentials=pass_credentials, oci_provider=oci_provider, timeout=fetch_timeout,
                              labels=label_map)
    except GenerateError as err:
        fail(str(err))
    opts = export_or_connect(obj, export, kubeconfig, context, namespace, timeout)
    if opts is None:
        return
    credentials = {} if secret_ref else _credentials(username, password, cert_file, key_file, ca_file)
    static = obj["spec"].get("type") == "oci"
    log("✚", "generating HelmRepository source")

    async def body(client: KubeClient) -> None:
        from headwater.cli.upsert import Deadline, apply_and_wait, upsert
        from headwater.manifests import secret

        deadline = Deadline(opts.timeout)
        if credentials:
            log("►", "applying secret with repository credentials")
            await upsert(client, secret(f"helm-{name}", namespace, credentials, labels=label_map))
            obj["spec"]["secretRef"] = {"name": f"helm-{name}"}
            if pass_credentials:
                obj["spec"]["passCredentials"] = True
            log("✔", "authentication configured")
        ready = await apply_and_wait(client, obj, HELM_REPOSITORY, deadline, noun="HelmRepository source",
                                     applied="source", static=static)
        log("✔", "HelmRepository source reconciliation completed")
        if static:
            return
        _fetched(ready, "HelmRepository")

    run(opts, body)


def _credentials(username: str | None, password: str | None, cert_file: str | None, key_file: str | None,
                 ca_file: str | None) -> dict[str, str]:
    """The data of the `helm-<name>` Secret (sourcesecret's keys); `✗` on unreadable or non-PEM files."""
    from headwater.cli.create_secret import tls_file_data
    from headwater.manifests import GenerateError, basic_auth_data

    try:
        tls = tls_file_data(cert_file if key_file else None, key_file if cert_file else None, ca_file)
    except GenerateError as err:
        fail(str(err))
    return {**basic_auth_data(username, password), **tls}


def _fetched(ready: dict[str, Any], kind: str) -> None:
    revision = ((ready.get("status") or {}).get("artifact") or {}).get("revision")
    if not revision:
        fail(f"{kind} source reconciliation completed but no artifact was found")
    log("✔", f"fetched revision: {revision}")


@click.command("chart")
@name_argument
@click.option("--chart", default="", help="Helm chart name, or path inside a Git or Bucket artifact.")
@click.option("--chart-version", default=None, help="Helm chart version, a SemVer range (ignored for Git and "
                                                     "Bucket sources).")
@click.option("--source", "source_", default="", metavar="KIND/NAME",
              help=f"Source of the chart, in the same namespace: {', '.join(CHART_SOURCE_KINDS)}.")
@click.option("--reconcile-strategy", default="ChartVersion", show_default=True,
              help="When to build a new artifact: ChartVersion or Revision.")
@click.option("--verify-provider", default=None, help="Signature verification provider (cosign).")
@click.option("--verify-secret-ref", default=None, help="Secret with the keys to verify the signature with.")
@click.option("--verify-subject", default=None, help="Regular expression the OIDC subject must match.")
@click.option("--verify-issuer", default=None, help="Regular expression the OIDC issuer must match.")
@click.option("--fetch-timeout", default=None, metavar="DURATION", help=FETCH_TIMEOUT_HELP + " Unused by HelmChart.")
@create_options
def source_chart(name: str | None, chart: str, chart_version: str | None, source_: str, reconcile_strategy: str,
                 verify_provider: str | None, verify_secret_ref: str | None, verify_subject: str | None,
                 verify_issuer: str | None, fetch_timeout: str | None, interval: str, export: bool,
                 labels: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str,
                 timeout: str) -> None:
    """Create or update a HelmChart source and wait for the chart."""
    from headwater.manifests import GenerateError, helm_chart, parse_labels

    name = require_name(name, "HelmChart source")
    log("✚", "generating HelmChart source")
    try:
        obj = helm_chart(name, namespace, source=source_, chart=chart, version=chart_version, interval=interval,
                         reconcile_strategy=reconcile_strategy, verify_provider=verify_provider,
                         verify_secret_ref=verify_secret_ref, verify_issuer=verify_issuer,
                         verify_subject=verify_subject, labels=parse_labels(labels))
    except GenerateError as err:
        fail(str(err))
    opts = export_or_connect(obj, export, kubeconfig, context, namespace, timeout)
    if opts is None:
        return

    async def body(client: KubeClient) -> None:
        from headwater.cli.upsert import Deadline, apply_and_wait

        ready = await apply_and_wait(client, obj, HELM_CHART, Deadline(opts.timeout), noun="HelmChart source",
                                     applied="source")
        log("✔", "HelmChart source reconciliation completed")
        _fetched(ready, "HelmChart")

    run(opts, body)


@click.command()
@name_argument
@click.option("--release-name", default=None,
              help="Helm release name (default: [<target-namespace>-]<HelmRelease name>).")
@click.option("--source", "source_", default=None, metavar="KIND/NAME[.NAMESPACE]",
              help=f"Source of the chart: {', '.join(CHART_SOURCE_KINDS)}.")
@click.option("--chart", default=None, help="Helm chart name, or path inside a Git or Bucket artifact.")
@click.option("--chart-version", default=None, help="Helm chart version, a SemVer range (ignored for Git and "
                                                     "Bucket sources).")
@click.option("--chart-ref", default=None, metavar="KIND/NAME[.NAMESPACE]",
              help=f"An existing chart artifact instead of --source/--chart: {', '.join(CHART_REF_KINDS)}.")
@string_slice("--depends-on", metavar="[NAMESPACE/]NAME",
              help="HelmReleases that must be ready first (repeatable, comma-separated).")
@click.option("--target-namespace", default=None, help="Namespace to install the release in (default: the "
                                                        "HelmRelease's).")
@click.option("--storage-namespace", default=None, help="Namespace of the Helm storage (default: the target "
                                                         "namespace).")
@bool_flag("--create-target-namespace", help="Create the target namespace if it does not exist.")
@click.option("--service-account", default=None, help="Service account to impersonate for the release.")
@click.option("--reconcile-strategy", default="ChartVersion", show_default=True,
              help="When the HelmChart builds a new artifact: ChartVersion or Revision.")
@click.option("--chart-interval", default=None, metavar="DURATION",
              help="How often to check for new chart versions (default: the --interval).")
@string_slice("--values", "values_files", metavar="FILE",
              help="Local values.yaml files, merged in order (repeatable, comma-separated).")
@string_slice("--values-from", metavar="KIND/NAME",
              help="Secret or ConfigMap whose values.yaml key holds values (repeatable, comma-separated).")
@click.option("--crds", default=None, help=f"CRDs policy on upgrade ({', '.join(CRDS_POLICIES)}); install then "
                                           "creates them.")
@click.option("--kubeconfig-secret-ref", default=None, help="Secret with a kubeconfig for a remote cluster.")
@create_options
def create_helmrelease(name: str | None, release_name: str | None, source_: str | None, chart: str | None,
                       chart_version: str | None, chart_ref: str | None, depends_on: tuple[str, ...],
                       target_namespace: str | None, storage_namespace: str | None, create_target_namespace: bool,
                       service_account: str | None, reconcile_strategy: str, chart_interval: str | None,
                       values_files: tuple[str, ...], values_from: tuple[str, ...], crds: str | None,
                       kubeconfig_secret_ref: str | None, interval: str, export: bool, labels: tuple[str, ...],
                       kubeconfig: str | None, context: str | None, namespace: str, timeout: str) -> None:
    """Create or update a HelmRelease and wait for the release (alias: hr)."""
    from headwater.manifests import GenerateError, helm_release, merge_values_files, parse_labels

    name = require_name(name, "HelmRelease")
    try:
        obj = helm_release(
            name, namespace, source=source_, chart=chart, chart_version=chart_version, chart_ref=chart_ref,
            chart_interval=chart_interval, reconcile_strategy=reconcile_strategy, interval=interval,
            release_name=release_name, target_namespace=target_namespace, storage_namespace=storage_namespace,
            create_target_namespace=create_target_namespace, depends_on=depends_on, service_account=service_account,
            crds=crds, kubeconfig_secret_ref=kubeconfig_secret_ref, values=merge_values_files(values_files),
            values_from=values_from, labels=parse_labels(labels))
    except GenerateError as err:
        fail(str(err))
    opts = export_or_connect(obj, export, kubeconfig, context, namespace, timeout)
    if opts is None:
        return
    log("✚", "generating HelmRelease")

    async def body(client: KubeClient) -> None:
        from headwater.cli.columns import helm_release_revision
        from headwater.cli.upsert import Deadline, apply_and_wait

        ready = await apply_and_wait(client, obj, HELM_RELEASE, Deadline(opts.timeout), noun="HelmRelease",
                                     applied="HelmRelease")
        log("✔", f"HelmRelease {name} is ready")
        log("✔", f"applied revision {helm_release_revision(ready)}")

    run(opts, body)
