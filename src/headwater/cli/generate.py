"""The objects `create … --export` prints, built without a cluster.

Why a separate module: `create source git`, `create kustomization`, `create secret …` and
`bootstrap git` must all produce the very objects `flux create … --export` produces (same fields, same
defaults, same omitted empty fields), and `bootstrap` writes them into a Git repository without talking
to a cluster. Keeping the builders pure (dicts in, dicts out, `GenerateError` naming the offending flag
for bad input) lets both the CLI and bootstrap share them and lets unit tests pin them down.

`to_yaml` renders objects the way flux's `printExport` does: sigs.k8s.io/yaml marshals through JSON
into go-yaml v2, so keys come out sorted, nested sequences are not indented, multi-line strings are
literal blocks, and strings that would read as another type are double-quoted; each object is preceded
by `---` and followed by a blank line (flux prints with Println).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"

GIT_SCHEMES = ("ssh", "http", "https")
GIT_PROVIDERS = ("generic", "aws", "azure", "github")
KUSTOMIZATION_SOURCE_KINDS = ("GitRepository", "OCIRepository", "Bucket")
DECRYPTION_PROVIDERS = ("sops",)
DEFAULT_HEALTH_CHECK_TIMEOUT = "2m"
# kinds flux accepts in --health-check and the apiVersion it records for them (none for built-in workloads)
HEALTH_CHECK_KINDS: dict[str, str | None] = {
    "Deployment": None,
    "DaemonSet": None,
    "StatefulSet": None,
    "HelmRelease": HELM_API,
    "Kustomization": KUSTOMIZE_API,
}

_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class GenerateError(ValueError):
    """Bad input for an object: the message names the flag or field and says what is expected."""


# -- small parsers shared by the builders and the CLI ----------------------------------------------


def go_duration(text: str, flag: str) -> str:
    """A Go duration as flux stores it (`1m` → `1m0s`); GenerateError naming `flag` otherwise."""
    from headwater.api.duration import DurationError, NonPositiveDurationError, stored_form

    try:
        return stored_form(str(text))
    except NonPositiveDurationError as err:
        raise GenerateError(f"invalid {flag} {text!r}: must be positive") from err
    except DurationError as err:
        raise GenerateError(f"invalid {flag} {text!r}: expected a Go duration such as 30s, 1m or 1h30m") from err


def parse_labels(pairs: Iterable[str]) -> dict[str, str]:
    """`--label key=value` flags (repeatable) as a label map, validated like Kubernetes does."""
    labels: dict[str, str] = {}
    for pair in pairs:
        parts = pair.split("=")
        if len(parts) != 2:
            raise GenerateError(f"invalid label format '{pair}', must be key=value")
        key, value = parts
        check_label(key, value)
        labels[key] = value
    return labels


def check_label(key: str, value: str) -> None:
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > 63 or not _LABEL_NAME.match(name) or (
            prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or key.startswith("/"):
        raise GenerateError(f"invalid label '{key}': a qualified name is an optional DNS prefix and '/' "
                            "then up to 63 alphanumeric characters, '-', '_' or '.'")
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        raise GenerateError(f"invalid label value '{value}': up to 63 alphanumeric characters, '-', '_' or '.', "
                            "starting and ending with an alphanumeric character")


def check_name(name: str, what: str = "name") -> None:
    if not name or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise GenerateError(f"invalid {what} '{name}': must be a lowercase RFC 1123 subdomain "
                            "(a-z, 0-9, '-' and '.', starting and ending with an alphanumeric character)")


def parse_source(text: str) -> dict[str, str]:
    """flux's `--source` syntax `[<kind>/]<name>[.<namespace>]` as a Kustomization sourceRef."""
    text = text.strip()
    if not text:
        raise GenerateError("source is required: use --source=[<kind>/]<name>[.<namespace>]")
    kind, sep, rest = text.partition("/")
    if not sep:
        kind, rest = "GitRepository", text
    canonical = {k.lower(): k for k in KUSTOMIZATION_SOURCE_KINDS}.get(kind.lower())
    if canonical is None:
        raise GenerateError(f"source kind '{kind}' is not supported, must be one of: "
                            + ", ".join(KUSTOMIZATION_SOURCE_KINDS))
    name, _, namespace = rest.partition(".")
    if not name:
        raise GenerateError(f"invalid source '{text}': the name is missing, "
                            "expected [<kind>/]<name>[.<namespace>]")
    ref = {"kind": canonical, "name": name}
    if namespace:
        ref["namespace"] = namespace
    return ref


