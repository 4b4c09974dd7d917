"""Drift of a release's objects from its stored manifest, and its correction (`spec.driftDetection`).

Flux compares each object of the Helm-stored manifest with the cluster through a server-side
apply dry run as the controller's field manager: an object that is gone, or whose dry run differs
from the live object (labels, annotations, anything outside metadata and status), has drifted.
`ignore` rules (JSON pointers, optionally for selected objects) leave fields out, and an object
labelled or annotated `helm.toolkit.fluxcd.io/driftDetection: disabled` is skipped. With `enabled` the
drifted objects are applied again (deleted ones re-created); with `warn` they are only reported.
The comparison reuses the apply package's rules, so a Kustomization and a HelmRelease see drift alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.api import safeyaml
from headwater.apply.apply import has_drifted
from headwater.apply.drift_ignore import apply_rules, parse_rules
from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import ApiError, NotFound

DISABLED_KEY = "helm.toolkit.fluxcd.io/driftDetection"
CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                            "PriorityClass", "StorageClass", "PersistentVolume", "ValidatingWebhookConfiguration",
                            "MutatingWebhookConfiguration", "APIService", "IngressClass", "RuntimeClass",
                            "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"})


@dataclass(frozen=True)
class Change:
    kind: str  # "removed" (gone from the cluster) or "changed"
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata") or {}
        namespace = meta.get("namespace")
        return f"{self.obj.get('kind')}/{namespace + '/' if namespace else ''}{meta.get('name')}"


def objects_of(manifest: str, namespace: str) -> list[dict[str, Any]]:
    """The release's objects, each with its namespace set (namespaced kinds default to the release's)."""
    objects = []
    for doc in safeyaml.load_all(manifest or "", source="the release manifest"):
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        meta = doc.setdefault("metadata", {})
        if doc["kind"] not in CLUSTER_SCOPED and not meta.get("namespace"):
            meta["namespace"] = namespace
        objects.append(doc)
    return objects


def _disabled(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    marks = ((meta.get("labels") or {}).get(DISABLED_KEY), (meta.get("annotations") or {}).get(DISABLED_KEY))
    return "disabled" in marks


def with_ownership(obj: dict[str, Any], release: str, namespace: str) -> dict[str, Any]:
    """The object as Helm applies it: its ownership label and annotations added (Helm owns those fields,
    so a dry run without them would report their removal as drift)."""
    meta = obj["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), "app.kubernetes.io/managed-by": "Helm"}
    meta["annotations"] = {**(meta.get("annotations") or {}), "meta.helm.sh/release-name": release,
                           "meta.helm.sh/release-namespace": namespace}
    return obj


async def detect(kube: KubeClient, manifest: str, namespace: str, release: str, ignore: list[dict[str, Any]],
                 field_manager: str) -> list[Change]:
    rules = parse_rules(ignore)
    changes = []
    for desired in objects_of(manifest, namespace):
        with_ownership(desired, release, namespace)
        meta = desired["metadata"]
        live = await kube.get_or_none(str(desired.get("apiVersion")), str(desired["kind"]), str(meta.get("name")),
                                      meta.get("namespace"))
        if live is not None and (_disabled(live) or _disabled(desired)):
            continue
        if live is None:
            if not _disabled(desired):
                changes.append(Change("removed", desired))
            continue
        wanted = apply_rules(desired, live, rules, field_manager)
        try:
            dry_run = await kube.apply(wanted, field_manager=field_manager, force=True, dry_run=True)
        except NotFound:
            changes.append(Change("removed", desired))
            continue
        if has_drifted(live, dry_run):
            changes.append(Change("changed", wanted))
    return changes


async def correct(kube: KubeClient, changes: list[Change], field_manager: str) -> list[str]:
    """Apply the drifted objects again; the errors, one line each."""
    errors = []
    for change in changes:
        try:
            await kube.apply(change.obj, field_manager=field_manager, force=True)
        except ApiError as err:
            errors.append(f"{change.name}: {err}")
    return errors


def summary(changes: list[Change]) -> str:
    return "\n".join(f"{change.name} {change.kind}" for change in changes)
