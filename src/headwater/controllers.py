"""Which controllers this installation can run: the built-in ones and installed plug-ins.

Built-in controllers are listed here by the module path of their spec; a package installed beside
headwater adds one by declaring an entry point in the group ``headwater.controllers`` that names its
:class:`~headwater.runtime.spec.ControllerSpec` (``example = "my_package.spec:SPEC"``). Both are loaded
the same way, so a plug-in is no different from a built-in controller: ``headwater controller <name>``
runs it with its own flags, and ``headwater controller all`` runs it beside the others on one shared
cache.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Final

from headwater.runtime.spec import ControllerSpec

ENTRY_POINT_GROUP: Final = "headwater.controllers"
BUILT_IN: Final = ("headwater.source.spec:SPEC", "headwater.kustomize.spec:SPEC", "headwater.helm.spec:SPEC")


def _load(path: str) -> ControllerSpec:
    module, _, attribute = path.partition(":")
    spec = getattr(importlib.import_module(module), attribute)
    if not isinstance(spec, ControllerSpec):
        raise TypeError(f"{path} is not a ControllerSpec")
    return spec


def _register_kinds(spec: ControllerSpec) -> ControllerSpec:
    from headwater.api.kinds import register

    for kind in spec.kinds:
        register(kind)
    return spec


def discover() -> dict[str, ControllerSpec]:
    """Every runnable controller by name, built-ins first, then plug-ins in entry-point order."""
    specs: dict[str, ControllerSpec] = {}
    for path in BUILT_IN:
        spec = _load(path)
        specs[spec.name] = spec
    for point in entry_points(group=ENTRY_POINT_GROUP):
        spec = point.load()
        if not isinstance(spec, ControllerSpec):
            raise TypeError(f"entry point {point.name} = {point.value} is not a ControllerSpec")
        if spec.name in specs:
            raise ValueError(f"two controllers are named {spec.name!r} ({point.value})")
        specs[spec.name] = _register_kinds(spec)
    return specs


__all__ = ["BUILT_IN", "ENTRY_POINT_GROUP", "discover"]
