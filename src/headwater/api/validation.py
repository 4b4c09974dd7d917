"""Offline validation of Flux manifests against the CRD schemas (no API server needed).

It finds what the API server would reject, each error naming the field path
(``spec.ref.branch``, ``spec.include[0].repository``).
It applies what a structural schema says: types, required properties, enums, patterns,
lengths, bounds, ``date-time``/``int64`` formats, list-map key uniqueness, unknown fields
(as ``kubectl apply`` does with strict field validation), and the CEL rules (evaluated
with :mod:`headwater.api.cel`, the engine of every CEL expression).  Validation runs on a
copy of the manifest with schema defaults applied, as the API server would see it after
defaulting; like the API server, a ``null`` property that is not nullable counts as absent
(it would be pruned).

Objects outside the Flux API groups are not ours to judge: :func:`validate` returns no
errors for them.  A Flux group at a version or kind headwater does not serve is an error.

Where it runs: the reconcilers read objects through typed views, which trust the schema
(the API server admitted the object against the same CRD), so validating again on every
reconcile would cost time and find nothing.  When a view does meet an object it cannot read
(a required field absent, a duration that does not parse: a CRD that is not Flux's, or a
test's fake), :func:`refuse_unreadable` turns the view's error into the reconciler's
terminal error with reason ``ValidationFailed`` and every problem :func:`validate` finds, so
the object's Ready condition says what to fix.  The CLI's local build does not validate the
``--kustomization-file`` it reads: Flux's CLI decodes that file without validation (minimal
files and older API versions build), and headwater keeps that behaviour.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from headwater.api.cel import CelError, evaluate_rule
from headwater.api.duration import DurationError
from headwater.api.kinddef import KindDef
from headwater.api.kinds import ALL_KINDS, is_flux_group, kind_of
from headwater.api.models.base import MissingFieldError
from headwater.api.schema import Schema

_DATE_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_INT_RANGES: Final = {"int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1)}
_PYTHON_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}

REQUIRED: Final = "Required value"
INVALID: Final = "Invalid value"
UNSUPPORTED: Final = "Unsupported value"
UNKNOWN: Final = "Unknown field"
TOO_LONG: Final = "Too long"
TOO_SHORT: Final = "Too short"
TOO_MANY: Final = "Too many"
DUPLICATE: Final = "Duplicate value"

#: Ready reason of an object a controller cannot read (Flux's word for a spec that fails validation).
VALIDATION_FAILED_REASON: Final = "ValidationFailed"
#: What a typed view raises for an object it cannot read (a required field absent, a bad duration).
UNREADABLE: Final = (MissingFieldError, DurationError)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem, Kubernetes style: ``spec.url: Required value: ...``."""

    path: str
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" + (f": {self.detail}" if self.detail else "")


