"""Durable consumers: inbox dedup, ack after commit, bounded retries, dead letters. Real NATS.

Each test runs twice: under FastStream's subscriber (`EventConsumer.attach`, how tests and tools
attach a consumer to a broker of their own) and on the pull loop a service runtime runs its
ordinary consumers on (`OneAtATimeConsumer`): both keep every promise."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select

from advocacy_shared.consumers import (
    CONSUMER_HEADER,
    DELIVERIES_HEADER,
    REASON_HEADER,
    EventConsumer,
    Outcome,
    RetryPolicy,
)
from advocacy_shared.contracts.organisations import OrganisationCreated
from tests.shared.conftest import Start
from tests.shared.helpers import eventually, read_all
from tests.shared.probe import Probe, organisation_created, tables

FAST_RETRIES = RetryPolicy(max_attempts=3, backoff=(0.1, 0.2), ack_wait=2.0)


async def dead_letters(probe: Probe, nats_client: NatsClient) -> list[dict[str, str]]:
    messages = await read_all(
        nats_client.jetstream(),
        probe.topology.dead_letter_stream,
        probe.topology.dead_letter_subject(">"),
    )
    return [{**(m.headers or {}), "body": m.data.decode(errors="replace")} for m in messages]


async def test_a_committed_event_is_applied_once_despite_a_double_publish_and_redelivery(
    probe: Probe, start: Start, nats_client: NatsClient
) -> None:
    fact = organisation_created()
    event = await probe.emit(fact)
    await probe.relay.publish_pending()
    # A second copy beyond JetStream's duplicate window: same event id, another Nats-Msg-Id.
    js = nats_client.jetstream()
    await js.publish(
        OrganisationCreated.spec.subject(probe.topology),
        event.to_bytes(),
        headers={"Nats-Msg-Id": f"{event.id}-replayed"},
    )
    consumer = probe.consumer(FAST_RETRIES)
    await start(consumer)

    await eventually(lambda: _calls_settled(probe, consumer, nats_client))
    assert await probe.applications(fact.organisation_id) == 1
    async with probe.sessions() as session:
        inbox_rows = (
            await session.execute(select(func.count()).where(tables.inbox.c.message_id == event.id))
        ).scalar_one()
    assert inbox_rows == 1


async def _calls_settled(probe: Probe, consumer: EventConsumer, nats_client: NatsClient) -> bool:
    info = await nats_client.jetstream().consumer_info(consumer.stream, consumer.durable)
    assert info.delivered is not None
    return bool(
        info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq == 2
    )


async def test_a_failing_handler_is_retried_then_dead_lettered_while_later_messages_flow(
    probe: Probe, start: Start, nats_client: NatsClient
) -> None:
    poisoned, healthy = organisation_created("poisoned"), organisation_created("healthy")
    probe.failing.add(str(poisoned.organisation_id))
    poisoned_event = await probe.emit(poisoned)
    await probe.emit(healthy)
    await probe.relay.publish_pending()
    await start(probe.consumer(FAST_RETRIES))

    await eventually(lambda: _one(probe, healthy))
    letters: list[dict[str, str]] = []

    async def dead_lettered() -> bool:
        letters[:] = await dead_letters(probe, nats_client)
        return len(letters) == 1

    await eventually(dead_lettered)
    (letter,) = letters
    assert letter[CONSUMER_HEADER] == "probe_record"
    assert letter[DELIVERIES_HEADER] == "3"
    assert "handler failed 3 times" in letter[REASON_HEADER]
    assert f"refusing organisation {poisoned.organisation_id}" in letter[REASON_HEADER]
    assert poisoned_event.id in letter["body"]
    assert probe.calls.count(poisoned_event.id) == 3
    assert await probe.applications(poisoned.organisation_id) == 0


async def _one(probe: Probe, fact: OrganisationCreated) -> bool:
    return await probe.applications(fact.organisation_id) == 1


async def test_a_malformed_event_is_dead_lettered_with_its_reason_and_the_consumer_goes_on(
    probe: Probe, start: Start, nats_client: NatsClient
) -> None:
    js = nats_client.jetstream()
    subject = OrganisationCreated.spec.subject(probe.topology)
    await js.publish(subject, b"{not json at all")
    wrong_data = (
        b'{"specversion":"1.0","id":"e1","source":"/x","type":"advocacy.gateway.organisation.'
        b'created.v1","data":{"name":""},"orgid":"o","correlationid":"c"}'
    )
    await js.publish(subject, wrong_data)
    healthy = organisation_created("after the bad ones")
    await probe.emit(healthy)
    await probe.relay.publish_pending()
    await start(probe.consumer(FAST_RETRIES))

    await eventually(lambda: _one(probe, healthy))
    letters: list[dict[str, str]] = []

    async def both_dead_lettered() -> bool:
        letters[:] = await dead_letters(probe, nats_client)
        return len(letters) == 2

    await eventually(both_dead_lettered)
    reasons = [letter[REASON_HEADER] for letter in letters]
    assert reasons[0].startswith("malformed event: ")
    assert "Invalid JSON" in reasons[0]
    assert reasons[1].startswith("malformed event: ")
    assert "organisation_id: Field required" in reasons[1]
    assert "name: String should have at least 1 character" in reasons[1]
    assert letters[0][DELIVERIES_HEADER] == "1"  # a malformed message is not retried


async def test_a_consumer_that_dies_after_its_commit_but_before_its_ack_does_not_apply_twice(
    probe: Probe, start: Start, nats_client: NatsClient
) -> None:
    fact = organisation_created()
    await probe.emit(fact)
    await probe.relay.publish_pending()
    policy = RetryPolicy(max_attempts=3, backoff=(0.1,), ack_wait=1.0)
    consumer = probe.consumer(policy)
    js = nats_client.jetstream()
    await consumer.ensure(js)

    # The first replica takes the message, commits its work, then dies before acking.
    doomed = await js.pull_subscribe_bind(consumer.durable, stream=consumer.stream)
    (message,) = await doomed.fetch(1, timeout=5)
    assert await consumer.apply(message) is Outcome.APPLIED
    await doomed.unsubscribe()
    assert await probe.applications(fact.organisation_id) == 1

    # After the ack wait the server redelivers it to the surviving replica.
    await start(consumer)

    async def redelivered_and_acked() -> bool:
        info = await js.consumer_info(consumer.stream, consumer.durable)
        assert info.delivered is not None
        assert info.ack_floor is not None
        return bool(info.delivered.consumer_seq == 2 and info.ack_floor.stream_seq == 1)

    await eventually(redelivered_and_acked, timeout=15)
    assert len(probe.calls) == 1  # the handler ran once: the inbox stopped the redelivery
    assert await probe.applications(fact.organisation_id) == 1


async def test_a_handler_that_fails_once_is_retried_and_succeeds(
    probe: Probe, start: Start, nats_client: NatsClient
) -> None:
    fact = organisation_created()
    probe.failing.add(str(fact.organisation_id))
    await probe.emit(fact)
    await probe.relay.publish_pending()
    await start(probe.consumer(FAST_RETRIES))

    await eventually(lambda: _called(probe, 1))
    probe.failing.clear()  # the cause goes away (a database that was briefly down, say)
    await eventually(lambda: _one(probe, fact))
    await asyncio.sleep(0.3)
    assert await dead_letters(probe, nats_client) == []


async def _called(probe: Probe, times: int) -> bool:
    return len(probe.calls) >= times
