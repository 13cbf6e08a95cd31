"""Prometheus `/metrics` after real traffic, read with Prometheus's own exposition parser: the
counters moved by what the traffic did, and no label names an organisation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client.parser import text_string_to_metric_families

from advocacy_shared import telemetry
from advocacy_shared.contracts.planner import CREATE_PROGRAM, ProgramCreated
from advocacy_shared.topology import Topology
from tests.actors import new_program, ready_organisation
from tests.conftest import SERVICES, Platform
from tests.shared.helpers import eventually

OBSERVED = {"metrics_port": 0, "metrics_host": "127.0.0.1", "metrics_interval_seconds": 0.1}
PROGRAMS = "/api/v1/orgs/{org_id}/programs"
CONSUMER = "metrics_program_created"
"""The metrics service's consumer of ProgramCreated."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return OBSERVED


@pytest.fixture
def service_overrides() -> dict[str, dict[str, Any]]:
    return {name: OBSERVED for name in SERVICES}


async def scrape() -> tuple[str, Samples]:
    """The process's `/metrics`, as Prometheus reads it: the text and every sample by labels."""
    listening = telemetry.listening()
    assert listening is not None, "no metrics listener: metrics_port is set in every process"
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{listening[1]}/metrics")
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples) -> Callable[..., float]:
    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    return delta


async def test_counters_move_by_what_the_traffic_did(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = await ready_organisation(platform.gateway)
    _, before = await scrape()

    for _ in range(3):
        await new_program(platform.gateway, org)
    missing = await platform.http.get(f"/api/v1/orgs/{uuid.uuid4()}", headers=platform.auth)
    assert missing.status_code == 404
    # Not an event at all: the consumer dead-letters it at once.
    await nats_client.jetstream().publish(
        ProgramCreated.spec.subject(topology), b"not an event", headers={"Nats-Msg-Id": "bad-1"}
    )

    async def settled() -> bool:
        _, now = await scrape()
        delta = moved(before, now)
        consumed = delta("advocacy_consumer_messages_total", consumer=CONSUMER, outcome="applied")
        lettered = delta(
            "advocacy_consumer_messages_total", consumer=CONSUMER, outcome="dead_lettered"
        )
        return consumed == 3 and lettered == 1

    await eventually(settled, timeout=30)
    text, after = await scrape()
    delta = moved(before, after)

    created = {"method": "POST", "route": PROGRAMS}
    assert delta("advocacy_http_responses_total", **created, status="201") == 3
    assert delta("advocacy_http_request_duration_seconds_count", **created) == 3
    assert (
        delta(
            "advocacy_http_responses_total",
            method="GET",
            route="/api/v1/orgs/{org_id}",
            status="404",
        )
        == 1
    )
    operation = {"service": "planner", "operation": CREATE_PROGRAM.name, "outcome": "ok"}
    assert delta("advocacy_rpc_client_duration_seconds_count", **operation) == 3
    assert delta("advocacy_rpc_server_duration_seconds_count", **operation) == 3
    assert delta("advocacy_outbox_published_total", service="planner") >= 3
    assert delta("advocacy_consumer_messages_total", consumer=CONSUMER, outcome="failed") == 0

    async def caught_up() -> bool:
        _, now = await scrape()
        return (
            ("advocacy_consumer_pending_messages", frozenset({("consumer", CONSUMER)})) in now
            and value(now, "advocacy_consumer_pending_messages", consumer=CONSUMER) == 0
            and value(now, "advocacy_consumer_ack_pending_messages", consumer=CONSUMER) == 0
            and ("advocacy_outbox_backlog_events", frozenset({("service", "planner")})) in now
            and value(now, "advocacy_outbox_backlog_events", service="planner") == 0
            and value(now, "advocacy_outbox_oldest_unsent_age_seconds", service="planner") == 0
        )

    await eventually(caught_up, timeout=30)
    assert org not in text  # tenancy: no organisation id in any label
    assert "/api/v1/orgs/" + org not in text


async def test_consumer_lag_is_what_jetstream_holds_for_the_consumer(
    platform: Platform, nats_client: NatsClient
) -> None:
    """Events published while the metrics service is down wait in its durable consumer: the
    sampler reads that lag from JetStream's consumer info (one call per consumer per sample)."""
    org = await ready_organisation(platform.gateway)
    await platform.stop("metrics")
    for _ in range(2):
        await new_program(platform.gateway, org)
    _, create_runtime = SERVICES["metrics"]
    away = create_runtime(platform.settings["metrics"])  # built, not started: consumes nothing
    away.js = nats_client.jetstream()
    sampler = telemetry.Sampler("metrics", away.outbox_sample, away.consumer_lag, 1.0)
    try:

        async def lagging() -> bool:
            await sampler.sample()
            _, now = await scrape()
            return value(now, "advocacy_consumer_pending_messages", consumer=CONSUMER) == 2

        await eventually(lagging, timeout=30)
    finally:
        await away.engine.dispose()
    await platform.start("metrics")

    async def caught_up() -> bool:
        _, now = await scrape()
        return value(now, "advocacy_consumer_pending_messages", consumer=CONSUMER) == 0

    await eventually(caught_up, timeout=30)