def safe_relative_path(text: str) -> str:
    """flux's SafeRelativePath: a slash path inside the artifact, always starting with `./`."""
    cleaned = posixpath.normpath("/" + text.strip().replace("\\", "/")).lstrip("/")
    return "./" + cleaned if cleaned else "./"


def parse_depends_on(items: Iterable[str]) -> list[dict[str, str]]:
    """`--depends-on` entries `<name>` or `<namespace>/<name>` as dependsOn references."""
    refs: list[dict[str, str]] = []
    for item in items:
        parts = item.split("/")
        if len(parts) > 2 or not parts[-1] or (len(parts) == 2 and not parts[0]):
            raise GenerateError(f"invalid --depends-on '{item}': expected <name> or <namespace>/<name>")
        ref = {"name": parts[-1]}
        if len(parts) == 2:
            ref["namespace"] = parts[0]
        refs.append(ref)
    return refs


def parse_health_check(text: str) -> dict[str, str]:
    """One `--health-check` `<kind>/<name>.<namespace>` as a healthChecks entry."""
    kind_name = text.split("/")
    if len(kind_name) != 2:
        raise GenerateError(f"invalid health check '{text}' must be in the format 'kind/name.namespace'")
    kind = kind_name[0]
    if kind not in HEALTH_CHECK_KINDS:
        raise GenerateError(f"invalid health check kind '{kind}' can be " + ", ".join(HEALTH_CHECK_KINDS))
    name_ns = kind_name[1].split(".")
    if len(name_ns) != 2 or not all(name_ns):
        raise GenerateError(f"invalid health check '{text}' must be in the format 'kind/name.namespace'")
    check = {"kind": kind, "name": name_ns[0], "namespace": name_ns[1]}
    api_version = HEALTH_CHECK_KINDS[kind]
    if api_version:
        check["apiVersion"] = api_version
    return check


def check_git_url(url: str) -> str:
    """The scheme of a GitRepository URL; GenerateError for what source-controller cannot fetch."""
    from urllib.parse import urlsplit

    if not url:
        raise GenerateError("url is required")
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise GenerateError(f"git URL parse failed: {err}") from err
    if parts.scheme not in GIT_SCHEMES:
        hint = " (scp-like git@host:path URLs are not supported, use ssh://git@host/path)" if "@" in url else ""
        raise GenerateError(f"git URL scheme '{parts.scheme}' not supported, can be: ssh, http and https{hint}")
    if not parts.hostname:
        raise GenerateError(f"git URL '{url}' has no host")
    return parts.scheme


def _meta(name: str, namespace: str, labels: Mapping[str, str] | None) -> dict[str, Any]:
    check_name(name)
    check_name(namespace, "namespace")
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        for key, value in labels.items():
            check_label(key, value)
        meta["labels"] = dict(labels)
    return meta


# -- builders --------------------------------------------------------------------------------------


