"""The identity of one Flux kind: API group, names, versions and its spec/status schema.

A :class:`KindDef` is everything needed to render the kind's CustomResourceDefinition and
to recognise its objects (``apiVersion`` + ``kind``).  The definitions themselves live in
:mod:`headwater.api.defs`, one module per API group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from headwater.api.schema import Schema, obj, string

READY_STATUS: Final = '.status.conditions[?(@.type=="Ready")].status'
READY_MESSAGE: Final = '.status.conditions[?(@.type=="Ready")].message'


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """A ``kubectl get`` column (``additionalPrinterColumns``)."""

    name: str
    json_path: str
    type: str = "string"
    priority: int = 0
    description: str = ""

    def to_crd(self) -> dict[str, object]:
        out: dict[str, object] = {"jsonPath": self.json_path, "name": self.name, "type": self.type}
        if self.priority:
            out["priority"] = self.priority
        if self.description:
            out["description"] = self.description
        return out


AGE: Final = PrinterColumn("Age", ".metadata.creationTimestamp", "date")
READY: Final = PrinterColumn("Ready", READY_STATUS)
STATUS: Final = PrinterColumn("Status", READY_MESSAGE)


@dataclass(frozen=True, slots=True)
class Reference:
    """A field of a kind's objects that names other Flux objects.

    ``path`` is the field's location below the object root; a ``"[]"`` component means "each item of
    this list". The field holds ``{name, [namespace], [kind], [apiVersion]}``; when it has no ``kind``,
    the referenced kind is ``kinds[0]``. The CLI's ``events --for``, ``trace`` and ``tree`` and the
    controllers' watch indexes follow these, so a new kind's references are declared here only.
    """

    path: tuple[str, ...]
    kinds: tuple[str, ...]
    cross_namespace: bool = False

    def targets(self, obj: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """``(kind, namespace, name)`` of every object this field of ``obj`` names (namespace defaulted)."""
        own_namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        found: list[tuple[str, str, str]] = []
        for ref in _walk(obj, self.path):
            if not isinstance(ref, Mapping) or not ref.get("name"):
                continue
            namespace = str(ref.get("namespace") or own_namespace) if self.cross_namespace else own_namespace
            found.append((str(ref.get("kind") or self.kinds[0]), namespace, str(ref["name"])))
        return found


def _walk(node: Any, path: tuple[str, ...]) -> list[Any]:
    if not path:
        return [node]
    head, rest = path[0], path[1:]
    if head == "[]":
        return [hit for item in node for hit in _walk(item, rest)] if isinstance(node, list) else []
    if not isinstance(node, Mapping) or head not in node:
        return []
    return _walk(node[head], rest)


@dataclass(frozen=True, slots=True)
class KindDef:
    """One Flux custom resource kind at its storage version."""

    group: str
    version: str
    kind: str
    plural: str
    description: str
    spec: Schema
    status: Schema | None
    printer_columns: tuple[PrinterColumn, ...]
    category: str
    component: str
    short_names: tuple[str, ...] = ()
    #: How the CLI names the kind after a verb (``get source git``, ``create kustomization``).
    cli_noun: str = ""
    #: Whether its objects publish ``status.artifact`` (url, digest, revision) for consumers to fetch.
    artifact: bool = False
    #: The fields that name other Flux objects (see :class:`Reference`).
    references: tuple[Reference, ...] = ()
    #: Older versions served with the same schema (``conversion: None``).
    legacy_versions: tuple[str, ...] = ()
    scope: str = "Namespaced"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def reference_at(self, *path: str) -> Reference:
        """The declared reference field at ``path`` (e.g. ``"spec", "sourceRef"``); raises ``KeyError``."""
        for reference in self.references:
            if reference.path == path:
                return reference
        raise KeyError(f"{self.kind} declares no reference at {'.'.join(path)}")

    @property
    def controller(self) -> str:
        """The controller that reconciles the kind (``source``, ``kustomize``, ``helm``, …)."""
        return self.component.removesuffix("-controller")

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def names(self) -> tuple[str, ...]:
        """Every name kubectl accepts for the kind: singular, plural and short names (lower case)."""
        return (self.singular, self.plural, *self.short_names)

    @property
    def is_source(self) -> bool:
        """Whether the kind is a Flux source (the source API group: GitRepository, OCIRepository, …)."""
        return self.group.partition(".")[0] == "source"

    @property
    def suspendable(self) -> bool:
        """Whether its spec has ``suspend`` (so ``suspend``/``resume`` apply)."""
        return "suspend" in self.spec.properties

    @property
    def reconcilable(self) -> bool:
        """Whether its controller answers a reconcile request (status ``lastHandledReconcileAt``)."""
        return self.status is not None and "lastHandledReconcileAt" in self.status.properties

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def categories(self) -> tuple[str, ...]:
        return ("all", "fluxcd", self.category)

    @property
    def served_versions(self) -> tuple[str, ...]:
        return (self.version, *self.legacy_versions)

    def api_versions(self) -> tuple[str, ...]:
        return tuple(f"{self.group}/{version}" for version in self.served_versions)

    @property
    def status_schema(self) -> Schema:
        """The status schema; raises for static kinds without status."""
        if self.status is None:
            raise LookupError(f"{self.kind} has no status")
        return self.status

    @property
    def schema(self) -> Schema:
        """The whole-object schema (what goes under ``openAPIV3Schema``)."""
        properties = {
            "apiVersion": string("Versioned schema of this object (group/version)."),
            "kind": string("Kind of this object, in CamelCase."),
            "metadata": obj(),
            "spec": self.spec,
        }
        if self.status is not None:
            properties["status"] = self.status
        return obj(self.description, properties)


__all__ = ["AGE", "READY", "STATUS", "KindDef", "PrinterColumn", "Reference"]
