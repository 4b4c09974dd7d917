"""Events about Flux objects: the notification-controller payload and Kubernetes Events.

Every Flux controller reports what it did twice: as a Kubernetes Event on the object (what
``kubectl describe`` and ``flux events`` show) and, when ``--events-addr`` is set, as a JSON
POST to notification-controller, which matches it against Alerts and forwards it to providers
(Slack, commit statuses, ...). Both formats are fixed by Flux and by Kubernetes, so they are
built here by pure functions returning dicts; :class:`EventPoster` does the HTTP part and never
raises into the reconciler.

Nothing here takes Secret objects: callers pass the involved object (a Flux object dict), a
reason, a message and string metadata. The poster logs object coordinates and HTTP status
codes, never message bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

import aiohttp

__all__ = [
    "EVENT_ANNOTATION_PREFIX",
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_TRACE",
    "EVENT_TYPE_WARNING",
    "MAX_EVENT_MESSAGE_LENGTH",
    "SEVERITY_ERROR",
    "SEVERITY_INFO",
    "SEVERITY_TRACE",
    "EventPoster",
    "api_group",
    "build_core_event",
    "build_event_payload",
    "build_events_v1_event",
    "default_reporting_instance",
    "event_metadata",
    "forwarded",
    "object_reference",
    "severity_for",
]

_log = logging.getLogger(__name__)

SEVERITY_INFO: Final = "info"
SEVERITY_ERROR: Final = "error"
SEVERITY_TRACE: Final = "trace"
Severity = Literal["info", "error", "trace"]

EVENT_TYPE_NORMAL: Final = "Normal"
EVENT_TYPE_WARNING: Final = "Warning"
#: Flux's extra event type: recorded as a Normal Kubernetes Event, never forwarded.
EVENT_TYPE_TRACE: Final = "Trace"

#: Object annotations with this prefix are copied into every event's metadata.
EVENT_ANNOTATION_PREFIX: Final = "event.toolkit.fluxcd.io/"

#: The Flux Event API caps ``message`` at 39000 characters.
MAX_EVENT_MESSAGE_LENGTH: Final = 39000
#: events.k8s.io/v1 ``note`` limit (bytes).
MAX_K8S_NOTE_BYTES: Final = 1024
#: events.k8s.io/v1 limit for reportingController, reportingInstance, action and reason.
_MAX_K8S_FIELD = 128

#: Metadata keys Flux uses (prefixed with the involved object's API group when sent).
META_REVISION_KEY: Final = "revision"
META_ORIGIN_REVISION_KEY: Final = "originRevision"
META_TOKEN_KEY: Final = "token"
META_DIGEST_KEY: Final = "digest"
META_CHECKSUM_KEY: Final = "checksum"
META_COMMIT_STATUS_KEY: Final = "commit_status"
META_COMMIT_STATUS_UPDATE: Final = "update"

_REF_FIELDS: Final = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion")


def api_group(api_version: str) -> str:
    """``kustomize.toolkit.fluxcd.io/v1`` -> ``kustomize.toolkit.fluxcd.io``; ``v1`` -> ``""``."""
    group, sep, _ = api_version.rpartition("/")
    return group if sep else ""


def object_reference(obj: Mapping[str, Any]) -> dict[str, str]:
    """The corev1.ObjectReference of a Kubernetes object dict, empty fields omitted."""
    meta = obj.get("metadata") or {}
    values = {
        "kind": obj.get("kind", ""),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    return {field: str(values[field]) for field in _REF_FIELDS if values[field]}


def severity_for(event_type: str) -> Severity:
    """Kubernetes event type -> Flux severity (Warning -> error, Trace -> trace, else info)."""
    if event_type == EVENT_TYPE_WARNING:
        return SEVERITY_ERROR
    if event_type == EVENT_TYPE_TRACE:
        return SEVERITY_TRACE
    return SEVERITY_INFO


def forwarded(severity: str) -> bool:
    """Whether an event of ``severity`` goes to notification-controller (trace stays local)."""
    return severity in (SEVERITY_INFO, SEVERITY_ERROR)


def event_metadata(obj: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> dict[str, str]:
    """Event metadata as Flux sends it.

    Keys of ``metadata`` without a ``/`` are prefixed with the object's API group
    (``revision`` -> ``kustomize.toolkit.fluxcd.io/revision``); the object's
    ``event.toolkit.fluxcd.io/*`` annotations are included with the lowest precedence.
    """
    result: dict[str, str] = {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    for key, value in annotations.items():
        if key.startswith(EVENT_ANNOTATION_PREFIX) and len(key) > len(EVENT_ANNOTATION_PREFIX):
            result[key] = str(value)
    group = api_group(str(obj.get("apiVersion", "")))
    for key, value in (metadata or {}).items():
        full_key = key if "/" in key or not group else f"{group}/{key}"
        result[full_key] = str(value)
    return result


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _truncate_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def default_reporting_instance() -> str:
    """The pod hostname, which Flux reports as ``reportingInstance``."""
    return socket.gethostname()


def build_event_payload(
    involved_object: Mapping[str, Any],
    *,
    severity: Severity,
    reason: str,
    message: str,
    reporting_controller: str,
    reporting_instance: str,
    metadata: Mapping[str, str] | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The JSON body a Flux controller POSTs to notification-controller (event v1beta1).

    ``involved_object`` is the Flux object dict; ``metadata`` keys are group-prefixed as in
    :func:`event_metadata`. Field order follows Flux's Go struct.
    """
    if severity not in (SEVERITY_INFO, SEVERITY_ERROR, SEVERITY_TRACE):
        raise ValueError(f"invalid severity {severity!r}")
    ref = object_reference(involved_object)
    for required in ("kind", "name", "namespace"):
        if required not in ref:
            raise ValueError(f"involved object has no {required}")
    payload: dict[str, Any] = {
        "involvedObject": ref,
        "severity": severity,
        "timestamp": _timestamp(timestamp or datetime.now(UTC)),
        "message": _truncate_chars(message, MAX_EVENT_MESSAGE_LENGTH),
        "reason": reason,
    }
    meta = event_metadata(involved_object, metadata)
    if meta:
        payload["metadata"] = meta
    payload["reportingController"] = reporting_controller
    if reporting_instance:
        payload["reportingInstance"] = reporting_instance
    return payload


def _event_name(object_name: str, moment: datetime) -> str:
    # client-go's recorder names events "<object name>.<unix nanoseconds in hex>"
    nanos = int(moment.timestamp() * 1_000_000) * 1000
    return f"{object_name}.{nanos:x}"


def build_core_event(
    involved_object: Mapping[str, Any],
    *,
    event_type: str,
    reason: str,
    message: str,
    reporting_controller: str,
    reporting_instance: str = "",
    annotations: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A core/v1 Event about ``involved_object`` as client-go's recorder creates it.

    ``event_type`` is Normal or Warning (Trace is recorded as Normal); ``annotations`` are the
    event metadata (Flux puts the group-prefixed metadata there). ``source.component`` is the
    controller name.
    """
    moment = now or datetime.now(UTC)
    ref = object_reference(involved_object)
    namespace = ref.get("namespace") or "default"
    k8s_type = EVENT_TYPE_WARNING if event_type == EVENT_TYPE_WARNING else EVENT_TYPE_NORMAL
    metadata: dict[str, Any] = {
        "name": _event_name(ref.get("name", "object"), moment),
        "namespace": namespace,
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    source: dict[str, str] = {"component": reporting_controller}
    if reporting_instance:
        source["host"] = reporting_instance
    event: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": metadata,
        "involvedObject": ref,
        "reason": _truncate_chars(reason, _MAX_K8S_FIELD),
        "message": _truncate_chars(message, MAX_EVENT_MESSAGE_LENGTH),
        "source": source,
        "firstTimestamp": _timestamp(moment),
        "lastTimestamp": _timestamp(moment),
        "count": 1,
        "type": k8s_type,
        "reportingComponent": _truncate_chars(reporting_controller, _MAX_K8S_FIELD),
    }
    if reporting_instance:
        event["reportingInstance"] = _truncate_chars(reporting_instance, _MAX_K8S_FIELD)
    return event


def build_events_v1_event(
    involved_object: Mapping[str, Any],
    *,
    event_type: str,
    reason: str,
    message: str,
    reporting_controller: str,
    reporting_instance: str,
    action: str | None = None,
    annotations: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An events.k8s.io/v1 Event about ``involved_object``.

    The API server requires ``eventTime``, ``reportingController``, ``reportingInstance`` and
    ``action`` (defaults to ``reason``) and caps ``note`` at 1 KiB; values are trimmed to fit.
    """
    if not reporting_controller or not reporting_instance:
        raise ValueError("events.k8s.io/v1 events need reportingController and reportingInstance")
    moment = now or datetime.now(UTC)
    ref = object_reference(involved_object)
    namespace = ref.get("namespace") or "default"
    k8s_type = EVENT_TYPE_WARNING if event_type == EVENT_TYPE_WARNING else EVENT_TYPE_NORMAL
    metadata: dict[str, Any] = {
        "name": _event_name(ref.get("name", "object"), moment),
        "namespace": namespace,
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": metadata,
        "eventTime": _micro_timestamp(moment),
        "reportingController": _truncate_chars(reporting_controller, _MAX_K8S_FIELD),
        "reportingInstance": _truncate_chars(reporting_instance, _MAX_K8S_FIELD),
        "action": _truncate_chars(action or reason, _MAX_K8S_FIELD),
        "reason": _truncate_chars(reason, _MAX_K8S_FIELD),
        "regarding": ref,
        "note": _truncate_bytes(message, MAX_K8S_NOTE_BYTES),
        "type": k8s_type,
    }


def _describe(payload: Mapping[str, Any]) -> str:
    ref = payload.get("involvedObject") or {}
    coordinates = f"{ref.get('kind', '?')}/{ref.get('namespace', '?')}/{ref.get('name', '?')}"
    return f"{coordinates} reason={payload.get('reason')}"


class EventPoster:
    """POSTs event payloads to notification-controller (``--events-addr``).

    Like Flux's recorder: a 5 s timeout per attempt; connection errors and 5xx answers (except
    501) are retried up to ``retries`` times with exponential waits; 2xx, 429 (rate limited)
    and other 4xx answers end the attempt. :meth:`post` never raises (except on cancellation);
    failures are logged without the message body.
    """

    def __init__(
        self,
        address: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 5.0,
        retries: int = 4,
        retry_wait_min: float = 1.0,
        retry_wait_max: float = 30.0,
        logger: logging.Logger | None = None,
    ) -> None:
        if not address:
            raise ValueError("events address is empty")
        if retries < 0 or timeout <= 0:
            raise ValueError("retries must not be negative and timeout must be positive")
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.retry_wait_min = retry_wait_min
        self.retry_wait_max = retry_wait_max
        self._session = session
        self._owns_session = session is None
        self._log = logger or _log

    async def close(self) -> None:
        """Close the HTTP session if this poster created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> EventPoster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def post(self, payload: Mapping[str, Any]) -> bool:
        """Send ``payload``; returns True if notification-controller accepted it (2xx)."""
        if not forwarded(str(payload.get("severity", ""))):
            return False
        try:
            body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            self._log.error("unable to encode event for %s: %s", _describe(payload), exc)
            return False
        started = time.monotonic()
        attempts = self.retries + 1
        last_problem = ""
        for attempt in range(attempts):
            try:
                session = self._get_session()
                async with session.post(
                    self.address,
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # never let a bug here break the reconcile
                self._log.error("unable to record event for %s: %s", _describe(payload), exc)
                return False
            else:
                if 200 <= status < 300:
                    return True
                if status == 429:
                    self._log.debug("event for %s was rate limited by %s", _describe(payload), self.address)
                    return False
                if status < 500 or status == 501:
                    self._log.error(
                        "unable to record event for %s: %s answered HTTP %d",
                        _describe(payload),
                        self.address,
                        status,
                    )
                    return False
                last_problem = f"HTTP {status}"
            if attempt + 1 < attempts:
                await asyncio.sleep(min(self.retry_wait_max, self.retry_wait_min * (2**attempt)))
        self._log.error(
            "unable to record event for %s after %d attempts in %.1fs: %s",
            _describe(payload),
            attempts,
            time.monotonic() - started,
            last_problem,
        )
        return False