def git_reference(*, branch: str | None = None, tag: str | None = None, semver: str | None = None,
                  ref_name: str | None = None, commit: str | None = None) -> dict[str, str]:
    """spec.ref from the ref flags; a commit may be pinned on a branch, other combinations conflict."""
    given = {flag: value for flag, value in (("--branch", branch), ("--tag", tag), ("--tag-semver", semver),
                                             ("--ref-name", ref_name), ("--commit", commit)) if value}
    if not given:
        raise GenerateError("a Git ref is required, use one of the following: "
                            "--branch, --tag, --commit, --ref-name or --tag-semver")
    if commit:
        others = [flag for flag in given if flag not in ("--commit", "--branch")]
        if others:
            raise GenerateError(f"conflicting Git refs: --commit cannot be combined with {', '.join(others)}")
        return {"branch": branch, "commit": commit} if branch else {"commit": commit}
    if len(given) > 1:
        raise GenerateError(f"conflicting Git refs: {' and '.join(given)} cannot be used together "
                            "(only --commit may be combined with --branch)")
    if ref_name:
        if not ref_name.startswith("refs/") or ref_name.endswith("/") or " " in ref_name:
            raise GenerateError(f"invalid --ref-name '{ref_name}': expected a full Git reference name such as "
                                "refs/heads/main, refs/tags/v1.0.0 or refs/pull/42/head")
        return {"name": ref_name}
    if semver:
        return {"semver": semver}
    if tag:
        return {"tag": tag}
    return {"branch": str(branch)}


def git_repository(
    name: str,
    namespace: str,
    *,
    url: str,
    branch: str | None = None,
    tag: str | None = None,
    semver: str | None = None,
    ref_name: str | None = None,
    commit: str | None = None,
    interval: str = "1m",
    secret_ref: str | None = None,
    proxy_secret_ref: str | None = None,
    provider: str | None = None,
    ignore: str | Sequence[str] | None = None,
    recurse_submodules: bool = False,
    sparse_checkout: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    timeout: str | None = None,
) -> dict[str, Any]:
    """A GitRepository as `flux create source git NAME --export` prints it."""
    check_git_url(url)
    spec: dict[str, Any] = {
        "interval": go_duration(interval, "--interval"),
        "ref": git_reference(branch=branch, tag=tag, semver=semver, ref_name=ref_name, commit=commit),
        "url": url,
    }
    if provider:
        if provider not in GIT_PROVIDERS:
            raise GenerateError(f"unsupported source provider '{provider}', must be one of: "
                                + ", ".join(GIT_PROVIDERS))
        spec["provider"] = provider
    if secret_ref:
        check_name(secret_ref, "--secret-ref")
        spec["secretRef"] = {"name": secret_ref}
    if proxy_secret_ref:
        check_name(proxy_secret_ref, "--proxy-secret-ref")
        spec["proxySecretRef"] = {"name": proxy_secret_ref}
    if recurse_submodules:
        spec["recurseSubmodules"] = True
    if ignore:
        spec["ignore"] = ignore if isinstance(ignore, str) else "\n".join(ignore)
    if sparse_checkout:
        spec["sparseCheckout"] = list(sparse_checkout)
    if timeout:
        spec["timeout"] = go_duration(timeout, "--fetch-timeout")
    return {"apiVersion": SOURCE_API, "kind": "GitRepository", "metadata": _meta(name, namespace, labels),
            "spec": spec}


