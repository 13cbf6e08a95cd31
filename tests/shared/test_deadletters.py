"""A domain consumer skips a type it does not know; an operator lists, shows and replays dead
letters. Real NATS, real database."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared.consumers import EventConsumer, EventConsumers
from advocacy_shared.deadletters import DeadLetters, _run
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.settings import ServiceSettings
from tests.shared.conftest import Start
from tests.shared.helpers import eventually
from tests.shared.probe import Probe, organisation_created, tables
from tests.shared.test_consumers import FAST_RETRIES


def domain_consumer(probe: Probe) -> EventConsumer:
    consumers = EventConsumers("probe")

    async def every_gateway_event(session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
        await probe.record(session, fact, envelope)

    consumers.on_every_event_of("gateway")(every_gateway_event)
    (consumer,) = consumers.build(
        probe.sessions, tables.inbox, probe.topology, FAST_RETRIES, after_commit=lambda: None
    )
    return consumer


async def settled(consumer: EventConsumer, nats_client: NatsClient, delivered: int) -> bool:
    info = await nats_client.jetstream().consumer_info(consumer.stream, consumer.durable)
    assert info.delivered is not None
    return bool(
        info.num_pending == 0
        and info.num_ack_pending == 0
        and info.delivered.stream_seq == delivered
    )


async def test_a_domain_consumer_skips_an_unknown_type_and_goes_on(
    probe: Probe, start: Start, nats_client: NatsClient, caplog: pytest.LogCaptureFixture
) -> None:
    newer = CloudEvent(
        source="/advocacy/gateway",
        type="advocacy.gateway.thing.happened.v9",
        data={"anything": 1},
        orgid="o",
        correlationid="c",
    )
    await nats_client.jetstream().publish(
        probe.topology.event_subject("gateway", "thing.happened.v9"), newer.to_bytes()
    )
    healthy = organisation_created("after the unknown one")
    await probe.emit(healthy)
    await probe.relay.publish_pending()
    consumer = domain_consumer(probe)
    await start(consumer)

    await eventually(lambda: settled(consumer, nats_client, delivered=2))
    assert await probe.applications(healthy.organisation_id) == 1
    letters = DeadLetters(nats_client.jetstream(), probe.topology)
    assert await letters.list() == []
    assert any("does not know" in record.getMessage() for record in caplog.records)


async def test_an_operator_lists_shows_and_replays_a_dead_letter(
    probe: Probe,
    start: Start,
    nats_client: NatsClient,
    nats_server_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    poisoned = organisation_created("poisoned")
    probe.failing.add(str(poisoned.organisation_id))
    event = await probe.emit(poisoned)
    await probe.relay.publish_pending()
    consumer = probe.consumer(FAST_RETRIES)
    await start(consumer)
    letters = DeadLetters(nats_client.jetstream(), probe.topology)

    async def one_letter() -> bool:
        return len(await letters.list(consumer.durable)) == 1

    await eventually(one_letter)
    settings = ServiceSettings(nats_url=nats_server_url, namespace=probe.topology.namespace)
    command = argparse.Namespace(deadletters_command="list", consumer=None, limit=10)
    assert await _run(command, settings) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["consumer"] == consumer.durable
    assert listed["event_id"] == event.id
    assert "handler failed 3 times" in listed["reason"]
    letter, data = await letters.show(listed["sequence"])
    assert CloudEvent.from_bytes(data).id == event.id
    assert await letters.list("another_consumer") == []

    probe.failing.clear()  # the cause is mended; replay it
    await letters.replay(letter.sequence)

    async def applied() -> bool:
        return await probe.applications(poisoned.organisation_id) == 1

    await eventually(applied)
    assert await letters.list() == []
