"""What may happen to the reconciled object between two runs of a table case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.testing.fakekube import FakeKube
from tests.unit.reconcile.harness import NAMESPACE


@dataclass(frozen=True)
class Patch:
    """A change to the object (a merge patch)."""

    patch: dict[str, Any]


@dataclass(frozen=True)
class Delete:
    """The object is deleted (its finalizer holds it until the controller is done)."""


@dataclass(frozen=True)
class Again:
    """Nothing changes."""


CommonStep = Patch | Delete | Again


async def take_common(step: CommonStep, fake: FakeKube, api_version: str, kind: str, name: str) -> None:
    if isinstance(step, Patch):
        await fake.patch(api_version, kind, name, step.patch, namespace=NAMESPACE)
    elif isinstance(step, Delete):
        await fake.delete(api_version, kind, name, NAMESPACE)


__all__ = ["Again", "CommonStep", "Delete", "Patch", "take_common"]
