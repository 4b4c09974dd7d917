"""Our generated CRDs are structurally equal to Flux's (descriptions aside)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.api.crdgen import crd_path
from headwater.api.kinddef import KindDef
from headwater.api.kinds import ALL_KINDS

from .jsondiff import differences, strip_descriptions

pytestmark = pytest.mark.unit

KIND_IDS = [kind.kind for kind in ALL_KINDS]


def comparable(crd: dict[str, Any]) -> dict[str, Any]:
    """Our CRD in the layout of the reference files."""
    spec = crd["spec"]
    storage = [version for version in spec["versions"] if version["storage"]]
    assert len(storage) == 1, "exactly one storage version"
    version = storage[0]
    names = dict(spec["names"])
    return {
        "group": spec["group"],
        "kind": names.pop("kind"),
        "names": names,
        "printerColumns": version.get("additionalPrinterColumns", []),
        "schema": strip_descriptions(version["schema"]["openAPIV3Schema"]),
        "scope": spec["scope"],
        "served_versions": [v["name"] for v in spec["versions"] if v["served"]],
        "subresources": version.get("subresources", {}),
        "version": version["name"],
    }


def normalised_reference(path: Path) -> dict[str, Any]:
    reference = json.loads(path.read_text())
    names = {key: value for key, value in reference["names"].items() if value is not None}
    return {**strip_descriptions(reference), "names": names}


def test_reference_covers_exactly_our_kinds(reference: Path) -> None:
    files = {path.name for path in reference.glob("*.json")}
    assert files == {f"{kind.crd_name}.json" for kind in ALL_KINDS}


@pytest.mark.parametrize("kind", ALL_KINDS, ids=KIND_IDS)
def test_crd_matches_flux(kind: KindDef, reference: Path) -> None:
    documents = list(yaml.safe_load_all(crd_path(kind).read_text()))
    assert len(documents) == 1
    crd = documents[0]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == kind.crd_name
    diffs = list(differences(comparable(crd), normalised_reference(reference / f"{kind.crd_name}.json")))
    assert not diffs, f"{kind.kind} CRD differs from Flux's at:\n" + "\n".join(diffs)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=KIND_IDS)
def test_crd_carries_our_descriptions(kind: KindDef) -> None:
    crd = yaml.safe_load(crd_path(kind).read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["description"]
    assert schema["properties"]["spec"]["description"]
    for name, prop in schema["properties"]["spec"]["properties"].items():
        assert prop.get("description"), f"spec.{name} has no description"


@pytest.mark.parametrize("kind", ALL_KINDS, ids=KIND_IDS)
def test_crd_is_structural(kind: KindDef) -> None:
    """Every node has a type (except free-form values) and conversion is None."""
    crd = yaml.safe_load(crd_path(kind).read_text())
    assert crd["spec"]["conversion"] == {"strategy": "None"}

    def walk(node: dict[str, Any], path: str) -> None:
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
        for name, child in node.get("properties", {}).items():
            walk(child, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")

    for version in crd["spec"]["versions"]:
        walk(version["schema"]["openAPIV3Schema"], version["name"])


def test_differences_reports_json_paths() -> None:
    ours = {"spec": {"properties": {"url": {"type": "string"}}, "required": ["url"]}}
    theirs = {"spec": {"properties": {"url": {"type": "integer"}}, "required": ["url", "x"]}}
    assert list(differences(ours, theirs)) == [
        '$.spec.properties.url.type: "string" != "integer"',
        '$.spec.required: 1 items != 2 (["url"] vs ["url", "x"])',
    ]
