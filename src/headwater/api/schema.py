"""A tiny declarative language for structural OpenAPI v3 schemas.

Every Flux kind is described exactly once, as a tree of :class:`Schema` nodes built with
the helper functions below (``string``, ``integer``, ``obj``, ``array`` ...).  Three things
are derived from that single description, so they cannot drift apart:

* the CRD manifests under ``config/crd`` (:mod:`headwater.api.crd`),
* the offline validator used by ``headwater build`` (:mod:`headwater.api.validation`),
* the defaults returned by the typed accessors (:mod:`headwater.api.models`).

Why not JSON Schema dicts written by hand?  Because the same shapes (a Secret reference,
an Artifact, a Go duration) appear dozens of times with different descriptions and
"required" flags; nodes are immutable values that can be reused and tweaked with
:meth:`Schema.require` and :meth:`Schema.describe`.  Whether a property is required is
stored on the child node and collected by the parent when it is rendered, which keeps each
property's facts in one place.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

JSONType = Literal["string", "integer", "number", "boolean", "object", "array"]


class _Unset:
    """Marker for "no default" (``None`` is a legal JSON default)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()

#: Flux's pattern for Go durations that may use hours (``metav1.Duration`` fields).
DURATION_PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
#: Flux's pattern for timeouts, which may not be given in hours.
TIMEOUT_PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"


@dataclass(frozen=True, slots=True)
class Rule:
    """A CEL rule (``x-kubernetes-validations``) attached to an object node."""

    rule: str
    message: str

    def to_openapi(self) -> dict[str, str]:
        return {"message": self.message, "rule": self.rule}


@dataclass(frozen=True, slots=True, eq=False)
class Schema:
    """One node of a structural schema.

    ``type`` is ``None`` only for free-form JSON (``x-kubernetes-preserve-unknown-fields``
    without a type, e.g. HelmRelease ``spec.values``).
    """

    type: JSONType | None
    description: str = ""
    is_required: bool = False
    default: Any = UNSET
    enum: tuple[Any, ...] | None = None
    pattern: str | None = None
    format: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    nullable: bool = False
    properties: Mapping[str, Schema] = field(default_factory=dict)
    additional_properties: Schema | None = None
    items: Schema | None = None
    preserve_unknown_fields: bool = False
    list_type: Literal["atomic", "set", "map"] | None = None
    list_map_keys: tuple[str, ...] | None = None
    map_type: Literal["atomic", "granular"] | None = None
    validations: tuple[Rule, ...] = ()

    # -- derivation -------------------------------------------------------------------
    def require(self) -> Schema:
        """The same node, marked as required in its parent object."""
        return dataclasses.replace(self, is_required=True)

    def describe(self, description: str) -> Schema:
        """The same node with another description (for reused shapes)."""
        return dataclasses.replace(self, description=description)

    def with_default(self, default: Any) -> Schema:
        return dataclasses.replace(self, default=default)

    # -- queries ----------------------------------------------------------------------
    @property
    def has_default(self) -> bool:
        return self.default is not UNSET

    def default_copy(self) -> Any:
        """A private copy of the default (defaults may be lists or maps)."""
        return copy.deepcopy(self.default)

    @property
    def required_names(self) -> list[str]:
        return sorted(name for name, child in self.properties.items() if child.is_required)

    def at(self, path: str) -> Schema:
        """The node at a dotted property path (``[]`` steps into array items)."""
        node: Schema = self
        for step in path.split("."):
            if step == "[]":
                assert node.items is not None, f"{path}: not an array"
                node = node.items
            elif step == "{}":
                assert node.additional_properties is not None, f"{path}: not a map"
                node = node.additional_properties
            else:
                node = node.properties[step]
        return node

    # -- rendering --------------------------------------------------------------------
    def to_openapi(self, *, descriptions: bool = True) -> dict[str, Any]:
        """Render as an OpenAPI v3 (apiextensions.k8s.io/v1 structural) schema dict."""
        out: dict[str, Any] = {}
        if descriptions and self.description:
            out["description"] = self.description
        if self.type is not None:
            out["type"] = self.type
        if self.has_default:
            out["default"] = self.default_copy()
        if self.enum is not None:
            out["enum"] = list(self.enum)
        for key, value in (
            ("pattern", self.pattern),
            ("format", self.format),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("minItems", self.min_items),
            ("maxItems", self.max_items),
        ):
            if value is not None:
                out[key] = value
        if self.nullable:
            out["nullable"] = True
        if self.properties:
            out["properties"] = {
                name: child.to_openapi(descriptions=descriptions) for name, child in sorted(self.properties.items())
            }
            required = self.required_names
            if required:
                out["required"] = required
        if self.additional_properties is not None:
            out["additionalProperties"] = self.additional_properties.to_openapi(descriptions=descriptions)
        if self.items is not None:
            out["items"] = self.items.to_openapi(descriptions=descriptions)
        if self.preserve_unknown_fields:
            out["x-kubernetes-preserve-unknown-fields"] = True
        if self.list_type is not None:
            out["x-kubernetes-list-type"] = self.list_type
        if self.list_map_keys is not None:
            out["x-kubernetes-list-map-keys"] = list(self.list_map_keys)
        if self.map_type is not None:
            out["x-kubernetes-map-type"] = self.map_type
        if self.validations:
            out["x-kubernetes-validations"] = [rule.to_openapi() for rule in self.validations]
        return out


