"""Views of the shapes shared across kinds: references, Artifact, Condition, inventory.

Also the two bases every kind builds on: :class:`ObjectMeta` and :class:`ObjectStatus`
(conditions, observedGeneration, lastHandledReconcileAt, with condition helpers).
"""

from __future__ import annotations

import datetime
from typing import Any

from headwater.api.defs import common as defs
from headwater.api.defs.kustomize import KUSTOMIZATION
from headwater.api.defs.notification import RECEIVER
from headwater.api.models.base import (
    Field,
    ListField,
    View,
    child,
    children,
    string_map,
)


# -- references -------------------------------------------------------------------------
class LocalObjectReference(View):
    """``{name}``: an object in the same namespace (Secrets, ConfigMaps, Providers ...)."""

    __schema__ = defs.LOCAL_REF
    name = Field[str]()


class SecretKeyReference(View):
    """``{name, key}``: one key of a Secret in the same namespace."""

    __schema__ = defs.SECRET_KEY_REF
    name = Field[str]()
    key = Field[str | None]()


class NamespacedObjectReference(View):
    """``{name, namespace}``; an empty namespace means the referrer's namespace."""

    __schema__ = KUSTOMIZATION.spec.at("dependsOn.[]")
    name = Field[str]()
    namespace = Field[str | None]()


class DependencyReference(NamespacedObjectReference):
    """An entry of ``spec.dependsOn``, optionally with a CEL readiness expression."""

    __schema__ = KUSTOMIZATION.spec.at("dependsOn.[]")
    ready_expr = Field[str | None]()


class CrossNamespaceSourceReference(View):
    """``{apiVersion, kind, name, namespace}``: a source, possibly in another namespace."""

    __schema__ = KUSTOMIZATION.spec.at("sourceRef")
    api_version = Field[str | None]("apiVersion")
    kind = Field[str]()
    name = Field[str]()
    namespace = Field[str | None]()

    def namespace_or(self, default: str) -> str:
        """The referenced namespace, or ``default`` (the referrer's namespace)."""
        return self.namespace or default


class CrossNamespaceObjectReference(CrossNamespaceSourceReference):
    """An object selected by kind and name ('*' with matchLabels), used by Alert/Receiver."""

    __schema__ = RECEIVER.spec.at("resources.[]")
    match_labels = string_map()


class KubeConfigReference(View):
    """Where a remote cluster's kubeconfig comes from."""

    __schema__ = defs.KUBECONFIG_REF
    config_map_ref = child(LocalObjectReference)
    secret_ref = child(SecretKeyReference)


class AccessFrom(View):
    """Namespace selectors allowed to refer to an object across namespaces."""

    __schema__ = defs.ACCESS_FROM

    @property
    def namespace_selectors(self) -> list[dict[str, str]]:
        """The ``matchLabels`` of every selector (an empty map selects all namespaces)."""
        return [dict(item.get("matchLabels") or {}) for item in self.raw.get("namespaceSelectors") or []]


class CommonMetadata(View):
    """Labels and annotations to stamp on produced objects."""

    __schema__ = defs.COMMON_METADATA
    labels = string_map()
    annotations = string_map()


class OIDCIdentityMatch(View):
    """Regexes for the issuer and subject of a keyless signature."""

    __schema__ = defs.OIDC_IDENTITIES.items
    issuer = Field[str]()
    subject = Field[str]()


# -- kustomize-style transforms ---------------------------------------------------------
class Selector(View):
    """Selects objects by GVK, name, namespace, label and annotation selectors."""

    __schema__ = defs.SELECTOR
    group = Field[str | None]()
    version = Field[str | None]()
    kind = Field[str | None]()
    name = Field[str | None]()
    namespace = Field[str | None]()
    label_selector = Field[str | None]()
    annotation_selector = Field[str | None]()


class Patch(View):
    """A patch document and the objects it applies to."""

    __schema__ = defs.PATCHES.items
    patch = Field[str]()
    target = child(Selector)


class Image(View):
    """A container image override."""

    __schema__ = defs.IMAGES.items
    name = Field[str]()
    new_name = Field[str | None]()
    new_tag = Field[str | None]()
    digest = Field[str | None]()


