"""OpenTelemetry traces across HTTP, request-reply, the outbox, events, consumers and webhooks.

**Off by default.** A process traces only when the standard OpenTelemetry variables say where to
send spans: `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), OTLP over
HTTP; `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` keep it off. The exporter, the
batch processor and the sampler read their own `OTEL_*` variables (`OTEL_EXPORTER_OTLP_HEADERS`,
`OTEL_BSP_SCHEDULE_DELAY`, `OTEL_TRACES_SAMPLER`, ...). Off, every call site tests `active` (one
attribute read) and does nothing else: no span, no context, no header.

How the context travels (W3C trace context, `traceparent`):
- HTTP: the gateway continues a caller's `traceparent` header (`advocacy_gateway.middleware`);
- request-reply: the client injects `traceparent` into the NATS request's headers, the server
  continues it (`advocacy_shared.rpc`);
- events: `Outbox.add` writes the current span's context as the CloudEvents `traceparent`
  extension, inside the outbox row's payload, so the relay's publish (a span of its own, whose
  context goes in the NATS message's `traceparent` header) continues the trace of the transaction
  that wrote the event, even in another pass or replica;
- consumers continue the NATS header's context, else the event's extension;
- webhooks: the delivery row keeps the context of the intake that queued it, and the attempt
  sends its own `traceparent` header to the receiver.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span, SpanKind, Tracer

TRACEPARENT = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_IN_EVENT = b'"traceparent":"'
_TRACEPARENT_LENGTH = 55

active = False
"""Whether this process traces: set once by `configure`, read on every hot path."""

_tracer: Tracer | None = None
_provider: Any = None


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint, and nothing turning them off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() in ("none", ""):
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure(service: str) -> bool:
    """Set up tracing for this process when the environment asks for it; returns whether it does.

    `service` is the resource's `service.name` unless `OTEL_SERVICE_NAME` names one. The
    OpenTelemetry SDK is imported only here, so a process without tracing never loads it.
    """
    global active, _tracer, _provider
    if active or not wanted():
        return active
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"advocacy-{service}"
    _provider = TracerProvider(resource=Resource.create({"service.name": name}))
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    _tracer = trace.get_tracer("advocacy")
    active = True
    return True


def shutdown() -> None:
    """Send the spans still in the batch processor (at a process's stop)."""
    if _provider is not None:
        _provider.force_flush()


def tracer() -> Tracer:
    if _tracer is None:
        raise RuntimeError("tracing is not configured")
    return _tracer


def kind(name: str) -> SpanKind:
    from opentelemetry.trace import SpanKind

    return SpanKind[name.upper()]


@contextmanager
def span(
    name: str,
    span_kind: str,
    parent: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[str] = (),
) -> Iterator[Span]:
    """A span continuing `parent` (a traceparent; none: the current context), current inside."""
    from opentelemetry.trace import Link

    context = _context_of(parent) if parent else None
    linked = [Link(ctx) for ctx in (_span_context(tp) for tp in links) if ctx is not None]
    with tracer().start_as_current_span(
        name, context=context, kind=kind(span_kind), attributes=attributes, links=linked
    ) as current:
        yield current


def current_traceparent() -> str | None:
    """The current span's context as a `traceparent` value (None: no span)."""
    if not active:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the current span's `traceparent` to outgoing headers (NATS or HTTP)."""
    traceparent = current_traceparent()
    if traceparent is not None:
        headers[TRACEPARENT] = traceparent


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids, hex, for log lines (None: no span)."""
    traceparent = current_traceparent()
    return ids_of(traceparent) if traceparent else None


def ids_of(traceparent: str) -> tuple[str, str] | None:
    match = _TRACEPARENT.match(traceparent)
    return (match.group(1), match.group(2)) if match else None


def in_event(payload: bytes) -> str | None:
    """The CloudEvents `traceparent` extension of a serialized event, found without parsing it
    (the relay and consumers read it only while tracing)."""
    at = payload.find(_IN_EVENT)
    if at < 0:
        return None
    start = at + len(_IN_EVENT)
    value = payload[start : start + _TRACEPARENT_LENGTH].decode("ascii", "replace")
    return value if _TRACEPARENT.match(value) else None


def _span_context(traceparent: str) -> Any:
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    match = _TRACEPARENT.match(traceparent)
    if match is None:
        return None
    flags = int(traceparent[-2:], 16)
    ctx = SpanContext(
        trace_id=int(match.group(1), 16),
        span_id=int(match.group(2), 16),
        is_remote=True,
        trace_flags=TraceFlags(flags),
    )
    return ctx if NonRecordingSpan(ctx).get_span_context().is_valid else None


def _context_of(traceparent: str) -> Any:
    from opentelemetry import trace

    ctx = _span_context(traceparent)
    if ctx is None:
        return None
    return trace.set_span_in_context(trace.NonRecordingSpan(ctx))