class ValidationError(ValueError):
    """Raised by :func:`check` with every :class:`FieldError` found."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


@functools.cache
def _object_schema(kind: KindDef) -> Schema:
    return kind.schema


def validate(manifest: Mapping[str, Any], *, strict: bool = True) -> list[FieldError]:
    """All schema violations of one manifest; ``[]`` when valid or not a Flux kind.

    ``strict=False`` tolerates unknown fields (the API server would silently drop them).
    """
    api_version = manifest.get("apiVersion")
    if not isinstance(api_version, str) or not is_flux_group(api_version):
        return []
    kind = kind_of(manifest)
    if kind is None:
        return [_not_served(api_version, manifest.get("kind"))]
    errors = validate_value(_object_schema(kind), manifest, "", strict=strict)
    metadata = manifest.get("metadata")
    if isinstance(metadata, Mapping) and not (metadata.get("name") or metadata.get("generateName")):
        errors.append(FieldError("metadata.name", REQUIRED, "name or generateName is required"))
    elif metadata is None:
        errors.append(FieldError("metadata", REQUIRED))
    return errors


def check(manifest: Mapping[str, Any], *, strict: bool = True) -> None:
    """Raise :class:`ValidationError` when :func:`validate` finds problems."""
    errors = validate(manifest, strict=strict)
    if errors:
        raise ValidationError(errors)


def invalid_message(manifest: Mapping[str, Any], cause: Exception) -> str:
    """Why ``manifest`` cannot be used: every violation (unknown fields tolerated), else ``cause``."""
    errors = validate(manifest, strict=False)
    if not errors:
        return str(cause)
    return "invalid object: " + "; ".join(str(error) for error in errors)


@contextlib.contextmanager
def refuse_unreadable(manifest: Mapping[str, Any], refuse: Callable[[str, str], Exception]) -> Iterator[None]:
    """Inside the block, a typed view that cannot read ``manifest`` raises ``refuse(reason, message)``.

    ``refuse`` is the caller's error type (a reconciler passes its terminal error), so the API layer
    needs nothing from the runtime; the reason is :data:`VALIDATION_FAILED_REASON`, the message
    :func:`invalid_message`. Costs nothing unless a view fails.
    """
    try:
        yield
    except UNREADABLE as err:
        raise refuse(VALIDATION_FAILED_REASON, invalid_message(manifest, err)) from err


def _not_served(api_version: str, kind_name: object) -> FieldError:
    group = api_version.partition("/")[0]
    known = [kind for kind in ALL_KINDS if kind.group == group and kind.kind == kind_name]
    if known:
        served = ", ".join(known[0].api_versions())
        return FieldError("apiVersion", UNSUPPORTED, f"{kind_name} is served as {served}, not {api_version}")
    return FieldError("kind", UNSUPPORTED, f"{kind_name!r} is not a kind of {group}")


def validate_value(schema: Schema, value: Any, path: str, *, strict: bool = True) -> list[FieldError]:
    """Validate ``value`` against ``schema``; ``path`` prefixes the reported field paths."""
    errors: list[FieldError] = []
    _validate(schema, apply_defaults(schema, copy.deepcopy(value)), path, strict, errors)
    return errors


def _validate(schema: Schema, value: Any, path: str, strict: bool, errors: list[FieldError]) -> None:
    if schema.type is None:  # free-form JSON
        return
    if value is None:
        if not schema.nullable:
            errors.append(FieldError(path, INVALID, f"null: must be of type {schema.type}"))
        return
    expected = _PYTHON_TYPES[schema.type]
    if not isinstance(value, expected) or (schema.type in ("integer", "number") and isinstance(value, bool)):
        errors.append(FieldError(path, INVALID, f"{_show(value)}: must be of type {schema.type}"))
        return
    if schema.enum is not None and value not in schema.enum:
        supported = ", ".join(_show(item) for item in schema.enum)
        errors.append(FieldError(path, UNSUPPORTED, f"{_show(value)}: supported values: {supported}"))
    if isinstance(value, str):
        _validate_string(schema, value, path, errors)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(schema, value, path, errors)
    elif isinstance(value, list):
        _validate_array(schema, value, path, strict, errors)
    elif isinstance(value, dict):
        _validate_object(schema, value, path, strict, errors)


def _validate_string(schema: Schema, value: str, path: str, errors: list[FieldError]) -> None:
    if schema.max_length is not None and len(value) > schema.max_length:
        errors.append(FieldError(path, TOO_LONG, f"may not be longer than {schema.max_length}"))
    if schema.min_length is not None and len(value) < schema.min_length:
        errors.append(FieldError(path, TOO_SHORT, f"must be at least {schema.min_length} characters"))
    if schema.pattern is not None and not _regex(schema.pattern).search(value):
        errors.append(FieldError(path, INVALID, f"{_show(value)}: should match '{schema.pattern}'"))
    if schema.format == "date-time" and not _DATE_TIME.match(value):
        errors.append(FieldError(path, INVALID, f"{_show(value)}: must be an RFC 3339 date-time"))


def _validate_number(schema: Schema, value: float, path: str, errors: list[FieldError]) -> None:
    if schema.format in _INT_RANGES:
        low, high = _INT_RANGES[schema.format]
        if not low <= value <= high:
            errors.append(FieldError(path, INVALID, f"{value}: out of range for {schema.format}"))
    if schema.minimum is not None and value < schema.minimum:
        errors.append(FieldError(path, INVALID, f"{value}: must be greater than or equal to {schema.minimum}"))
    if schema.maximum is not None and value > schema.maximum:
        errors.append(FieldError(path, INVALID, f"{value}: must be less than or equal to {schema.maximum}"))


def _validate_array(schema: Schema, value: list[Any], path: str, strict: bool, errors: list[FieldError]) -> None:
    if schema.max_items is not None and len(value) > schema.max_items:
        errors.append(FieldError(path, TOO_MANY, f"must have at most {schema.max_items} items"))
    if schema.min_items is not None and len(value) < schema.min_items:
        errors.append(FieldError(path, INVALID, f"must have at least {schema.min_items} items"))
    if schema.items is not None:
        for index, item in enumerate(value):
            _validate(schema.items, item, f"{path}[{index}]", strict, errors)
    if schema.list_type == "map" and schema.list_map_keys:
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                key = tuple(_hashable(item.get(name)) for name in schema.list_map_keys)
                if key in seen:
                    errors.append(FieldError(f"{path}[{index}]", DUPLICATE, _show(dict(item))))
                seen.add(key)
    elif schema.list_type == "set":
        seen_items: set[Any] = set()
        for index, item in enumerate(value):
            hashable = _hashable(item)
            if hashable in seen_items:
                errors.append(FieldError(f"{path}[{index}]", DUPLICATE, _show(item)))
            seen_items.add(hashable)


def _validate_object(schema: Schema, value: dict[str, Any], path: str, strict: bool, errors: list[FieldError]) -> None:
    before = len(errors)
    properties = schema.properties
    for name, child in properties.items():
        present = value.get(name) is not None or (child.nullable and name in value)
        if present:
            _validate(child, value[name], _join(path, name), strict, errors)
        elif child.is_required:
            errors.append(FieldError(_join(path, name), REQUIRED))
    if schema.additional_properties is not None:
        for name, item in value.items():
            if name not in properties:
                _validate(schema.additional_properties, item, f"{path}[{name}]", strict, errors)
    elif strict and properties and not schema.preserve_unknown_fields:
        for name in value:
            if name not in properties:
                errors.append(FieldError(_join(path, name), UNKNOWN, "field not declared in schema"))
    if schema.validations and len(errors) == before:
        _check_rules(schema, value, path, errors)


def _check_rules(schema: Schema, value: dict[str, Any], path: str, errors: list[FieldError]) -> None:
    for rule in schema.validations:
        try:
            ok = evaluate_rule(rule.rule, value)
        except CelError:
            continue  # the API server would report the error itself; we cannot judge the object
        if not ok:
            errors.append(FieldError(path or "<root>", INVALID, rule.message))


def apply_defaults(schema: Schema, value: Any) -> Any:
    """Apply schema defaults in place, top-down like the API server; returns ``value``."""
    if isinstance(value, dict):
        for name, child in schema.properties.items():
            absent = value.get(name) is None and not (child.nullable and name in value)
            if absent and child.has_default:
                value[name] = child.default_copy()
            if name in value:
                apply_defaults(child, value[name])
        if schema.additional_properties is not None:
            for name, item in value.items():
                if name not in schema.properties:
                    apply_defaults(schema.additional_properties, item)
    elif isinstance(value, list) and schema.items is not None:
        for item in value:
            apply_defaults(schema.items, item)
    return value


def with_defaults(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a Flux manifest with its kind's schema defaults applied."""
    result = copy.deepcopy(dict(manifest))
    kind = kind_of(manifest)
    if kind is not None:
        apply_defaults(_object_schema(kind), result)
    return result


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    return json.dumps(value, default=str)


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str)
