"""The files `bootstrap` keeps in Git next to the components: gotk-sync.yaml and kustomization.yaml.

gotk-sync.yaml holds Flux's pair: GitRepository `flux-system` (the bootstrap repository and branch, the
auth Secret) and Kustomization `flux-system` (prune, path `./<path>`), so the cluster then manages
itself from Git. kustomization.yaml lists the two files; when the user already has one (with their
patches) it is kept, and only the two resources are added if missing.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

import yaml

from headwater.api import safeyaml
from headwater.manifests import GenerateError, git_repository, kustomization, to_yaml
from headwater.manifests import go_duration as manifest_duration

COMPONENTS_FILE = "gotk-components.yaml"
SYNC_FILE = "gotk-sync.yaml"
KUSTOMIZATION_FILE = "kustomization.yaml"
RESOURCES = (COMPONENTS_FILE, SYNC_FILE)
SYNC_NAME = "flux-system"


class SyncError(ValueError):
    """The repository's files cannot be reconciled (e.g. an unreadable kustomization.yaml)."""


@dataclass(frozen=True)
class SyncOptions:
    url: str
    branch: str = "main"
    path: str = ""
    interval: str = "1m"
    namespace: str = "flux-system"
    secret_name: str = "flux-system"
    name: str = SYNC_NAME

    @property
    def kustomization_path(self) -> str:
        """Flux's `./<path>`, cleaned (`./` for the repository root)."""
        cleaned = posixpath.normpath("/" + self.path.strip()).lstrip("/")
        return f"./{cleaned}" if cleaned else "./"

    @property
    def directory(self) -> str:
        """`<path>/flux-system` inside the repository."""
        cleaned = self.kustomization_path.removeprefix("./").strip("/")
        return f"{cleaned}/{self.name}" if cleaned else self.name


def sync_objects(opts: SyncOptions) -> list[dict[str, Any]]:
    """The GitRepository (interval `--interval`) and the Kustomization (10m, prune) of the sync, built by
    the same builders as `create … --export` (`headwater.manifests`); SyncError naming the flag when a
    value is invalid."""
    try:
        return [
            git_repository(opts.name, opts.namespace, url=opts.url, branch=opts.branch, interval=opts.interval,
                           secret_ref=opts.secret_name),
            kustomization(opts.name, opts.namespace, source=f"GitRepository/{opts.name}",
                          path=opts.kustomization_path, prune=True, interval="10m"),
        ]
    except GenerateError as err:
        raise SyncError(str(err)) from err


def go_duration(text: str) -> str:
    """`1m` → `1m0s`; SyncError naming --interval when invalid."""
    try:
        return manifest_duration(text, "--interval")
    except GenerateError as err:
        raise SyncError(str(err)) from err


def sync_yaml(opts: SyncOptions) -> str:
    return to_yaml(sync_objects(opts))


def kustomization_yaml(existing: str | None) -> str:
    """The user's kustomization.yaml with both resources listed, or a new one."""
    if existing is None:
        listed = "".join(f"- {name}\n" for name in RESOURCES)
        return f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{listed}"
    try:
        doc = safeyaml.load(existing, source=KUSTOMIZATION_FILE)
    except safeyaml.YAMLInputError as err:
        raise SyncError(str(err)) from err
    if not isinstance(doc, dict):
        raise SyncError(f"{KUSTOMIZATION_FILE} is not a kustomize Kustomization (a mapping)")
    resources: object = doc.get("resources") or []
    if not isinstance(resources, list):
        raise SyncError(f"{KUSTOMIZATION_FILE}: 'resources' is not a list")
    missing = [name for name in RESOURCES if name not in resources]
    if not missing:
        return existing
    doc["resources"] = [*resources, *missing]
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
