"""The identity of one Flux kind: API group, names, versions and its spec/status schema.

A :class:`KindDef` is everything needed to render the kind's CustomResourceDefinition and
to recognise its objects (``apiVersion`` + ``kind``).  The definitions themselves live in
:mod:`headwater.api.defs`, one module per API group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

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
    #: Older versions served with the same schema (``conversion: None``).
    legacy_versions: tuple[str, ...] = ()
    scope: str = "Namespaced"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

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


__all__ = ["AGE", "READY", "STATUS", "KindDef", "PrinterColumn"]
