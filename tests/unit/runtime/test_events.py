"""Unit tests for headwater.runtime.events (Flux event payload, Kubernetes Events, poster)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import aiohttp
import pytest

from headwater.runtime import events as ev

pytestmark = pytest.mark.unit

NOW = datetime(2022, 10, 28, 7, 26, 19, 123456, tzinfo=UTC)

KUSTOMIZATION: dict[str, Any] = {
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "kind": "Kustomization",
    "metadata": {
        "name": "webapp",
        "namespace": "apps",
        "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632",
        "resourceVersion": "19516",
        "generation": 4,
        "annotations": {
            "event.toolkit.fluxcd.io/cluster": "prod-eu-1",
            "event.toolkit.fluxcd.io/revision": "overridden-by-explicit-metadata",
            "unrelated.example.com/x": "not copied",
        },
        "labels": {"app": "webapp"},
    },
    "spec": {"interval": "10m"},
}

# The event a Flux controller posts for a failed Kustomization (Flux docs / reference §2.11).
EXPECTED_PAYLOAD: dict[str, Any] = {
    "involvedObject": {
        "kind": "Kustomization",
        "namespace": "apps",
        "name": "webapp",
        "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632",
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "resourceVersion": "19516",
    },
    "severity": "error",
    "timestamp": "2022-10-28T07:26:19Z",
    "message": "service/apps/webapp validation error: spec.type: Unsupported value: Ingress",
    "reason": "ValidationFailed",
    "metadata": {
        "event.toolkit.fluxcd.io/cluster": "prod-eu-1",
        "event.toolkit.fluxcd.io/revision": "overridden-by-explicit-metadata",
        "kustomize.toolkit.fluxcd.io/revision": "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1",
    },
    "reportingController": "kustomize-controller",
    "reportingInstance": "kustomize-controller-7c7b47f5f-8bhrp",
}


def failed_payload(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "severity": "error",
        "reason": "ValidationFailed",
        "message": "service/apps/webapp validation error: spec.type: Unsupported value: Ingress",
        "reporting_controller": "kustomize-controller",
        "reporting_instance": "kustomize-controller-7c7b47f5f-8bhrp",
        "metadata": {"revision": "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"},
        "timestamp": NOW,
    }
    kwargs.update(overrides)
    return ev.build_event_payload(KUSTOMIZATION, **kwargs)


# --------------------------------------------------------------------------- payload


def test_payload_matches_reference_example() -> None:
    assert failed_payload() == EXPECTED_PAYLOAD


@pytest.mark.parametrize("field", list(EXPECTED_PAYLOAD))
def test_payload_field_by_field(field: str) -> None:
    assert failed_payload()[field] == EXPECTED_PAYLOAD[field]


def test_payload_field_order_follows_go_struct() -> None:
    assert list(failed_payload()) == [
        "involvedObject",
        "severity",
        "timestamp",
        "message",
        "reason",
        "metadata",
        "reportingController",
        "reportingInstance",
    ]


def test_payload_is_json_serialisable_and_round_trips() -> None:
    payload = failed_payload()
    assert json.loads(json.dumps(payload)) == payload


def test_payload_omits_empty_optional_fields() -> None:
    obj = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "a", "namespace": "b"},
    }
    payload = ev.build_event_payload(
        obj,
        severity="info",
        reason="NewArtifact",
        message="stored artifact",
        reporting_controller="source-controller",
        reporting_instance="",
        timestamp=NOW,
    )
    assert "metadata" not in payload
    assert "reportingInstance" not in payload
    assert payload["involvedObject"] == {
        "kind": "GitRepository",
        "namespace": "b",
        "name": "a",
        "apiVersion": "source.toolkit.fluxcd.io/v1",
    }


def test_payload_timestamp_defaults_to_now() -> None:
    payload = failed_payload(timestamp=None)
    parsed = datetime.strptime(payload["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 5


@pytest.mark.parametrize("missing", ["kind", "name", "namespace"])
def test_payload_requires_kind_name_namespace(missing: str) -> None:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "K", "metadata": {"name": "n", "namespace": "ns"}}
    if missing == "kind":
        del obj["kind"]
    else:
        del obj["metadata"][missing]
    with pytest.raises(ValueError, match=missing):
        ev.build_event_payload(
            obj, severity="info", reason="R", message="m", reporting_controller="c", reporting_instance="i"
        )


def test_payload_rejects_bad_severity() -> None:
    with pytest.raises(ValueError, match="severity"):
        failed_payload(severity="warning")


def test_payload_message_truncated() -> None:
    assert len(failed_payload(message="x" * 50_000)["message"]) == ev.MAX_EVENT_MESSAGE_LENGTH


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(
            None,
            {
                "event.toolkit.fluxcd.io/cluster": "prod-eu-1",
                "event.toolkit.fluxcd.io/revision": "overridden-by-explicit-metadata",
            },
            id="annotations-only",
        ),
        pytest.param(
            {"revision": "r1", "token": "t", "commit_status": "update"},
            {
                "event.toolkit.fluxcd.io/cluster": "prod-eu-1",
                "event.toolkit.fluxcd.io/revision": "overridden-by-explicit-metadata",
                "kustomize.toolkit.fluxcd.io/revision": "r1",
                "kustomize.toolkit.fluxcd.io/token": "t",
                "kustomize.toolkit.fluxcd.io/commit_status": "update",
            },
            id="group-prefixed",
        ),
        pytest.param(
            {"event.toolkit.fluxcd.io/revision": "explicit"},
            {"event.toolkit.fluxcd.io/cluster": "prod-eu-1", "event.toolkit.fluxcd.io/revision": "explicit"},
            id="explicit-beats-annotation",
        ),
    ],
)
def test_event_metadata(metadata: dict[str, str] | None, expected: dict[str, str]) -> None:
    assert ev.event_metadata(KUSTOMIZATION, metadata) == expected


def test_event_metadata_core_group_not_prefixed() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}}
    assert ev.event_metadata(obj, {"revision": "1"}) == {"revision": "1"}


@pytest.mark.parametrize(
    ("api_version", "group"),
    [
        ("kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io"),
        ("helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd.io"),
        ("v1", ""),
        ("", ""),
    ],
)
def test_api_group(api_version: str, group: str) -> None:
    assert ev.api_group(api_version) == group


@pytest.mark.parametrize(
    ("event_type", "severity", "is_forwarded"),
    [
        ("Normal", "info", True),
        ("Warning", "error", True),
        ("Trace", "trace", False),
        ("Other", "info", True),
    ],
)
def test_severity_mapping(event_type: str, severity: str, is_forwarded: bool) -> None:
    assert ev.severity_for(event_type) == severity
    assert ev.forwarded(severity) is is_forwarded


def test_default_reporting_instance_is_hostname() -> None:
    import socket

    assert ev.default_reporting_instance() == socket.gethostname()


# --------------------------------------------------------------------------- Kubernetes events


def test_core_event_shape() -> None:
    event = ev.build_core_event(
        KUSTOMIZATION,
        event_type="Warning",
        reason="ReconciliationFailed",
        message="kustomize build failed",
        reporting_controller="kustomize-controller",
        reporting_instance="pod-1",
        annotations={"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc"},
        now=NOW,
    )
    nanos = int(NOW.timestamp() * 1_000_000) * 1000
    assert event == {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"webapp.{nanos:x}",
            "namespace": "apps",
            "annotations": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc"},
        },
        "involvedObject": EXPECTED_PAYLOAD["involvedObject"],
        "reason": "ReconciliationFailed",
        "message": "kustomize build failed",
        "source": {"component": "kustomize-controller", "host": "pod-1"},
        "firstTimestamp": "2022-10-28T07:26:19Z",
        "lastTimestamp": "2022-10-28T07:26:19Z",
        "count": 1,
        "type": "Warning",
        "reportingComponent": "kustomize-controller",
        "reportingInstance": "pod-1",
    }


@pytest.mark.parametrize(
    ("event_type", "k8s_type"), [("Normal", "Normal"), ("Warning", "Warning"), ("Trace", "Normal")]
)
def test_core_event_type(event_type: str, k8s_type: str) -> None:
    event = ev.build_core_event(
        KUSTOMIZATION, event_type=event_type, reason="R", message="m", reporting_controller="c", now=NOW
    )
    assert event["type"] == k8s_type
    assert "annotations" not in event["metadata"]
    assert "reportingInstance" not in event
    assert event["source"] == {"component": "c"}


def test_events_v1_shape_and_limits() -> None:
    message = "é" * 1000  # 2000 bytes in UTF-8
    event = ev.build_events_v1_event(
        KUSTOMIZATION,
        event_type="Normal",
        reason="ReconciliationSucceeded",
        message=message,
        reporting_controller="kustomize-controller",
        reporting_instance="pod-1",
        now=NOW,
    )
    assert event["apiVersion"] == "events.k8s.io/v1"
    assert event["regarding"] == EXPECTED_PAYLOAD["involvedObject"]
    assert event["eventTime"] == "2022-10-28T07:26:19.123456Z"
    assert event["action"] == "ReconciliationSucceeded"
    assert event["type"] == "Normal"
    assert len(event["note"].encode()) <= ev.MAX_K8S_NOTE_BYTES
    assert event["note"] == "é" * 512
    assert event["metadata"]["namespace"] == "apps"


def test_events_v1_requires_reporting_fields() -> None:
    with pytest.raises(ValueError, match="reporting"):
        ev.build_events_v1_event(
            KUSTOMIZATION,
            event_type="Normal",
            reason="R",
            message="m",
            reporting_controller="c",
            reporting_instance="",
        )


def test_cluster_scoped_object_event_goes_to_default_namespace() -> None:
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
    event = ev.build_core_event(
        obj, event_type="Normal", reason="R", message="m", reporting_controller="c", now=NOW
    )
    assert event["metadata"]["namespace"] == "default"


# --------------------------------------------------------------------------- poster


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status

    async def read(self) -> bytes:
        return b""

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class FakeSession:
    """Stands in for aiohttp.ClientSession.post: answers from a script of statuses/exceptions."""

    def __init__(self, script: list[int | BaseException]) -> None:
        self.script: Iterator[int | BaseException] = iter(script)
        self.calls: list[dict[str, Any]] = []
        self.closed = False

    def post(
        self, url: str, *, data: bytes, headers: dict[str, str], timeout: aiohttp.ClientTimeout
    ) -> FakeResponse:
        self.calls.append({"url": url, "data": data, "headers": headers, "timeout": timeout})
        step = next(self.script)
        if isinstance(step, BaseException):
            raise step
        return FakeResponse(step)


def poster(session: FakeSession, retries: int = 4) -> ev.EventPoster:
    return ev.EventPoster(
        "http://notification-controller.flux-system.svc.cluster.local./",
        session=session,  # type: ignore[arg-type]
        retries=retries,
        retry_wait_min=0.001,
        retry_wait_max=0.002,
    )


@pytest.mark.parametrize(
    ("script", "accepted", "calls"),
    [
        pytest.param([202], True, 1, id="accepted"),
        pytest.param([200], True, 1, id="ok"),
        pytest.param([429], False, 1, id="rate-limited-not-retried"),
        pytest.param([400], False, 1, id="client-error-not-retried"),
        pytest.param([501], False, 1, id="not-implemented-not-retried"),
        pytest.param([500, 503, 202], True, 3, id="server-errors-retried"),
        pytest.param([aiohttp.ClientConnectionError("refused"), 202], True, 2, id="connection-error-retried"),
        pytest.param([TimeoutError(), 202], True, 2, id="timeout-retried"),
        pytest.param([500] * 5, False, 5, id="gives-up-after-retries"),
        pytest.param([RuntimeError("bug")], False, 1, id="unexpected-error-swallowed"),
    ],
)
async def test_poster(script: list[int | BaseException], accepted: bool, calls: int) -> None:
    session = FakeSession(script)
    assert await poster(session).post(EXPECTED_PAYLOAD) is accepted
    assert len(session.calls) == calls
    first = session.calls[0]
    assert first["url"] == "http://notification-controller.flux-system.svc.cluster.local./"
    assert first["headers"]["Content-Type"] == "application/json"
    assert json.loads(first["data"]) == EXPECTED_PAYLOAD
    assert first["timeout"].total == 5.0


async def test_poster_skips_trace_events() -> None:
    session = FakeSession([])
    payload = dict(EXPECTED_PAYLOAD, severity="trace")
    assert await poster(session).post(payload) is False
    assert session.calls == []


async def test_poster_logs_without_message_body(caplog: pytest.LogCaptureFixture) -> None:
    session = FakeSession([500, 500])
    with caplog.at_level(logging.DEBUG, logger="headwater.runtime.events"):
        assert await poster(session, retries=1).post(EXPECTED_PAYLOAD) is False
    text = caplog.text
    assert "Kustomization/apps/webapp" in text
    assert "HTTP 500" in text
    assert EXPECTED_PAYLOAD["message"] not in text


async def test_poster_unencodable_payload_does_not_raise() -> None:
    session = FakeSession([])
    bad = dict(EXPECTED_PAYLOAD, metadata={"x": object()})
    assert await poster(session).post(bad) is False
    assert session.calls == []


async def test_poster_validation_and_close() -> None:
    with pytest.raises(ValueError, match="empty"):
        ev.EventPoster("")
    with pytest.raises(ValueError, match="retries"):
        ev.EventPoster("http://x/", retries=-1)
    async with ev.EventPoster("http://127.0.0.1:9/") as own:
        assert own.address == "http://127.0.0.1:9/"
    # a poster with an injected session leaves it open
    session = FakeSession([])
    injected = poster(session)
    await injected.close()
    assert not session.closed
