"""The apiserver enforces our generated Flux CRDs: valid manifests pass, invalid ones fail with its message.

The invalid variants are derived from Flux's own reference schemas (`tests/data/flux-crd-schemas`), walking
each example manifest: drop a required field, put a value outside an enum, break a duration pattern, give a
boolean the wrong type. Every kind gets every variant its schema allows.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.runtime.kube import Invalid, KubeClient

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "data" / "flux-crd-schemas"
MANIFESTS = ROOT / "tests" / "unit" / "api" / "manifests"
DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"


def reference_schema(kind: str) -> dict[str, Any]:
    for path in REFERENCE.glob("*.json"):
        data = json.loads(path.read_text())
        if data["kind"] == kind:
            return data["schema"]  # type: ignore[no-any-return]
    raise LookupError(kind)


def examples() -> list[dict[str, Any]]:
    """The first manifest of each kind among the example files."""
    by_kind: dict[str, dict[str, Any]] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") and doc["kind"] not in by_kind:
                by_kind[doc["kind"]] = doc
    return list(by_kind.values())


def walk(schema: dict[str, Any], value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(path, schema) of every field present in `value`, and of absent scalar fields of present objects."""
    yield path, schema
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                yield from walk(sub, value[name], (*path, name))
            elif sub.get("type") in ("string", "boolean"):
                yield (*path, name), sub
    elif isinstance(value, list) and value and "items" in schema:
        yield from walk(schema["items"], value[0], (*path, "0"))


def set_at(obj: Any, path: tuple[str, ...], new: Any, delete: bool = False) -> None:
    for part in path[:-1]:
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    last: int | str = int(path[-1]) if isinstance(obj, list) else path[-1]
    if delete:
        del obj[last]
    else:
        obj[last] = new


def display(path: tuple[str, ...]) -> str:
    return ".".join(f"[{p}]" if p.isdigit() else p for p in path).replace(".[", "[")


def _present(obj: Any, path: tuple[str, ...]) -> bool:
    for part in path:
        if isinstance(obj, list):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return False
    return True


def _has(schema: dict[str, Any], test: Any) -> bool:
    if test(schema):
        return True
    children = list((schema.get("properties") or {}).values())
    children += [schema["items"]] if "items" in schema else []
    return any(_has(child, test) for child in children)


def invalid_variants() -> list[Any]:
    cases = []
    for manifest in examples():
        kind = manifest["kind"]
        fields = list(walk(reference_schema(kind)["properties"]["spec"], manifest["spec"], ("spec",)))
        required = next((
            (*p, name) for p, sub in fields for name in sub.get("required") or []
            if _present(manifest, (*p, name))
        ), None)
        if required:
            cases.append(pytest.param(manifest, required, None, "Required value",
                                      id=f"{kind}-missing-{required[-1]}"))
        text = next((p for p, s in fields if s.get("type") == "string" and "enum" not in s
                     and _present(manifest, p)), None)
        if text:
            cases.append(pytest.param(manifest, text, 12345, "must be of type string",
                                      id=f"{kind}-wrong-type-{text[-1]}"))
        enum = next((p for p, s in fields if "enum" in s and s.get("type") == "string"), None)
        if enum:
            cases.append(pytest.param(manifest, enum, "not-a-valid-choice", "Unsupported value",
                                      id=f"{kind}-bad-enum-{enum[-1]}"))
        duration = next((p for p, s in fields if s.get("pattern") == DURATION_PATTERN), None)
        if duration:
            cases.append(pytest.param(manifest, duration, "1d", "should match",
                                      id=f"{kind}-bad-duration-{duration[-1]}"))
        boolean = next((p for p, s in fields if s.get("type") == "boolean"), None)
        if boolean:
            cases.append(pytest.param(manifest, boolean, "yes", "must be of type boolean",
                                      id=f"{kind}-wrong-type-{boolean[-1]}"))
    return cases


def in_namespace(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    obj = copy.deepcopy(manifest)
    obj["metadata"]["namespace"] = namespace
    return obj


async def test_all_fourteen_crds_are_established(flux_crds: list[str]) -> None:
    assert len(flux_crds) == 14
    assert "gitrepositories.source.toolkit.fluxcd.io" in flux_crds


@pytest.mark.parametrize("manifest", examples(), ids=lambda m: m["kind"])
async def test_flux_examples_are_accepted(
    kube: KubeClient, namespace: str, flux_crds: list[str], manifest: dict[str, Any]
) -> None:
    created = await kube.create(in_namespace(manifest, namespace), dry_run=True)
    assert created["spec"]["interval" if "interval" in manifest["spec"] else next(iter(manifest["spec"]))]


@pytest.mark.parametrize(("manifest", "path", "value", "message"), invalid_variants())
async def test_invalid_manifests_are_rejected_with_the_apiservers_message(
    kube: KubeClient, namespace: str, flux_crds: list[str], manifest: dict[str, Any], path: tuple[str, ...],
    value: Any, message: str,
) -> None:
    obj = in_namespace(manifest, namespace)
    set_at(obj, path, value, delete=value is None)
    with pytest.raises(Invalid) as rejected:
        await kube.create(obj, dry_run=True)
    assert display(path) in rejected.value.message
    assert message in rejected.value.message
    assert rejected.value.status == 422


def test_every_kind_gets_each_invalid_variant_its_schema_allows() -> None:
    variants: dict[str, set[str]] = {}
    for case in invalid_variants():
        kind, variant = case.id.split("-", 1)
        variants.setdefault(kind, set()).add(variant.rsplit("-", 1)[0])
    assert len(variants) == 14
    for manifest in examples():
        kind, spec = manifest["kind"], reference_schema(manifest["kind"])["properties"]["spec"]
        expected = {"missing", "wrong-type"}
        if _has(spec, lambda s: "enum" in s):
            expected.add("bad-enum")
        if _has(spec, lambda s: s.get("pattern") == DURATION_PATTERN):
            expected.add("bad-duration")
        assert expected <= variants[kind], f"{kind}: {sorted(expected - variants[kind])} not covered"
