"""What a controller package exports so that the process can run it: a :class:`ControllerSpec`.

A spec names the controller (``headwater controller <name>``), its Flux Deployment name (also its Lease
name), its default ``--concurrent``, which shared flags it takes, its own typed flags
(:mod:`headwater.runtime.flags`), the kinds it reconciles and reads, and where its ``setup`` is. The
spec module imports nothing heavy: ``setup`` is named as ``"module:function"`` and imported only when
the controller runs, so listing controllers (``--help``) stays fast and running one never imports
another. Discovery (built-ins and installed plug-ins) lives in :mod:`headwater.controllers`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from headwater.runtime.flags import NoFlags

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.runtime.cache import SharedCache
    from headwater.runtime.kube.client import KubeClient
    from headwater.runtime.manager import Manager
    from headwater.runtime.options import ControllerOptions

F = TypeVar("F")


@dataclass(frozen=True)
class SetupContext(Generic[F]):
    """What a controller's setup gets: the process's manager and client, the options, its own flags."""

    manager: Manager
    kube: KubeClient
    options: ControllerOptions
    flags: F

    @property
    def cache(self) -> SharedCache:
        return self.manager.cache


Setup = Callable[[SetupContext[Any]], Awaitable[None]]


@dataclass(frozen=True)
class ControllerSpec:
    """A controller as the process sees it (see the module docstring)."""

    name: str
    process_name: str
    summary: str
    #: ``"module:function"``; the function takes a :class:`SetupContext` and wires the controller.
    setup: str
    #: A frozen dataclass of :func:`headwater.runtime.flags.flag` fields: the controller's own flags.
    flags: type[Any] = NoFlags
    concurrent: int = 4
    #: Which shared flags the controller has (keyword arguments of ``add_controller_options``).
    shared_flags: Mapping[str, Any] = field(default_factory=dict)
    #: ``(apiVersion, kind)`` of the kinds it reconciles and of the other kinds it reads.
    reconciles: tuple[tuple[str, str], ...] = ()
    reads: tuple[tuple[str, str], ...] = ()
    #: Kinds the controller brings that are not Flux's (a plug-in's own CRDs): added to the kind registry.
    kinds: tuple[KindDef, ...] = ()

    def load_setup(self) -> Setup:
        module, _, attribute = self.setup.partition(":")
        function: Setup = getattr(importlib.import_module(module), attribute)
        return function

    async def install(self, manager: Manager, options: ControllerOptions | None = None, flags: Any = None) -> None:
        """Wire the controller into ``manager`` (its flags default to the declared defaults)."""
        await self.load_setup()(SetupContext(manager, manager.kube, options or manager.options,
                                             self.flags() if flags is None else flags))


__all__ = ["ControllerSpec", "Setup", "SetupContext"]
