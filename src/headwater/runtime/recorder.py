"""Record events about Flux objects: a Kubernetes Event, and the Flux payload for notification-controller.

Reconcilers call `event(...)` and move on: the writes happen in the background with bounded
concurrency, and a failure to record an event is logged, never raised into a reconcile. Messages given
here end up in `kubectl describe` and in alerts, so callers must never put Secret data in them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from headwater.runtime.events import (
    EVENT_TYPE_WARNING,
    SEVERITY_ERROR,
    SEVERITY_INFO,
    EventPoster,
    Severity,
    build_core_event,
    build_event_payload,
    default_reporting_instance,
    event_metadata,
)
from headwater.runtime.kube.client import KubeClient
from headwater.runtime.kube.errors import KubeError

_log = logging.getLogger("headwater.events")


class EventRecorder:
    def __init__(
        self,
        kube: KubeClient,
        controller: str,
        *,
        events_addr: str = "",
        instance: str | None = None,
        max_in_flight: int = 8,
    ) -> None:
        self.kube = kube
        self.controller = controller
        self.instance = instance or default_reporting_instance()
        self.poster = EventPoster(events_addr) if events_addr else None
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending: set[asyncio.Task[None]] = set()
        self.recorded = 0

    def event(
        self,
        obj: Mapping[str, Any],
        event_type: str,
        reason: str,
        message: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Record an event in the background (`event_type`: Normal or Warning)."""
        task = asyncio.create_task(self._record(dict(obj), event_type, reason, message, metadata))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record(
        self, obj: dict[str, Any], event_type: str, reason: str, message: str, metadata: Mapping[str, str] | None
    ) -> None:
        async with self._slots:
            annotations = event_metadata(obj, metadata)
            try:
                await self.kube.create(build_core_event(
                    obj, event_type=event_type, reason=reason, message=message,
                    reporting_controller=self.controller, reporting_instance=self.instance,
                    annotations=annotations or None,
                ))
                self.recorded += 1
            except KubeError as err:
                meta = obj.get("metadata", {})
                _log.warning("could not record event %s for %s/%s: %s", reason, meta.get("namespace"),
                             meta.get("name"), err)
            if self.poster is not None:
                severity: Severity = SEVERITY_ERROR if event_type == EVENT_TYPE_WARNING else SEVERITY_INFO
                await self.poster.post(build_event_payload(
                    obj, severity=severity, reason=reason, message=message,
                    reporting_controller=self.controller, reporting_instance=self.instance, metadata=metadata,
                ))

    async def close(self) -> None:
        """Wait for events still being written, then release connections."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.poster is not None:
            await self.poster.close()
