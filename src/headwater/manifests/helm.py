"""The Helm objects `create source helm|chart … --export` and `create helmrelease … --export` print.

The same rules as flux's generators, so that the YAML is flux's to the byte: which flags set which
fields, which are left out when empty, the defaults (`reconcileStrategy: ChartVersion`), and the
values of `--values` files merged in order the way fluxcd/pkg's `transform.MergeMaps` merges them
(maps merged key by key, anything else replaced) after the JSON round trip flux's Go code gives them
(numbers through float64, map keys as strings). Bad flags raise
:class:`~headwater.manifests.fields.GenerateError` with flux's message before anything is built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from headwater.api.kinds import HELM_CHART, HELM_RELEASE, HELM_REPOSITORY, resolve
from headwater.manifests.fields import GenerateError, check_name, go_duration, parse_depends_on, split_url
from headwater.manifests.objects import object_meta

HELM_URL_SCHEMES: Final = ("http", "https", "oci")
OCI_PROVIDERS: Final = ("generic", "aws", "azure", "gcp")
#: The kinds a chart template may come from (HelmChart spec.sourceRef), in flux's order.
CHART_SOURCE_KINDS: Final = HELM_CHART.reference_at("spec", "sourceRef").kinds
#: The kinds `--chart-ref` may name (HelmRelease spec.chartRef).
CHART_REF_KINDS: Final = HELM_RELEASE.reference_at("spec", "chartRef").kinds
RECONCILE_STRATEGIES: Final = ("Revision", "ChartVersion")
CRDS_POLICIES: Final = ("Skip", "Create", "CreateReplace")
VALUES_FROM_KINDS: Final = ("Secret", "ConfigMap")
VERIFY_PROVIDERS: Final = ("cosign",)
MAX_VALUES_FILE_BYTES: Final = 16 * 1024 * 1024


def helm_repository(name: str, namespace: str, *, url: str, interval: str = "1m", secret_ref: str | None = None,
                    pass_credentials: bool = False, oci_provider: str | None = None, timeout: str | None = None,
                    labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A HelmRepository as `flux create source helm NAME --export` prints it.

    An `oci://` URL makes it `type: oci` (with `--oci-provider`); `passCredentials` goes with a secret
    reference only, as flux sets it.
    """
    scheme = check_helm_url(url)
    spec: dict[str, Any] = {"interval": go_duration(interval, "--interval"), "url": url}
    if oci_provider and oci_provider not in OCI_PROVIDERS:
        raise GenerateError(f"source OCI provider '{oci_provider}' is not supported, must be one of: "
                            + ", ".join(OCI_PROVIDERS))
    if scheme == "oci":
        spec["type"] = "oci"
        if oci_provider:
            spec["provider"] = oci_provider
    if timeout:
        spec["timeout"] = go_duration(timeout, "--fetch-timeout")
    if secret_ref:
        check_name(secret_ref, "--secret-ref")
        spec["secretRef"] = {"name": secret_ref}
        if pass_credentials:
            spec["passCredentials"] = True
    return {"apiVersion": HELM_REPOSITORY.api_version, "kind": HELM_REPOSITORY.kind,
            "metadata": object_meta(name, namespace, labels), "spec": spec}


