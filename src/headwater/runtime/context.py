"""What one reconcile is handed: its object (a private copy) and the means to report on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.runtime import conditions as cond
from headwater.runtime.kube.client import KubeClient
from headwater.runtime.logging import FieldsAdapter
from headwater.runtime.recorder import EventRecorder
from headwater.runtime.status import StatusWriter

Obj = dict[str, Any]


@dataclass
class ReconcileContext:
    """The object being reconciled and its reporting channels: status, events, logs."""

    obj: Obj
    kube: KubeClient
    recorder: EventRecorder
    status_writer: StatusWriter
    log: FieldsAdapter
    requested_at: str | None = None
    #: Free-form results a reconcile leaves for tests and tooling (e.g. the change set applied).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Obj:
        return self.obj.setdefault("status", {})  # type: ignore[no-any-return]

    @property
    def conditions(self) -> list[dict[str, Any]]:
        return cond.conditions_of(self.obj)

    @property
    def generation(self) -> int:
        return int(self.obj["metadata"].get("generation") or 0)

    def event(self, event_type: str, reason: str, message: str, metadata: dict[str, str] | None = None) -> None:
        self.recorder.event(self.obj, event_type, reason, message, metadata)

    async def progress(self, message: str, reason: str = cond.PROGRESSING_REASON) -> None:
        """Show work in progress now (Reconciling=True, Ready=Unknown), before a long step."""
        cond.mark_reconciling(self.conditions, reason, message, generation=self.generation)
        cond.mark_ready_unknown(self.conditions, message, reason, generation=self.generation)
        await self.status_writer.write(self.obj)


__all__ = ["ReconcileContext"]
