"""The fields `create … --export` and `bootstrap` put in Flux objects, parsed and checked as flux does.

Each parser takes what a flag gives (`--source=GitRepository/podinfo.flux-system`, `--depends-on=infra`,
`--health-check=Deployment/web.apps`, `--label=env=prod`) and returns the field's value, or raises
:class:`GenerateError` naming the flag and what is expected, before anything reaches a cluster. Kinds
come from the kind registry and are read kubectl's way (`--source=gitrepo/podinfo`, `--health-check=hr/x.y`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from headwater.api.kinds import KUSTOMIZATION, resolve

if TYPE_CHECKING:
    from urllib.parse import SplitResult

GIT_SCHEMES: Final = ("ssh", "http", "https")
#: The kinds `--source` may name: those a Kustomization's spec.sourceRef accepts.
SOURCE_KINDS: Final = KUSTOMIZATION.reference_at("spec", "sourceRef").kinds
#: The built-in workloads flux accepts in `--health-check` (no apiVersion recorded), with kubectl's other
#: names for them: `create --export` has no cluster to discover them from. Any Flux kind is accepted too.
WORKLOADS: Final = {"Deployment": ("deployments", "deploy"), "DaemonSet": ("daemonsets", "ds"),
                    "StatefulSet": ("statefulsets", "sts")}

_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class GenerateError(ValueError):
    """Bad input for an object: the message names the flag or field and says what is expected."""


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
    resolved = resolve(kind)
    if resolved is None or resolved.kind not in SOURCE_KINDS:
        raise GenerateError(f"source kind '{kind}' is not supported, must be one of: " + ", ".join(SOURCE_KINDS))
    canonical = resolved.kind
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
    kind, api_version = health_check_kind(kind_name[0])
    name_ns = kind_name[1].split(".")
    if len(name_ns) != 2 or not all(name_ns):
        raise GenerateError(f"invalid health check '{text}' must be in the format 'kind/name.namespace'")
    check = {"kind": kind, "name": name_ns[0], "namespace": name_ns[1]}
    if api_version:
        check["apiVersion"] = api_version
    return check


def health_check_kind(text: str) -> tuple[str, str | None]:
    """The kind a `--health-check` names and the apiVersion recorded for it (none for built-in workloads)."""
    wanted = text.lower()
    for kind, names in WORKLOADS.items():
        if wanted == kind.lower() or wanted in names:
            return kind, None
    flux = resolve(text)
    if flux is None:
        raise GenerateError(f"invalid health check kind '{text}' can be {', '.join(WORKLOADS)} or a Flux kind "
                            "(HelmRelease, Kustomization, …)")
    return flux.kind, flux.api_version


def split_url(url: str, what: str) -> SplitResult:
    """`url` split into its parts; GenerateError when it is missing or does not parse (`<what> parse failed`)."""
    from urllib.parse import urlsplit

    if not url:
        raise GenerateError("url is required")
    try:
        return urlsplit(url)
    except ValueError as err:
        raise GenerateError(f"{what} parse failed: {err}") from err


def check_git_url(url: str) -> str:
    """The scheme of a GitRepository URL; GenerateError for what source-controller cannot fetch."""
    parts = split_url(url, "git URL")
    if parts.scheme not in GIT_SCHEMES:
        hint = " (scp-like git@host:path URLs are not supported, use ssh://git@host/path)" if "@" in url else ""
        raise GenerateError(f"git URL scheme '{parts.scheme}' not supported, can be: ssh, http and https{hint}")
    if not parts.hostname:
        raise GenerateError(f"git URL '{url}' has no host")
    return parts.scheme
