"""The Flux objects `create … --export` prints and `bootstrap` commits, built without a cluster.

Why pure builders: `create source git`, `create kustomization`, `create secret …` and `bootstrap git`
must all produce the very objects `flux create … --export` produces (same fields, same defaults, same
omitted empty fields), and `bootstrap` writes them into a Git repository without talking to a cluster.
Dicts in, dicts out, :class:`~headwater.manifests.fields.GenerateError` naming the offending flag for
bad input: the CLI and `headwater.install` share them and unit tests pin them down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from headwater.api.kinds import GIT_REPOSITORY, KUSTOMIZATION
from headwater.manifests.fields import (
    GenerateError,
    check_git_url,
    check_label,
    check_name,
    go_duration,
    parse_depends_on,
    parse_health_check,
    parse_source,
    safe_relative_path,
)

GIT_PROVIDERS: Final = ("generic", "aws", "azure", "github")
DECRYPTION_PROVIDERS: Final = ("sops",)
DEFAULT_HEALTH_CHECK_TIMEOUT: Final = "2m"


def object_meta(name: str, namespace: str, labels: Mapping[str, str] | None) -> dict[str, Any]:
    check_name(name)
    check_name(namespace, "namespace")
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        for key, value in labels.items():
            check_label(key, value)
        meta["labels"] = dict(labels)
    return meta


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
    return {"apiVersion": GIT_REPOSITORY.api_version, "kind": GIT_REPOSITORY.kind,
            "metadata": object_meta(name, namespace, labels),
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
    return {"apiVersion": KUSTOMIZATION.api_version, "kind": KUSTOMIZATION.kind,
            "metadata": object_meta(name, namespace, labels),
            "spec": spec}


def secret(name: str, namespace: str, string_data: Mapping[str, str], *,
           labels: Mapping[str, str] | None = None, secret_type: str | None = None) -> dict[str, Any]:
    """A Secret as flux's sourcesecret generator writes it: cleartext `stringData`, no type unless given."""
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": object_meta(name, namespace, labels)}
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