class IgnoreRule(View):
    """JSON pointers ignored on the selected objects."""

    __schema__ = defs.IGNORE_RULES.items
    paths = ListField[str]()
    target = child(Selector)


class HealthCheckExpressions(View):
    """CEL expressions computing the health of a custom kind."""

    __schema__ = defs.HEALTH_CHECK_EXPRS.items
    api_version = Field[str]("apiVersion")
    kind = Field[str | None]()
    current = Field[str]()
    failed = Field[str | None]()
    in_progress = Field[str | None]()


# -- status building blocks -------------------------------------------------------------
class Artifact(View):
    """A packaged source revision served by the artifact server."""

    __schema__ = defs.ARTIFACT
    path = Field[str]()
    url = Field[str]()
    revision = Field[str]()
    digest = Field[str]()
    last_update_time = Field[str]()
    size = Field[int | None]()
    metadata = string_map()

    def has_revision(self, revision: str) -> bool:
        return self.revision == revision


class Condition(View):
    """A ``metav1.Condition``."""

    __schema__ = defs.CONDITION
    type = Field[str]()
    status = Field[str]()
    reason = Field[str]()
    message = Field[str]()
    last_transition_time = Field[str]()
    observed_generation = Field[int | None]()

    @property
    def is_true(self) -> bool:
        return self.raw.get("status") == "True"


class InventoryEntry(View):
    """An applied object: id ``<namespace>_<name>_<group>_<kind>`` and its version."""

    __schema__ = defs.INVENTORY.at("entries.[]")
    id = Field[str]()
    v = Field[str]()


class ResourceInventory(View):
    """Objects applied by the last successful reconciliation."""

    __schema__ = defs.INVENTORY
    entries = children(InventoryEntry)


def now_rfc3339() -> str:
    """The current UTC time as Kubernetes writes it (seconds precision, ``Z``)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ConditionsStatus(View):
    """A status with ``conditions``, and helpers to read and update them."""

    conditions = children(Condition)

    def get_condition(self, type_: str) -> Condition | None:
        for item in self.raw.get("conditions") or ():
            if item.get("type") == type_:
                return Condition(item)
        return None

    def is_condition_true(self, type_: str) -> bool:
        condition = self.get_condition(type_)
        return condition is not None and condition.is_true

    def set_condition(
        self,
        type_: str,
        status: str,
        reason: str,
        message: str,
        *,
        observed_generation: int | None = None,
        now: str | None = None,
    ) -> Condition:
        """Add or update a condition; ``lastTransitionTime`` only moves when status changes."""
        self.attach()
        items: list[dict[str, Any]] = self.raw.setdefault("conditions", [])
        existing = next((item for item in items if item.get("type") == type_), None)
        if existing is None:
            existing = {"type": type_}
            items.append(existing)
        if existing.get("status") != status or "lastTransitionTime" not in existing:
            existing["lastTransitionTime"] = now or now_rfc3339()
        existing["status"] = status
        if observed_generation is not None:
            existing["observedGeneration"] = observed_generation
        existing["reason"] = reason
        existing["message"] = message
        return Condition(existing)

    def remove_condition(self, type_: str) -> None:
        items = self.raw.get("conditions")
        if items:
            self.raw["conditions"] = [item for item in items if item.get("type") != type_]


class ObjectStatus(ConditionsStatus):
    """Status fields every reconciled Flux kind has."""

    #: ``-1`` (the CRD's status default) until the controller first observes the object.
    observed_generation = Field[int](fallback=-1)
    last_handled_reconcile_at = Field[str | None]()


class ObjectMeta(View):
    """The parts of ``metav1.ObjectMeta`` controllers read."""

    name = Field[str | None]()
    namespace = Field[str | None]()
    generate_name = Field[str | None]()
    uid = Field[str | None]()
    resource_version = Field[str | None]()
    generation = Field[int | None]()
    creation_timestamp = Field[str | None]()
    deletion_timestamp = Field[str | None]()
    labels = string_map()
    annotations = string_map()
    finalizers = ListField[str]()
    owner_references = ListField[dict[str, Any]]()
