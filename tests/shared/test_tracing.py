"""Tracing is off unless the environment names an OTLP endpoint; what the relay and consumers
read from an event's bytes; log lines carry the trace of the event being applied."""

from __future__ import annotations

import json
import logging

import pytest

from advocacy_shared import tracing
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.logs import JsonFormatter, traceparent_var

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    ("environment", "wanted"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, False),  # an exporter, but nowhere to send
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"},
            False,
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_TRACES_EXPORTER": "none",
            },
            False,
        ),
    ],
)
def test_tracing_is_on_only_when_the_environment_names_an_endpoint(
    environment: dict[str, str], wanted: bool
) -> None:
    assert tracing.wanted(environment) is wanted


def test_the_test_process_does_not_trace() -> None:
    """Nothing in the suite's environment turns tracing on: every other test runs the paths of
    a process without it (the default)."""
    assert tracing.active is False
    assert tracing.current_traceparent() is None


def test_an_events_traceparent_is_found_in_its_bytes_without_parsing_them() -> None:
    event = CloudEvent(
        source="/advocacy/test", type="t", data={"a": 1}, orgid="o", correlationid="c"
    )
    assert tracing.in_event(event.to_bytes()) is None
    traced = event.model_copy(update={"traceparent": TRACEPARENT})
    assert tracing.in_event(traced.to_bytes()) == TRACEPARENT
    assert tracing.in_event(b'{"traceparent":"00-not-a-trace"}') is None


def test_a_log_line_carries_the_trace_ids_of_the_event_being_applied() -> None:
    formatter = JsonFormatter("test")
    record = logging.LogRecord("advocacy", logging.INFO, __file__, 1, "applied", None, None)
    assert "trace_id" not in json.loads(formatter.format(record))
    token = traceparent_var.set(TRACEPARENT)
    try:
        line = json.loads(formatter.format(record))
    finally:
        traceparent_var.reset(token)
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert line["span_id"] == "b7ad6b7169203331"
