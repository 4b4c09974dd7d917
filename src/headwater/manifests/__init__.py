"""The Flux objects headwater generates offline: `create … --export`, `create secret`, `bootstrap`'s sync.

Below the CLI on purpose: `headwater.install` (bootstrap's gotk-sync.yaml) builds the same objects, and
no package may import `headwater.cli`. `fields` parses and checks what flags give, `objects` builds the
GitRepository, Kustomization and Secret dicts flux builds, `helm` the HelmRepository, HelmChart and
HelmRelease ones, `goyaml` prints them as flux prints them.
"""

from headwater.manifests.fields import (
    GenerateError,
    check_git_url,
    go_duration,
    parse_depends_on,
    parse_health_check,
    parse_labels,
    parse_source,
    safe_relative_path,
)
from headwater.manifests.goyaml import dump, to_yaml
from headwater.manifests.helm import helm_chart, helm_release, helm_repository, merge_values_files
from headwater.manifests.objects import (
    basic_auth_data,
    git_reference,
    git_repository,
    git_secret_data,
    kustomization,
    secret,
    tls_secret_data,
)

__all__ = [
    "GenerateError",
    "basic_auth_data",
    "check_git_url",
    "dump",
    "git_reference",
    "git_repository",
    "git_secret_data",
    "go_duration",
    "helm_chart",
    "helm_release",
    "helm_repository",
    "kustomization",
    "merge_values_files",
    "parse_depends_on",
    "parse_health_check",
    "parse_labels",
    "parse_source",
    "safe_relative_path",
    "secret",
    "tls_secret_data",
    "to_yaml",
]
