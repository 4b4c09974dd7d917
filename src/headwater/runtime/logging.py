"""Structured logging shaped like the Flux controllers' logs.

Flux controllers log one JSON object per line (``--log-encoding=json``, the default in the
manifests) with ``level``, ``ts``, ``msg`` and per-reconcile fields such as ``controller``,
``controllerGroup``, ``controllerKind``, ``name``, ``namespace`` and ``reconcileID``; errors
go in ``error``. Log pipelines and ``flux logs`` parse these fields, so headwater writes the
same shape. ``--log-level`` is one of trace, debug, info, error; ``--log-encoding=console``
gives tab-separated human-readable lines.

``--log-file PATH`` (on ``headwater controller``) appends the same records as JSON lines to a file as
well, whatever the stderr encoding, so that ``headwater logs --log-dir`` can read the logs of
controllers run as local processes, as ``flux logs`` reads the controller pods' logs.

Use :func:`setup_logging` once at start-up, then :func:`with_fields` /
:func:`reconcile_logger` to attach fields. Callers must not pass Secret data as fields or
messages; nothing here inspects values.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

__all__ = [
    "TRACE",
    "ConsoleFormatter",
    "FieldsAdapter",
    "JSONFormatter",
    "level_number",
    "new_reconcile_id",
    "reconcile_logger",
    "setup_logging",
    "with_fields",
]

#: Numeric level for ``--log-level=trace`` (below DEBUG).
TRACE: Final = 5
logging.addLevelName(TRACE, "TRACE")

_LEVELS: Final = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR}
_ROOT_LOGGER: Final = "headwater"
_HANDLER_MARK: Final = "_headwater_handler"

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RESERVED: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "fields", "taskName"}
)


def level_number(level: str) -> int:
    """``--log-level`` value -> logging level number."""
    try:
        return _LEVELS[level]
    except KeyError:
        raise ValueError(f"invalid log level {level!r}, expected one of {', '.join(_LEVELS)}") from None


def _level_name(levelno: int) -> str:
    if levelno <= TRACE:
        return "trace"
    if levelno <= logging.DEBUG:
        return "debug"
    if levelno <= logging.INFO:
        return "info"
    if levelno <= logging.WARNING:
        return "warn"
    return "error"


def _timestamp(created: float) -> str:
    # ISO 8601 with milliseconds in UTC, e.g. 2024-05-01T12:00:00.123Z
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    result: dict[str, Any] = {}
    bound = getattr(record, "fields", None)
    if isinstance(bound, Mapping):
        result.update(bound)
    for key, value in vars(record).items():
        if key not in _RESERVED and not key.startswith("_"):
            result[key] = value
    return result


def _error_text(record: logging.LogRecord, formatter: logging.Formatter) -> str | None:
    if record.exc_info and record.exc_info[1] is not None:
        return str(record.exc_info[1]) or type(record.exc_info[1]).__name__
    return None


class JSONFormatter(logging.Formatter):
    """One JSON object per line: level, ts, logger, msg, fields..., error, stacktrace."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": _level_name(record.levelno),
            "ts": _timestamp(record.created),
        }
        if record.name and record.name != _ROOT_LOGGER:
            entry["logger"] = record.name
        entry["msg"] = record.getMessage()
        for key, value in _record_fields(record).items():
            if key not in ("level", "ts", "msg"):
                entry[key] = value
        error = _error_text(record, self)
        if error is not None:
            entry["error"] = error
            if record.levelno >= logging.ERROR:
                entry["stacktrace"] = self.formatException(record.exc_info) if record.exc_info else ""
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``ts<TAB>LEVEL<TAB>logger<TAB>msg<TAB>{fields}`` like zap's console encoder."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record.created), _level_name(record.levelno).upper()]
        if record.name and record.name != _ROOT_LOGGER:
            parts.append(record.name)
        parts.append(record.getMessage())
        extra = _record_fields(record)
        error = _error_text(record, self)
        if error is not None:
            extra["error"] = error
        if extra:
            parts.append(json.dumps(extra, default=str, ensure_ascii=False))
        line = "\t".join(parts)
        if record.exc_info and record.levelno >= logging.ERROR:
            line += "\n" + self.formatException(record.exc_info)
        return line


class FieldsAdapter(logging.LoggerAdapter[logging.Logger]):
    """A logger that adds fixed structured fields to every record."""

    def __init__(self, logger: logging.Logger, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(logger, dict(fields or {}))

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self.extra or {})

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        merged = dict(self.extra or {})
        extra = kwargs.get("extra")
        if isinstance(extra, Mapping):
            merged.update(extra)
        kwargs["extra"] = {"fields": merged}
        return msg, kwargs

    def with_fields(self, **fields: Any) -> FieldsAdapter:
        return FieldsAdapter(self.logger, {**(self.extra or {}), **fields})

    def trace(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.log(TRACE, msg, *args, **kwargs)


def with_fields(logger: logging.Logger | FieldsAdapter, **fields: Any) -> FieldsAdapter:
    """A logger adding ``fields`` (merged with any already bound)."""
    if isinstance(logger, FieldsAdapter):
        return logger.with_fields(**fields)
    return FieldsAdapter(logger, fields)


def new_reconcile_id() -> str:
    """A fresh reconcileID (controller-runtime uses a random UUID per reconcile)."""
    return str(uuid.uuid4())


def reconcile_logger(
    logger: logging.Logger | FieldsAdapter,
    *,
    controller: str,
    group: str,
    kind: str,
    name: str,
    namespace: str,
    reconcile_id: str | None = None,
) -> FieldsAdapter:
    """The per-reconcile logger with controller-runtime's fields.

    ``controller`` is the lower-case kind (``kustomization``); the fields are ``controller``,
    ``controllerGroup``, ``controllerKind``, ``<Kind>: {name, namespace}``, ``namespace``,
    ``name`` and ``reconcileID``.
    """
    return with_fields(
        logger,
        controller=controller,
        controllerGroup=group,
        controllerKind=kind,
        **{kind: {"name": name, "namespace": namespace}},
        namespace=namespace,
        name=name,
        reconcileID=reconcile_id or new_reconcile_id(),
    )


def setup_logging(
    level: str = "info",
    encoding: str = "json",
    *,
    stream: IO[str] | None = None,
    logger_name: str = _ROOT_LOGGER,
    log_file: str | None = None,
) -> logging.Logger:
    """Configure ``logger_name`` (default ``headwater``) to write structured lines to ``stream``.

    With ``log_file``, every record is also appended to that file as one JSON line (the file and
    its directory are created if missing). Idempotent: handlers installed by an earlier call are
    replaced. Records are not propagated to the root logger, so library logging configuration does
    not duplicate them.
    """
    if encoding not in ("json", "console"):
        raise ValueError(f"invalid log encoding {encoding!r}, expected json or console")
    logger = logging.getLogger(logger_name)
    logger.setLevel(level_number(level))
    for old in list(logger.handlers):
        if getattr(old, _HANDLER_MARK, False):
            logger.removeHandler(old)
            old.close()
    handler: logging.Handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JSONFormatter() if encoding == "json" else ConsoleFormatter())
    logger.addHandler(handler)
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        setattr(handler, _HANDLER_MARK, True)
        handler.setFormatter(JSONFormatter())
        logger.addHandler(handler)
    logger.propagate = False
    return logger