def kustomization(
    name: str,
    namespace: str,
    *,
    source: str,
    path: str = "./",
    interval: str = "1m",
    prune: bool = False,
    wait: bool = False,
    health_checks: Sequence[str] = (),
    health_check_timeout: str | None = None,
    depends_on: Sequence[str] = (),
    target_namespace: str | None = None,
    service_account: str | None = None,
    decryption_provider: str | None = None,
    decryption_secret: str | None = None,
    kubeconfig_secret_ref: str | None = None,
    retry_interval: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Kustomization as `flux create kustomization NAME --export` prints it.

    Like flux, `wait` supersedes explicit health checks, and either sets `timeout` to the
    health-check timeout (2m unless given).
    """
    spec: dict[str, Any] = {
        "interval": go_duration(interval, "--interval"),
        "path": safe_relative_path(path),
        "prune": bool(prune),
        "sourceRef": parse_source(source),
    }
    dependencies = parse_depends_on(depends_on)
    if dependencies:
        spec["dependsOn"] = dependencies
    if target_namespace:
        check_name(target_namespace, "--target-namespace")
        spec["targetNamespace"] = target_namespace
    if kubeconfig_secret_ref:
        spec["kubeConfig"] = {"secretRef": {"name": kubeconfig_secret_ref}}
    checks = [parse_health_check(item) for item in health_checks]
    if wait or checks:
        spec["timeout"] = go_duration(health_check_timeout or DEFAULT_HEALTH_CHECK_TIMEOUT,
                                      "--health-check-timeout")
        if wait:
            spec["wait"] = True
        else:
            spec["healthChecks"] = checks
    if service_account:
        spec["serviceAccountName"] = service_account
    if decryption_provider:
        if decryption_provider not in DECRYPTION_PROVIDERS:
            raise GenerateError(f"unsupported decryption provider '{decryption_provider}', must be one of: "
                                + ", ".join(DECRYPTION_PROVIDERS))
        spec["decryption"] = {"provider": decryption_provider}
        if decryption_secret:
            spec["decryption"]["secretRef"] = {"name": decryption_secret}
    elif decryption_secret:
        raise GenerateError("--decryption-secret requires --decryption-provider=sops")
    if retry_interval:
        spec["retryInterval"] = go_duration(retry_interval, "--retry-interval")
    return {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "metadata": _meta(name, namespace, labels),
            "spec": spec}


def secret(name: str, namespace: str, string_data: Mapping[str, str], *,
           labels: Mapping[str, str] | None = None, secret_type: str | None = None) -> dict[str, Any]:
    """A Secret as flux's sourcesecret generator writes it: cleartext `stringData`, no type unless given."""
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name, namespace, labels)}
    if string_data:
        obj["stringData"] = dict(string_data)
    if secret_type:
        obj["type"] = secret_type
    return obj


def basic_auth_data(username: str | None, password: str | None) -> dict[str, str]:
    """`username`/`password` keys, only when both are given (as flux does)."""
    return {"username": username, "password": password} if username and password else {}


def git_secret_data(*, username: str | None = None, password: str | None = None, bearer_token: str | None = None,
                    ca_crt: str | None = None, identity: str | None = None, identity_pub: str | None = None,
                    known_hosts: str | None = None) -> dict[str, str]:
    """The stringData of a Git auth Secret (keys as source-controller reads them)."""
    data = basic_auth_data(username, password)
    if bearer_token:
        data["bearerToken"] = bearer_token
    if ca_crt:
        data["ca.crt"] = ca_crt
    if identity and known_hosts:
        data["identity"] = identity
        data["identity.pub"] = identity_pub or ""
        data["known_hosts"] = known_hosts
        if password:
            data["password"] = password
    return data


def tls_secret_data(*, tls_crt: str | None = None, tls_key: str | None = None,
                    ca_crt: str | None = None) -> dict[str, str]:
    """The stringData of a TLS Secret (`ca.crt`, and `tls.crt`/`tls.key` only as a pair)."""
    data: dict[str, str] = {}
    if ca_crt:
        data["ca.crt"] = ca_crt
    if tls_crt and tls_key:
        data["tls.crt"] = tls_crt
        data["tls.key"] = tls_key
    return data


# -- YAML like flux prints it ----------------------------------------------------------------------


class _GoYamlDumper(yaml.SafeDumper):
    """PyYAML configured to emit what go-yaml v2 emits for sigs.k8s.io/yaml output."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    tag = "tag:yaml.org,2002:str"
    if "\n" in value:
        return dumper.represent_scalar(tag, value, style="|")
    resolved: str = dumper.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    if resolved != tag:
        return dumper.represent_scalar(tag, value, style='"')
    return dumper.represent_scalar(tag, value)


_GoYamlDumper.add_representer(str, _represent_str)


def dump(obj: Mapping[str, Any]) -> str:
    """One object as sorted-key YAML (no document marker)."""
    return yaml.dump(dict(obj), Dumper=_GoYamlDumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=80)


def to_yaml(objects: Iterable[Mapping[str, Any]]) -> str:
    """Objects as flux's `--export` prints them: `---`, the object, a blank line, for each."""
    return "".join(f"---\n{dump(obj)}\n" for obj in objects)
