"""Post-build substitution value by value, with types decided by the apiserver's schema.

Flux substitutes in each object's YAML text and re-parses it, so the quoting in the source decides
whether `${PORT}` becomes `"8080"` or `8080`. `kubectl kustomize` drops that quoting from its output, so
here every string value is substituted on its own and stays a string, except a value that was exactly
one `${...}` expression in a field the apiserver's schema types as integer, number or boolean: that one
becomes a number or boolean. For manifests that apply under Flux the result is the same object; this is
also safe for a `${VAR}` in a string field whose value looks like a number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from headwater.api import safeyaml
from headwater.kustomize.substitute import (
    EnvsubstError,
    SubstitutionError,
    envsubst,
    is_substitution_disabled,
    object_ref,
    validate_variable_names,
)
from headwater.runtime.kube.openapi import OpenAPITypes, PathPart

WHOLE_EXPRESSION = re.compile(r"^\$\{[^{}]*\}$")


async def substitute(
    obj: dict[str, Any], variables: Mapping[str, str], strict: bool, types: OpenAPITypes, *, always: bool = False
) -> dict[str, Any]:
    """`obj` with its `${...}` expressions expanded (the object itself when nothing applies)."""
    if is_substitution_disabled(obj) or (not variables and not always):
        return obj
    validate_variable_names(variables)
    typed: list[tuple[tuple[PathPart, ...], str]] = []

    def walk(value: Any, path: tuple[PathPart, ...]) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            try:
                result = envsubst(value, variables, strict)
            except EnvsubstError as err:
                raise SubstitutionError(f"post build failed for '{object_ref(obj)}': {err}", object_ref=object_ref(obj),
                                        variable=err.variable) from err
            if WHOLE_EXPRESSION.match(value):
                typed.append((path, result))
            return result
        return value

    result: dict[str, Any] = walk(obj, ())
    for path, text in typed:
        kind = await types.type_at(str(obj.get("apiVersion", "")), str(obj.get("kind", "")), path)
        converted = _convert(text, kind)
        if converted is not text:
            _set(result, path, converted)
    return result


def _convert(text: str, field_type: str | None) -> Any:
    if field_type not in ("integer", "number", "boolean", "int-or-string"):
        return text
    try:
        value = safeyaml.load(text, source="substituted value", loader=yaml.SafeLoader)
    except safeyaml.YAMLInputError:
        return text
    if field_type == "boolean" and isinstance(value, bool):
        return value
    if field_type in ("integer", "int-or-string") and isinstance(value, int) and not isinstance(value, bool):
        return value
    if field_type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return text


def _set(obj: Any, path: tuple[PathPart, ...], value: Any) -> None:
    for part in path[:-1]:
        obj = obj[part]
    obj[path[-1]] = value