def helm_chart(name: str, namespace: str, *, source: str, chart: str, version: str | None = None,
               interval: str = "1m", reconcile_strategy: str = "ChartVersion", verify_provider: str | None = None,
               verify_secret_ref: str | None = None, verify_issuer: str | None = None,
               verify_subject: str | None = None, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A HelmChart as `flux create source chart NAME --export` prints it (its source in its namespace)."""
    if not source:
        raise GenerateError("chart source is required")
    source_ref = parse_chart_source(source, local=True)
    if not chart:
        raise GenerateError("chart name or path is required")
    spec: dict[str, Any] = {"chart": chart, "interval": go_duration(interval, "--interval"),
                            "reconcileStrategy": reconcile_strategy, "sourceRef": source_ref}
    if version:
        spec["version"] = version
    if verify_provider:
        if verify_provider not in VERIFY_PROVIDERS:
            raise GenerateError(f"source OCI verify provider '{verify_provider}' is not supported, must be one of: "
                                + ", ".join(VERIFY_PROVIDERS))
        verify: dict[str, Any] = {"provider": verify_provider}
        if verify_secret_ref:
            check_name(verify_secret_ref, "--verify-secret-ref")
            verify["secretRef"] = {"name": verify_secret_ref}
        if verify_issuer or verify_subject:
            verify["matchOIDCIdentity"] = [{"issuer": verify_issuer or "", "subject": verify_subject or ""}]
        spec["verify"] = verify
    elif verify_secret_ref:
        raise GenerateError("a verification provider must be specified when a secret is specified")
    elif verify_issuer or verify_subject:
        raise GenerateError("a verification provider must be specified when OIDC issuer/subject is specified")
    return {"apiVersion": HELM_CHART.api_version, "kind": HELM_CHART.kind,
            "metadata": object_meta(name, namespace, labels), "spec": spec}


def helm_release(
    name: str,
    namespace: str,
    *,
    source: str | None = None,
    chart: str | None = None,
    chart_version: str | None = None,
    chart_ref: str | None = None,
    chart_interval: str | None = None,
    reconcile_strategy: str = "ChartVersion",
    interval: str = "1m",
    release_name: str | None = None,
    target_namespace: str | None = None,
    storage_namespace: str | None = None,
    create_target_namespace: bool = False,
    depends_on: Sequence[str] = (),
    service_account: str | None = None,
    crds: str | None = None,
    kubeconfig_secret_ref: str | None = None,
    values: Mapping[str, Any] | None = None,
    values_from: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A HelmRelease as `flux create helmrelease NAME --export` prints it.

    The chart is either a template (`--source` + `--chart`, a HelmChart the controller creates) or a
    reference to an existing chart artifact (`--chart-ref`), never both. `values` are the already
    merged `--values` files (see :func:`merge_values_files`).
    """
    if not chart and not chart_ref:
        raise GenerateError("chart or chart-ref is required")
    if chart and chart_ref:
        raise GenerateError("cannot use --chart in combination with --chart-ref")
    if reconcile_strategy not in RECONCILE_STRATEGIES:
        raise GenerateError(f"'{reconcile_strategy}' is an invalid reconcile strategy(valid: Revision, ChartVersion)")
    spec: dict[str, Any] = {"interval": go_duration(interval, "--interval")}
    if release_name:
        spec["releaseName"] = release_name
    dependencies = parse_depends_on(depends_on)
    if dependencies:
        spec["dependsOn"] = dependencies
    for flag, field, value in (("--target-namespace", "targetNamespace", target_namespace),
                               ("--storage-namespace", "storageNamespace", storage_namespace)):
        if value:
            check_name(value, flag)
            spec[field] = value
    if chart:
        if not source:
            raise GenerateError("chart source is required: use --source=<kind>/<name>[.<namespace>] with --chart")
        template: dict[str, Any] = {"chart": chart, "reconcileStrategy": reconcile_strategy,
                                    "sourceRef": parse_chart_source(source, local=False)}
        if chart_version:
            template["version"] = chart_version
        if chart_interval:
            template["interval"] = go_duration(chart_interval, "--chart-interval")
        spec["chart"] = {"spec": template}
    else:
        spec["chartRef"] = parse_chart_ref(str(chart_ref))
    if kubeconfig_secret_ref:
        check_name(kubeconfig_secret_ref, "--kubeconfig-secret-ref")
        spec["kubeConfig"] = {"secretRef": {"name": kubeconfig_secret_ref}}
    install: dict[str, Any] = {}
    if create_target_namespace:
        install["createNamespace"] = True
    if service_account:
        check_name(service_account, "--service-account")
        spec["serviceAccountName"] = service_account
    if crds:
        if crds not in CRDS_POLICIES:
            raise GenerateError(f"unsupported upgrade CRDs policy '{crds}', must be one of: "
                                + ", ".join(CRDS_POLICIES))
        install["crds"] = "Create"
        spec["upgrade"] = {"crds": crds}
    if install:
        spec["install"] = install
    if values is not None:
        spec["values"] = dict(values)
    references = [parse_values_from(item) for item in values_from]
    if references:
        spec["valuesFrom"] = references
    return {"apiVersion": HELM_RELEASE.api_version, "kind": HELM_RELEASE.kind,
            "metadata": object_meta(name, namespace, labels), "spec": spec}


# -- the fields --------------------------------------------------------------------------------------


def check_helm_url(url: str) -> str:
    """The scheme of a HelmRepository URL (http, https or oci); GenerateError otherwise."""
    parts = split_url(url, "url")
    if parts.scheme not in HELM_URL_SCHEMES:
        raise GenerateError(f"url scheme '{parts.scheme}' not supported, can be: http, https and oci")
    if not parts.hostname:
        raise GenerateError(f"url '{url}' has no host")
    return parts.scheme


def _kind_name_namespace(text: str) -> tuple[str, str, str]:
    """flux's `<kind>/<name>[.<namespace>]` (utils.ParseObjectKindNameNamespace)."""
    kind, sep, rest = text.strip().partition("/")
    if not sep:
        kind, rest = "", kind
    name, _, namespace = rest.partition(".")
    return kind, name, namespace


def parse_chart_source(text: str, *, local: bool) -> dict[str, str]:
    """`--source` of a chart: `<kind>/<name>` (HelmChart: no namespace) or `<kind>/<name>[.<namespace>]`."""
    kind_text, name, namespace = _kind_name_namespace(text)
    separator = "|" if local else ", "
    if not kind_text or not name:
        form = "<kind>/<name>" if local else "<kind>/<name>[.<namespace>]"
        raise GenerateError(f"invalid helm chart source '{text}', must be in format {form}")
    resolved = resolve(kind_text)
    if resolved is None or resolved.kind not in CHART_SOURCE_KINDS:
        raise GenerateError(f"source kind '{kind_text}' is not supported, must be one of: "
                            + separator.join(CHART_SOURCE_KINDS))
    if local and namespace:
        raise GenerateError(f"invalid helm chart source '{text}': a HelmChart reads a source of its own namespace")
    return _reference(resolved.kind, name, namespace, "source namespace")


def parse_chart_ref(text: str) -> dict[str, str]:
    """`--chart-ref <kind>/<name>[.<namespace>]`: an OCIRepository, HelmChart or ExternalArtifact."""
    kind_text, name, namespace = _kind_name_namespace(text)
    resolved = resolve(kind_text) if kind_text else None
    if resolved is None or resolved.kind not in CHART_REF_KINDS:
        raise GenerateError(f"chart reference kind '{kind_text}' is not supported, must be one of: "
                            + ", ".join(CHART_REF_KINDS))
    if not name:
        raise GenerateError(f"invalid chart reference '{text}': the name is missing, "
                            "expected <kind>/<name>[.<namespace>]")
    return _reference(resolved.kind, name, namespace, "chart reference namespace")


def _reference(kind: str, name: str, namespace: str, what: str) -> dict[str, str]:
    """`{kind, name[, namespace]}` as Flux's cross-namespace references are written (namespace checked)."""
    ref = {"kind": kind, "name": name}
    if namespace:
        check_name(namespace, what)
        ref["namespace"] = namespace
    return ref


def parse_values_from(text: str) -> dict[str, str]:
    """One `--values-from <kind>/<name>` (Secret or ConfigMap, any case) as a valuesFrom entry."""
    parts = text.split("/")
    if len(parts) != 2 or not parts[0]:
        raise GenerateError(f"invalid Kubernetes object reference '{text}', must be in format <kind>/<name>")
    kind = next((each for each in VALUES_FROM_KINDS if each.lower() == parts[0].lower()), None)
    if kind is None:
        raise GenerateError(f"reference kind '{parts[0]}' is not supported, must be one of: "
                            + ", ".join(VALUES_FROM_KINDS))
    check_name(parts[1], "--values-from name")
    return {"kind": kind, "name": parts[1]}


# -- values files --------------------------------------------------------------------------------------


def merge_maps(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """fluxcd/pkg `transform.MergeMaps`: maps merged recursively, any other value of `overlay` wins."""
    merged = dict(base)
    for key, value in overlay.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge_maps(current, value)
        else:
            merged[key] = value
    return merged


def merge_values_files(paths: Sequence[str]) -> dict[str, Any] | None:
    """The `--values` files read and merged in order (None when none is given); flux's messages on failure."""
    if not paths:
        return None
    merged: dict[str, Any] = {}
    for path in paths:
        merged = merge_maps(merged, read_values_file(path))
    return merged


def read_values_file(path: str) -> dict[str, Any]:
    from headwater.api.safeyaml import YAMLInputError, load

    try:
        with Path(path).open("rb") as stream:
            data = stream.read(MAX_VALUES_FILE_BYTES + 1)
    except OSError as err:
        raise GenerateError(f"reading values from {path} failed: {err.strerror or err}") from err
    if len(data) > MAX_VALUES_FILE_BYTES:
        raise GenerateError(f"reading values from {path} failed: larger than {MAX_VALUES_FILE_BYTES} bytes")
    try:
        document = load(data.decode("utf-8"), source=path)
    except (YAMLInputError, UnicodeDecodeError) as err:
        raise GenerateError(f"converting values to JSON from {path} failed: {err}") from err
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise GenerateError(f"unmarshaling values from {path} failed: the document is a "
                            f"{type(document).__name__}, not a map of values")
    converted = json_round_trip(document, path)
    assert isinstance(converted, dict)
    return converted


def json_round_trip(node: Any, path: str) -> Any:
    """`node` as it comes out of Go's YAML → JSON → `map[string]interface{}` → JSON → YAML trip.

    Keys become strings; every number goes through float64, so integral values stay integers (with
    float64's precision beyond 2^53) and others become floats; non-finite numbers are refused as Go's
    JSON encoder refuses them.
    """
    if isinstance(node, Mapping):
        return {_key_text(key): json_round_trip(value, path) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [json_round_trip(item, path) for item in node]
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return node
    if isinstance(node, int | float):
        try:
            number = float(node)
        except OverflowError:
            raise GenerateError(f"converting values to JSON from {path} failed: {node} is out of range") from None
        if not math.isfinite(number):
            raise GenerateError(f"marshaling values failed: json: unsupported value: {node} (in {path})")
        if number.is_integer() and abs(number) < 1e21:
            return int(Decimal(repr(number)))
        return number
    return str(node)


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
