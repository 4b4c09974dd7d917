"""The base of every kind's model: a view of a whole Flux object.

Subclasses set ``KIND`` (their :class:`~headwater.api.kinddef.KindDef`) and declare ``spec``
and ``status`` with :func:`~headwater.api.models.base.child_always`, so both are always
readable and become part of the dict on first write.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Self

from headwater.api.kinddef import KindDef
from headwater.api.models.base import Field, View, child_always
from headwater.api.models.common import ObjectMeta

#: Annotation the CLI sets to ask for an immediate reconcile.
REQUESTED_AT_ANNOTATION: Final = "reconcile.fluxcd.io/requestedAt"


class FluxObject(View):
    """A Flux custom resource as a typed view over its dict."""

    KIND: ClassVar[KindDef]

    api_version = Field[str | None]("apiVersion")
    kind = Field[str | None]()
    metadata = child_always(ObjectMeta)

    @classmethod
    def new(cls, name: str, namespace: str | None = None, spec: dict[str, Any] | None = None) -> Self:
        """A fresh object of this kind at its storage version."""
        metadata: dict[str, Any] = {"name": name}
        if namespace is not None:
            metadata["namespace"] = namespace
        return cls(
            {
                "apiVersion": cls.KIND.api_version,
                "kind": cls.KIND.kind,
                "metadata": metadata,
                "spec": {} if spec is None else spec,
            }
        )

    @property
    def name(self) -> str:
        return str((self.raw.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.raw.get("metadata") or {}).get("namespace", ""))

    @property
    def generation(self) -> int:
        return int((self.raw.get("metadata") or {}).get("generation", 0))

    @property
    def requested_at(self) -> str | None:
        """Value of the ``reconcile.fluxcd.io/requestedAt`` annotation, if any."""
        annotations = (self.raw.get("metadata") or {}).get("annotations") or {}
        value = annotations.get(REQUESTED_AT_ANNOTATION)
        return None if value is None else str(value)

    @property
    def is_suspended(self) -> bool:
        return bool((self.raw.get("spec") or {}).get("suspend", False))
