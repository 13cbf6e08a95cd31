"""Structured JSON logs carrying the correlation id, organisation and trace of the work in hand."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from advocacy_shared import tracing

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
organisation_id_var: ContextVar[str | None] = ContextVar("organisation_id", default=None)

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (correlation_id := correlation_id_var.get()) is not None:
            entry["correlation_id"] = correlation_id
        if (organisation_id := organisation_id_var.get()) is not None:
            entry["organisation_id"] = organisation_id
        if (trace := _trace_ids()) is not None:
            entry["trace_id"], entry["span_id"] = trace
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-message INFO logs of the broker cost about a quarter of consumer throughput.
    logging.getLogger("faststream").setLevel(logging.WARNING)
    logging.getLogger("nats").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)
"""The trace context an event being applied carried (its CloudEvents `traceparent`)."""


def _trace_ids() -> tuple[str, str] | None:
    """The current span's ids while tracing; else those of the event being applied, if any."""
    if tracing.active:
        return tracing.current_ids()
    traceparent = traceparent_var.get()
    return tracing.ids_of(traceparent) if traceparent else None
