"""Prometheus metrics of every process, and the listener that serves them (docs/operations.md).

Counters and histograms move where the work happens (a consumed message, a request, a publish);
what would cost a JetStream API call or a query (consumer lag, the outbox's backlog) is sampled
by `Sampler` every `metrics_interval_seconds`, never per message. Labels name code, never tenants:
consumers, operations, route templates, outcomes; no organisation, user or raw path.

The listener is off unless `ADVOCACY_METRICS_PORT` is set (0: any free port, for tests); one per
process, whatever the number of runtimes in it.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from advocacy_shared.lifecycle import pause

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONSUMER_MESSAGES = Counter(
    "advocacy_consumer_messages",
    "Messages settled by a durable consumer, by outcome: applied, duplicate (inbox), failed "
    "(nak, retried later), dead_lettered, skipped (a type the consumer does not know)",
    ["consumer", "outcome"],
)
CONSUMER_PENDING = Gauge(
    "advocacy_consumer_pending_messages",
    "Consumer lag: messages of the stream not yet delivered to the durable consumer",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "advocacy_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not yet acknowledged",
    ["consumer"],
)
CONSUMER_REDELIVERED = Gauge(
    "advocacy_consumer_redelivered_messages",
    "Messages delivered more than once and not yet acknowledged",
    ["consumer"],
)
OUTBOX_BACKLOG = Gauge(
    "advocacy_outbox_backlog_events",
    "Outbox rows waiting for the relay (parked not counted)",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "advocacy_outbox_oldest_unsent_age_seconds",
    "Age of the oldest unsent, unparked outbox row (0: none)",
    ["service"],
)
OUTBOX_PARKED = Gauge(
    "advocacy_outbox_parked_events",
    "Outbox rows the relay parked: never publishable, waiting for an operator",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "advocacy_outbox_published", "Outbox rows published by this process's relay", ["service"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "advocacy_outbox_publish_failures",
    "Relay publishes that failed (retried, or parked when they never can succeed)",
    ["service"],
)
RPC_CLIENT_SECONDS = Histogram(
    "advocacy_rpc_client_duration_seconds",
    "Request-reply calls as the caller saw them, by outcome (ok or the error code)",
    ["service", "operation", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
RPC_SERVER_SECONDS = Histogram(
    "advocacy_rpc_server_duration_seconds",
    "Requests answered by a service, from receipt to reply, by outcome (ok or the error code)",
    ["service", "operation", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_SECONDS = Histogram(
    "advocacy_http_request_duration_seconds",
    "HTTP requests served by the gateway, by route template",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_RESPONSES = Counter(
    "advocacy_http_responses",
    "HTTP responses of the gateway, by route template and status code",
    ["method", "route", "status"],
)
WEBHOOK_DELIVERIES = Counter(
    "advocacy_webhook_deliveries",
    "Webhook delivery attempts by outcome: delivered, retrying, failed (schedule spent)",
    ["outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "advocacy_webhook_attempt_duration_seconds",
    "Webhook delivery attempts, from the target check to the receiver's answer",
    buckets=_LATENCY_BUCKETS,
)
LINKEDIN_CALLS = Counter(
    "advocacy_linkedin_calls",
    "Calls to LinkedIn's API by call and outcome: ok, retried, failed",
    ["call", "outcome"],
)
LINKEDIN_POSTS_TODAY = Gauge(
    "advocacy_linkedin_posts_today",
    "Posting attempts made today (UTC) by the whole platform: the app's daily budget in use",
)
LINKEDIN_POSTS_BUDGET = Gauge(
    "advocacy_linkedin_posts_budget", "The app's daily posting budget (our side of LinkedIn's)"
)
LINKEDIN_BUDGET_SPENT = Counter(
    "advocacy_linkedin_budget_spent",
    "Posts held until midnight UTC because a daily budget was spent, by budget: member, app",
    ["budget"],
)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method a client sends is labelled `OTHER`: a label's values must stay few."""


@functools.cache
def labelled(metric: Any, *values: str) -> Any:
    """The child of `metric` for these label values, kept: `labels()` takes a lock and builds
    a key on every call, a few microseconds on the hot paths (a request, a message). The label
    values are bounded (routes, operations, consumers, outcomes), and so is this cache."""
    return metric.labels(*values)


def http_method(method: str) -> str:
    return method if method in HTTP_METHODS else "OTHER"


_listener_lock = threading.Lock()
_listening: tuple[str, int] | None = None


def listen(host: str, port: int) -> tuple[str, int]:
    """Serve `/metrics` of this process on `host:port` (0: a free port), once per process; a
    second call returns the first listener's address."""
    global _listening
    with _listener_lock:
        if _listening is None:
            server, _thread = start_http_server(port, addr=host)
            _listening = (host, int(server.server_port))
            log.info("metrics listener started", extra={"host": host, "port": _listening[1]})
        return _listening


def listening() -> tuple[str, int] | None:
    return _listening


@dataclass(frozen=True)
class OutboxSample:
    backlog: int
    oldest_seconds: float | None
    parked: int


ConsumerLag = Callable[[], Awaitable[Sequence[tuple[str, int, int, int]]]]
"""(durable, pending, ack pending, redelivered) of every consumer, from JetStream."""


@dataclass
class Sampler:
    """Samples what costs a call (consumer info, an outbox query) every `interval` seconds."""

    service: str
    outbox: Callable[[], Awaitable[OutboxSample]]
    consumers: ConsumerLag | None
    interval: float

    async def run(self) -> None:
        """Sample until cancelled; a failed sample (NATS away) leaves the last values."""
        while True:
            try:
                await self.sample()
            except Exception as exc:
                log.warning(
                    "metrics sample failed", extra={"service": self.service, "error": repr(exc)}
                )
            await pause(self.interval)

    async def sample(self) -> None:
        outbox = await self.outbox()
        OUTBOX_BACKLOG.labels(self.service).set(outbox.backlog)
        OUTBOX_OLDEST_AGE.labels(self.service).set(outbox.oldest_seconds or 0.0)
        OUTBOX_PARKED.labels(self.service).set(outbox.parked)
        if self.consumers is None:
            return
        for durable, pending, ack_pending, redelivered in await self.consumers():
            CONSUMER_PENDING.labels(durable).set(pending)
            CONSUMER_ACK_PENDING.labels(durable).set(ack_pending)
            CONSUMER_REDELIVERED.labels(durable).set(redelivered)
