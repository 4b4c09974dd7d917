"""Unit tests for headwater.runtime.logging (Flux-shaped structured logs)."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from typing import Any

import pytest

from headwater.runtime.logging import (
    TRACE,
    FieldsAdapter,
    level_number,
    new_reconcile_id,
    reconcile_logger,
    setup_logging,
    with_fields,
)

pytestmark = pytest.mark.unit

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def configured(name: str, level: str = "info", encoding: str = "json") -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = setup_logging(level, encoding, stream=stream, logger_name=f"headwater.tests.{name}")
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_json_line_shape() -> None:
    logger, stream = configured("shape")
    logger.info("server started", extra={"addr": ":8080"})
    (entry,) = lines(stream)
    assert entry["level"] == "info"
    assert TS.match(entry["ts"])
    assert entry["msg"] == "server started"
    assert entry["addr"] == ":8080"
    assert entry["logger"] == "headwater.tests.shape"
    assert list(entry)[:2] == ["level", "ts"]


@pytest.mark.parametrize(
    ("level", "emitted"),
    [
        ("error", ["error"]),
        ("info", ["info", "warn", "error"]),
        ("debug", ["debug", "info", "warn", "error"]),
        ("trace", ["trace", "debug", "info", "warn", "error"]),
    ],
)
def test_level_filtering(level: str, emitted: list[str]) -> None:
    logger, stream = configured(f"level-{level}", level)
    logger.log(TRACE, "t")
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    assert [e["level"] for e in lines(stream)] == emitted


@pytest.mark.parametrize(
    ("name", "number"),
    [("trace", TRACE), ("debug", logging.DEBUG), ("info", logging.INFO), ("error", logging.ERROR)],
)
def test_level_number(name: str, number: int) -> None:
    assert level_number(name) == number


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="log level"):
        level_number("warn")
    with pytest.raises(ValueError, match="encoding"):
        setup_logging("info", "xml", stream=io.StringIO(), logger_name="headwater.tests.bad")


def test_error_field_and_stacktrace() -> None:
    logger, stream = configured("errors")
    try:
        raise RuntimeError("artifact not found")
    except RuntimeError:
        logger.exception("Reconciler error")
    (entry,) = lines(stream)
    assert entry["level"] == "error"
    assert entry["msg"] == "Reconciler error"
    assert entry["error"] == "artifact not found"
    assert "RuntimeError" in entry["stacktrace"]


def test_reconcile_logger_fields_like_controller_runtime() -> None:
    logger, stream = configured("reconcile", "debug")
    log = reconcile_logger(
        logger,
        controller="kustomization",
        group="kustomize.toolkit.fluxcd.io",
        kind="Kustomization",
        name="apps",
        namespace="flux-system",
        reconcile_id="0f9a2d3e-1111-2222-3333-444455556666",
    )
    log.info("server-side apply completed", extra={"revision": "main@sha1:abc"})
    (entry,) = lines(stream)
    assert entry == {
        "level": "info",
        "ts": entry["ts"],
        "logger": "headwater.tests.reconcile",
        "msg": "server-side apply completed",
        "controller": "kustomization",
        "controllerGroup": "kustomize.toolkit.fluxcd.io",
        "controllerKind": "Kustomization",
        "Kustomization": {"name": "apps", "namespace": "flux-system"},
        "namespace": "flux-system",
        "name": "apps",
        "reconcileID": "0f9a2d3e-1111-2222-3333-444455556666",
        "revision": "main@sha1:abc",
    }


def test_reconcile_logger_generates_ids() -> None:
    logger, _ = configured("ids")
    log = reconcile_logger(logger, controller="c", group="g", kind="K", name="n", namespace="ns")
    uuid.UUID(log.fields["reconcileID"])
    assert new_reconcile_id() != new_reconcile_id()


def test_with_fields_merges_and_trace() -> None:
    logger, stream = configured("fields", "trace")
    base = with_fields(logger, controller="gitrepository")
    assert isinstance(base, FieldsAdapter)
    child = with_fields(base, name="podinfo")
    child.trace("fetching")
    base.info("plain")
    first, second = lines(stream)
    assert first["level"] == "trace"
    assert first["controller"] == "gitrepository"
    assert first["name"] == "podinfo"
    assert second["controller"] == "gitrepository"
    assert "name" not in second


def test_console_encoding() -> None:
    logger, stream = configured("console", encoding="console")
    with_fields(logger, name="apps").info("done")
    (line,) = stream.getvalue().splitlines()
    ts, level, name, msg, fields = line.split("\t")
    assert TS.match(ts)
    assert level == "INFO"
    assert name == "headwater.tests.console"
    assert msg == "done"
    assert json.loads(fields) == {"name": "apps"}


def test_console_error_includes_traceback() -> None:
    logger, stream = configured("console-err", encoding="console")
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    assert '"error": "bad"' in text
    assert "Traceback" in text


def test_setup_is_idempotent_and_does_not_propagate() -> None:
    stream = io.StringIO()
    name = "headwater.tests.idempotent"
    setup_logging(stream=io.StringIO(), logger_name=name)
    logger = setup_logging(stream=stream, logger_name=name)
    logger.info("once")
    assert len(stream.getvalue().splitlines()) == 1
    assert logger.propagate is False
    marked = [h for h in logger.handlers if getattr(h, "_headwater_handler", False)]
    assert len(marked) == 1


def test_non_json_values_are_stringified() -> None:
    logger, stream = configured("values")
    logger.info("x", extra={"obj": object(), "n": 3})
    (entry,) = lines(stream)
    assert entry["n"] == 3
    assert entry["obj"].startswith("<object object")
