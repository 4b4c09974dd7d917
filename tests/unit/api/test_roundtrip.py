"""Example manifests of every kind load into the models and dump back unchanged."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from headwater.api import load, validate, yamlio
from headwater.api.kinds import ALL_KINDS
from headwater.api.models import MODELS, FluxObject, View

from .conftest import manifest_documents, manifest_files

pytestmark = pytest.mark.unit

DOCUMENTS = manifest_documents()


def read_everything(view: View, seen: int = 0) -> int:
    """Read every typed property (recursively); returns how many were read."""
    count = 0
    for name in type(view).__fields__:
        value = getattr(view, name)
        count += 1
        items: list[Any] = []
        if isinstance(value, View):
            items = [value]
        elif isinstance(value, list):
            items = [item for item in value if isinstance(item, View)]
        elif isinstance(value, dict):
            items = [item for item in value.values() if isinstance(item, View)]
        for item in items:
            count += read_everything(item)
    return count


def test_every_kind_has_examples() -> None:
    kinds = {document["kind"] for _, document in DOCUMENTS}
    assert kinds == {kind.kind for kind in ALL_KINDS}


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: path.name)
def test_file_round_trips_through_models(path: Path) -> None:
    text = path.read_text()
    documents = list(yamlio.load_all(text))
    pristine = copy.deepcopy(documents)
    models = [load(document) for document in documents]
    for model in models:
        assert read_everything(model) > 3
    assert [model.raw for model in models] == pristine, "reading must not change the dicts"
    assert yamlio.dump_all(model.raw for model in models) == text


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_examples_are_valid(name: str, document: dict[str, Any]) -> None:
    assert validate(document) == []


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_load_wraps_without_copying(name: str, document: dict[str, Any]) -> None:
    model = load(document)
    assert isinstance(model, FluxObject)
    assert type(model) in MODELS
    assert model.raw is document
    assert model.KIND.kind == document["kind"]
    assert model.name == document["metadata"]["name"]


def test_timestamps_stay_strings() -> None:
    document = yamlio.load("t: 2025-01-02T03:04:05Z\nd: 2025-01-02\n")
    assert document == {"t": "2025-01-02T03:04:05Z", "d": "2025-01-02"}
    assert yamlio.dump(document) == "t: '2025-01-02T03:04:05Z'\nd: '2025-01-02'\n"


def test_dump_style() -> None:
    document = {"b": [1, {"x": "y"}], "a": "line1\nline2\n", "c": {}, "d": "*", "e": "True"}
    assert yamlio.dump(document) == ("b:\n  - 1\n  - x: y\na: |\n  line1\n  line2\nc: {}\nd: '*'\ne: 'True'\n")
    assert yamlio.load(yamlio.dump(document)) == document
