"""Render a :class:`~headwater.api.kinddef.KindDef` as an apiextensions.k8s.io/v1 CRD.

The output mirrors what Flux ships (controller-gen style): the storage version first with
``storage: true``, any trivially convertible legacy versions after it with the same
schema, ``conversion: None``, the status subresource when the kind has a status, and the
labels/annotation Flux puts on its own CRDs.
"""

from __future__ import annotations

from typing import Any

from headwater.api.kinddef import KindDef


def crd_manifest(kind: KindDef) -> dict[str, Any]:
    """The CustomResourceDefinition object for ``kind`` as a plain dict."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "annotations": {
                # Flux variable substitution must never touch CRD schemas.
                "kustomize.toolkit.fluxcd.io/substitute": "disabled",
            },
            "labels": {
                "app.kubernetes.io/component": kind.component,
                "app.kubernetes.io/instance": "flux-system",
                "app.kubernetes.io/part-of": "flux",
            },
            "name": kind.crd_name,
        },
        "spec": {
            "conversion": {"strategy": "None"},
            "group": kind.group,
            "names": _names(kind),
            "scope": kind.scope,
            "versions": [_version(kind, version) for version in kind.served_versions],
        },
    }


def _names(kind: KindDef) -> dict[str, Any]:
    names: dict[str, Any] = {
        "categories": list(kind.categories),
        "kind": kind.kind,
        "listKind": kind.list_kind,
        "plural": kind.plural,
        "singular": kind.singular,
    }
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    return names


def _version(kind: KindDef, version: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "additionalPrinterColumns": [column.to_crd() for column in kind.printer_columns],
        "name": version,
        "schema": {"openAPIV3Schema": kind.schema.to_openapi()},
        "served": True,
        "storage": version == kind.version,
    }
    if version != kind.version:
        entry["deprecated"] = True
        entry["deprecationWarning"] = f"{kind.group}/{version} {kind.kind} is deprecated, use {kind.api_version}"
    if kind.status is not None:
        entry["subresources"] = {"status": {}}
    return entry
