"""What a consumed event costs when it has little to do: an event its consumer does not want is
acked with nothing written; the wake-ups after a commit (the outbox relay, a worker) run only after
a commit that asks for them; a command's events written together are relayed in their order.
Real NATS and a real database (PostgreSQL when `DATABASE_URL` is set)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared import outbox
from advocacy_shared.batch_consumers import BatchConsumer
from advocacy_shared.consumers import (
    EventConsumer,
    EventConsumers,
    Outcome,
    RetryPolicy,
    wake_after_commit,
)
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import CloudEvent
from tests.shared.helpers import read_all
from tests.shared.probe import Probe, organisation_created, tables

POLICY = RetryPolicy(max_attempts=3, backoff=(0.1,), ack_wait=2.0)


def consumer_of(
    probe: Probe, handler: Any, *, wanted: Any = None, wakes: list[str] | None = None
) -> EventConsumer:
    """A consumer of every gateway event (OrganisationCreated), adding to `wakes` when woken."""
    woken = wakes if wakes is not None else []
    consumers = EventConsumers("probe")
    consumers.on_every_event_of("gateway", wanted=wanted)(handler)
    (consumer,) = consumers.build(
        probe.sessions,
        tables.inbox,
        probe.topology,
        POLICY,
        after_commit=lambda: woken.append("woken"),
    )
    return consumer


async def delivered(probe: Probe, nats_client: NatsClient, consumer: EventConsumer) -> list[Msg]:
    """Every event relayed so far, delivered to `consumer` (not acked)."""
    await probe.relay.publish_pending()
    js = nats_client.jetstream()
    await consumer.ensure(js)
    subscription = await js.pull_subscribe_bind(consumer.durable, stream=consumer.stream)
    info = await js.consumer_info(consumer.stream, consumer.durable)
    return await subscription.fetch(info.num_pending, timeout=5)


async def inbox_ids(probe: Probe, durable: str) -> set[str]:
    async with probe.sessions() as session:
        query = select(tables.inbox.c.message_id).where(tables.inbox.c.consumer == durable)
        return set((await session.execute(query)).scalars())


async def test_an_event_its_consumer_does_not_want_is_acked_with_nothing_written(
    probe: Probe, nats_client: NatsClient
) -> None:
    wanted_event = await probe.emit(organisation_created("wanted"))
    await probe.emit(organisation_created("unwanted"))
    asked: list[str] = []

    async def wanted(session: AsyncSession, fact: Any, envelope: CloudEvent) -> bool:
        asked.append(fact.name)
        return bool(fact.name == "wanted")

    async def handler(session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
        await probe.record(session, fact, envelope)

    consumer = consumer_of(probe, handler, wanted=wanted)
    outcomes = [await consumer.apply(m) for m in await delivered(probe, nats_client, consumer)]

    assert outcomes == [Outcome.APPLIED, Outcome.SKIPPED]
    assert asked == ["wanted", "unwanted"]
    assert probe.calls == [wanted_event.id]  # the handler never saw the unwanted one
    assert await inbox_ids(probe, consumer.durable) == {wanted_event.id}


async def test_a_batch_leaves_out_the_events_its_consumer_does_not_want(
    probe: Probe, nats_client: NatsClient
) -> None:
    wanted_event = await probe.emit(organisation_created("wanted"))
    await probe.emit(organisation_created("unwanted"))

    async def wanted(session: AsyncSession, fact: Any, envelope: CloudEvent) -> bool:
        return bool(fact.name == "wanted")

    async def handler(session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
        await probe.record(session, fact, envelope)

    consumer = consumer_of(probe, handler, wanted=wanted)
    runner = BatchConsumer(consumer, batch_size=10)
    await runner.apply(await delivered(probe, nats_client, consumer))

    assert probe.calls == [wanted_event.id]
    assert await inbox_ids(probe, consumer.durable) == {wanted_event.id}
    assert runner.stats.applied == 1


async def test_the_wake_ups_run_only_after_a_commit_that_asks_for_them(
    probe: Probe, nats_client: NatsClient
) -> None:
    """A commit that wrote outbox events wakes the relay; one whose handler called
    `wake_after_commit` wakes too; one that only recorded the event wakes nothing."""
    for name in ("quiet", "announces", "queues work"):
        await probe.emit(organisation_created(name))
    wakes: list[str] = []

    async def handler(session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
        await probe.record(session, fact, envelope)
        if fact.name == "announces":
            await probe.outbox.add(session, organisation_created("echo"), fact.organisation_id)
        elif fact.name == "queues work":
            wake_after_commit(session)

    consumer = consumer_of(probe, handler, wakes=wakes)
    woken_by = []
    for message in await delivered(probe, nats_client, consumer):
        before = len(wakes)
        assert await consumer.apply(message) is Outcome.APPLIED
        await message.ack()
        woken_by.append(len(wakes) - before)
    assert woken_by == [0, 1, 1]

    wakes.clear()
    runner = BatchConsumer(consumer, batch_size=10)
    await probe.emit(organisation_created("quiet again"))
    await runner.apply(await delivered(probe, nats_client, consumer))
    assert wakes == []  # a batch that only recorded its events wakes nothing


async def test_events_written_together_are_relayed_in_their_order(
    probe: Probe, nats_client: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the clock does not move between them: the relay sends by time, then by id."""
    monkeypatch.setattr(outbox, "utc_now", lambda: datetime(2027, 1, 4, tzinfo=UTC))
    facts = [organisation_created(f"event {n}") for n in range(5)]
    organisation_id = facts[0].organisation_id
    async with probe.transaction() as session:
        envelopes = await probe.outbox.add_all(
            session, [(fact, f"subject {n}") for n, fact in enumerate(facts)], organisation_id
        )
    assert await probe.relay.publish_pending() == 5

    messages = await read_all(
        nats_client.jetstream(),
        probe.topology.stream_name("gateway"),
        OrganisationCreated.spec.subject(probe.topology),
    )
    relayed = [CloudEvent.from_bytes(m.data) for m in messages]
    assert [e.id for e in relayed] == [e.id for e in envelopes]
    assert [e.data["name"] for e in relayed] == [f"event {n}" for n in range(5)]
    assert [e.subject for e in relayed] == [f"subject {n}" for n in range(5)]