# -- builders -------------------------------------------------------------------------
def string(
    description: str = "",
    *,
    required: bool = False,
    default: Any = UNSET,
    enum: tuple[str, ...] | None = None,
    pattern: str | None = None,
    format: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
) -> Schema:
    return Schema(
        "string",
        description,
        is_required=required,
        default=default,
        enum=enum,
        pattern=pattern,
        format=format,
        min_length=min_length,
        max_length=max_length,
    )


def enum(description: str, values: tuple[str, ...], *, required: bool = False, default: Any = UNSET) -> Schema:
    return string(description, required=required, default=default, enum=values)


def duration(description: str, *, required: bool = False, default: Any = UNSET, hours: bool = True) -> Schema:
    """A Go duration string; ``hours=False`` gives Flux's timeout pattern (no ``h``)."""
    return string(
        description,
        required=required,
        default=default,
        pattern=DURATION_PATTERN if hours else TIMEOUT_PATTERN,
    )


def date_time(description: str, *, required: bool = False) -> Schema:
    return string(description, required=required, format="date-time")


def integer(
    description: str = "",
    *,
    required: bool = False,
    default: Any = UNSET,
    format: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> Schema:
    return Schema(
        "integer",
        description,
        is_required=required,
        default=default,
        format=format,
        minimum=minimum,
        maximum=maximum,
    )


def int64(description: str = "", *, required: bool = False, minimum: int | None = None) -> Schema:
    return integer(description, required=required, format="int64", minimum=minimum)


def boolean(description: str = "", *, required: bool = False, default: Any = UNSET) -> Schema:
    return Schema("boolean", description, is_required=required, default=default)


def obj(
    description: str = "",
    properties: Mapping[str, Schema] | None = None,
    *,
    required: bool = False,
    default: Any = UNSET,
    values: Schema | None = None,
    rules: tuple[Rule, ...] = (),
    map_type: Literal["atomic", "granular"] | None = None,
) -> Schema:
    """An object with fixed ``properties`` and/or map ``values`` (additionalProperties)."""
    return Schema(
        "object",
        description,
        is_required=required,
        default=default,
        properties=dict(properties or {}),
        additional_properties=values,
        validations=rules,
        map_type=map_type,
    )


def string_map(description: str = "", *, required: bool = False) -> Schema:
    """``map[string]string``."""
    return obj(description, required=required, values=string())


def array(
    description: str,
    items: Schema,
    *,
    required: bool = False,
    default: Any = UNSET,
    min_items: int | None = None,
    max_items: int | None = None,
    list_type: Literal["atomic", "set", "map"] | None = None,
    list_map_keys: tuple[str, ...] | None = None,
) -> Schema:
    return Schema(
        "array",
        description,
        is_required=required,
        default=default,
        items=items,
        min_items=min_items,
        max_items=max_items,
        list_type=list_type,
        list_map_keys=list_map_keys,
    )


def strings(description: str = "", *, required: bool = False, default: Any = UNSET) -> Schema:
    """``[]string``."""
    return array(description, string(), required=required, default=default)


def free_form(description: str = "") -> Schema:
    """Arbitrary JSON kept as-is (``x-kubernetes-preserve-unknown-fields``)."""
    return Schema(None, description, preserve_unknown_fields=True)


def rule(expression: str, message: str) -> Rule:
    return Rule(expression, message)
