"""What applying a local build would change in the cluster, without changing anything.

Each built object goes through the controller's preparation (normalisation, owner labels, `spec.ignore`
rules) and a server-side apply dry-run under the controller's field manager with forced ownership, so
the apiserver merges it with the live object exactly as a real reconcile would. The dry-run's answer
decides: no resourceVersion means the object would be created; a difference in labels, annotations
or anything outside metadata and status (the controller's own drift rule) means it drifted, and the
two versions are compared field by field with the server's bookkeeping removed and Secret values
masked. Objects of the last inventory that the build no longer holds would be pruned (when
`spec.prune` is on). Unlike the controller, nothing is written: no managed-fields cleanup, no apply.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from headwater.apply import inventory as inv
from headwater.apply.apply import DEFAULT_FIELD_MANAGER, has_drifted
from headwater.apply.drift_ignore import apply_rules, parse_rules
from headwater.apply.objects import ObjMetadata, is_reconcile_disabled, prepared
from headwater.kustomize.human_diff import compare, render
from headwater.kustomize.masking import DIFF_MASK, has_sops_mask, is_secret, mask_secret_diff
from headwater.runtime.kube import KubeClient, KubeError, UnknownKind

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NOISE = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")


@dataclass
class Change:
    action: str  # created, drifted, deleted, unchanged, skipped
    subject: str
    live: dict[str, Any] | None = None
    merged: dict[str, Any] | None = None

    def report(self) -> str:
        """flux's lines: `► Kind/ns/name <action>`, and for a drift the field-by-field diff."""
        line = f"► {self.subject} {self.action}\n"
        if self.action != "drifted":
            return line
        return line + render(compare(self.live, self.merged))


@dataclass
class Preview:
    changes: list[Change]
    errors: list[str]

    @property
    def changed(self) -> bool:
        return any(c.action in ("created", "drifted", "deleted") for c in self.changes)

    def report(self) -> str:
        return "".join(c.report() for c in self.changes if c.action not in ("unchanged", "skipped"))


def without_noise(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without status and the metadata the server maintains (what a reader cannot act on)."""
    result = copy.deepcopy(dict(obj))
    result.pop("status", None)
    meta = result.get("metadata")
    if isinstance(meta, dict):
        for key in NOISE:
            meta.pop(key, None)
    return result


def masked_pair(desired: Mapping[str, Any], live: Mapping[str, Any], merged: Mapping[str, Any]
                ) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """Both sides cleaned, Secret values masked; False when only SOPS-masked values differ (flux's rule:
    a `**SOPS**` value cannot be compared, only the set of keys can)."""
    old, new = without_noise(live), without_noise(merged)
    if not is_secret(new):
        return old, new, True
    drifted = True
    if has_sops_mask(desired):
        drifted = set(old.get("data") or {}) != set(new.get("data") or {})
    mask_secret_diff(old, new)
    for side in (old, new):
        annotations = (side.get("metadata") or {}).get("annotations") or {}
        if LAST_APPLIED in annotations:  # kubectl keeps the whole Secret, values included, in it
            annotations[LAST_APPLIED] = DIFF_MASK
    return old, new, drifted


async def diff_object(kube: KubeClient, raw: Mapping[str, Any], spec: Mapping[str, Any],
                      field_manager: str = DEFAULT_FIELD_MANAGER) -> Change:
    """The change applying `raw` would make (owner labels are expected to be set already)."""
    obj = prepared(raw)
    meta = ObjMetadata.of(obj)
    try:
        resource = await kube.resource(str(obj.get("apiVersion")), meta.kind)
    except UnknownKind as err:
        raise KubeError(f"{meta.subject} dry-run failed: no matches for kind \"{meta.kind}\" in version "
                        f"\"{obj.get('apiVersion')}\"") from err
    if not resource.namespaced:
        obj["metadata"].pop("namespace", None)
        meta = ObjMetadata.of(obj)
    elif not meta.namespace:
        raise KubeError(f"{meta.subject} dry-run failed: namespace not specified")
    live = await kube.get_or_none(obj["apiVersion"], meta.kind, meta.name, meta.namespace or None)
    if is_reconcile_disabled(obj) or is_reconcile_disabled(live):
        return Change("skipped", meta.subject)
    rules = parse_rules(spec.get("ignore"))
    if rules:
        obj = apply_rules(obj, live, rules, field_manager)
    try:
        merged = await kube.apply(obj, field_manager=field_manager, force=True, dry_run=True)
    except KubeError as err:
        raise KubeError(f"{meta.subject} dry-run failed: {err}") from err
    if live is None or not (merged.get("metadata") or {}).get("resourceVersion"):
        return Change("created", meta.subject)
    if not has_drifted(live, merged):
        return Change("unchanged", meta.subject)
    old, new, drifted = masked_pair(obj, live, merged)
    return Change("drifted" if drifted else "unchanged", meta.subject, old, new)


def pruned(kustomization: Mapping[str, Any], objects: Sequence[Mapping[str, Any]]) -> list[Change]:
    """Inventory entries the build no longer holds (with `spec.prune`): `… deleted`."""
    if not (kustomization.get("spec") or {}).get("prune"):
        return []
    old = inv.parse((kustomization.get("status") or {}).get("inventory"))
    stale = inv.diff(old, inv.from_objects(objects))
    return [Change("deleted", entry.meta.subject) for entry in stale]


async def preview(kube: KubeClient, kustomization: Mapping[str, Any], objects: Sequence[Mapping[str, Any]]
                  ) -> Preview:
    """Dry-run every object (all of them, errors gathered), then the prune candidates when all succeeded."""
    spec = kustomization.get("spec") or {}
    changes: list[Change] = []
    errors: list[str] = []
    for obj in objects:
        try:
            changes.append(await diff_object(kube, obj, spec))
        except KubeError as err:
            errors.append(str(err))
    if not errors:
        changes += pruned(kustomization, objects)
    return Preview(changes, errors)
