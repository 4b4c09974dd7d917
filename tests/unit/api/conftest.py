"""Shared fixtures for the API tests: repository paths and the example manifests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headwater.api import yamlio

REPO = Path(__file__).resolve().parents[3]
MANIFESTS = Path(__file__).resolve().parent / "manifests"


def reference_dir() -> Path:
    """Flux's CRD structure (descriptions removed), kept as test data (see its ORIGIN.md)."""
    override = os.environ.get("HEADWATER_CRD_REFERENCE")
    if override:
        return Path(override)
    return REPO / "tests" / "data" / "flux-crd-schemas"


def manifest_files() -> list[Path]:
    return sorted(MANIFESTS.glob("*.yaml"))


def manifest_documents() -> list[tuple[str, dict[str, object]]]:
    """(id, document) for every example manifest document."""
    out = []
    for path in manifest_files():
        for document in yamlio.load_all(path.read_text()):
            out.append((f"{path.stem}/{document['metadata']['name']}", document))
    return out


@pytest.fixture
def reference() -> Path:
    directory = reference_dir()
    if not directory.is_dir():
        pytest.fail(f"Flux CRD reference not found at {directory}")
    return directory
