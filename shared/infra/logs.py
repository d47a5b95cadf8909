"""Logs: plain readable lines by default (`make run`), one JSON object a line in production
(`SECONDMENT_LOG_FORMAT=json`), each naming the service and what it was doing — the agency,
the command, the event, the trace (the correlation id a request or event carries) — so that
one request can be followed across the services' logs.

The fields come from context variables bound where a request or a message is handled
(`bind`), never from the message text; they hold codes and ids only. An official's name or
identity never reaches a log: messages name ids (tests/integration/test_personal_data.py
searches every log record, DEBUG included); a database error's traceback keeps its frames
and loses its messages, which name the row, and so does another library's error while a
request or record is in hand, whose message may quote it (`redact.safe_traceback`).

With tracing on (`shared.infra.tracing`), a record logged inside a span says that span's
`trace_id` and `span_id` (so a log line leads to its trace), and the correlation id moves to
`correlation_id`.

JSON is rendered by python-json-logger; the level is `SECONDMENT_LOG_LEVEL` (default INFO).
"""

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Final, Literal

from pythonjsonlogger.json import JsonFormatter

from shared.infra import tracing
from shared.infra.redact import safe_traceback

FORMAT_ENV: Final = "SECONDMENT_LOG_FORMAT"
LEVEL_ENV: Final = "SECONDMENT_LOG_LEVEL"
FIELDS: Final = ("agency", "command_id", "event_id", "trace_id")
"""What a record may say about the work in hand (ids and unit codes, nothing personal)."""

_context: ContextVar[dict[str, str]] = ContextVar("secondment_log_context", default={})  # noqa: B039 - never mutated, replaced


def _with(fields: dict[str, str | None]) -> dict[str, str]:
    return _context.get() | {k: v for k, v in fields.items() if k in FIELDS and v}


@contextlib.contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Name the work in hand on every record logged inside (nested binds add fields)."""
    token = _context.set(_with(fields))
    try:
        yield
    finally:
        _context.reset(token)


def bind_now(**fields: str | None) -> None:
    """Like `bind`, for the rest of the current task (a request's dependency, a handler)."""
    _context.set(_with(fields))


def level(default: str = "INFO") -> str:
    """The level asked for by `SECONDMENT_LOG_LEVEL`, else `default` (e.g. for uvicorn's own
    loggers, whose level it sets itself)."""
    return os.environ.get(LEVEL_ENV, default).strip().upper()


class ContextFilter(logging.Filter):
    """Adds `service` and the bound fields to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.__dict__.pop("color_message", None)  # uvicorn's terminal copy of the message
        if record.exc_info and record.exc_info[1] is not None:
            in_hand = bool(_context.get())  # a request's or a record's work is bound
            safe = safe_traceback(record.exc_info[1], record_in_hand=in_hand)
            if safe is not None:  # an error's text may quote the data (`redact`)
                record.exc_info, record.exc_text = None, safe
        for name, value in _context.get().items():
            setattr(record, name, value)
        ids = tracing.current_ids()
        if ids is not None:
            bound = getattr(record, "trace_id", None)
            if bound:
                record.correlation_id = bound
            record.trace_id, record.span_id = ids
        return True


TEXT: Final = "%(asctime)s %(levelname)s %(service)s %(name)s: %(message)s"


def configure(
    service: str, fmt: Literal["text", "json"] | None = None, default_level: str = "INFO"
) -> logging.Handler:
    """Send the process's records to stderr in the chosen format (the environment's when
    `fmt` is None) at `SECONDMENT_LOG_LEVEL` (else `default_level`); returns the handler
    installed on the root logger."""
    chosen = fmt or os.environ.get(FORMAT_ENV, "text").strip().lower()
    if chosen not in ("text", "json"):
        raise ValueError(f"{FORMAT_ENV} must be text or json, not {chosen!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter(service))
    if chosen == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s %(service)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",  # ISO 8601, UTC
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_secondment", False)]:
        root.removeHandler(old)
    handler._secondment = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level(default_level))
    return handler
