"""The outbox and its relay, against a real nats-server and a real database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import select, update

from advocacy_devtools.embedded_nats import EmbeddedNats, free_port
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import ensure_streams
from tests.shared.helpers import eventually, polls, read_all, stream_messages
from tests.shared.probe import Probe, organisation_created, tables


async def test_an_event_of_a_rolled_back_transaction_is_never_published(
    probe: Probe, nats_client: NatsClient
) -> None:
    rolled_back = organisation_created("rolled back")
    with pytest.raises(RuntimeError):
        async with probe.transaction() as session:
            await probe.outbox.add(session, rolled_back, rolled_back.organisation_id)
            raise RuntimeError("the state change failed")
    committed = await probe.emit(organisation_created("committed"))

    assert await probe.relay.publish_pending() == 1

    js = nats_client.jetstream()
    stream = probe.topology.stream_name("gateway")
    subject = OrganisationCreated.spec.subject(probe.topology)
    published = [CloudEvent.from_bytes(m.data) for m in await read_all(js, stream, subject)]
    assert [event.id for event in published] == [committed.id]
    assert published[0].data["name"] == "committed"


async def test_forgetting_a_person_deletes_their_events_published_or_not_and_no_other(
    probe: Probe,
) -> None:
    """An erased person's facts still waiting for the relay would otherwise be published after
    the erasure and kept in the outbox with their data (seen under load in test_erasure.py).
    The mention has a space: a bare "Ada" is found in about one run in fifty in the ids of Grace's
    event, as hexadecimal "ada" (SQLite's LIKE ignores case)."""
    published = await probe.emit(organisation_created("Ada L published"))
    assert await probe.relay.publish_pending() == 1
    waiting = await probe.emit(organisation_created("Ada L waiting"))
    other = await probe.emit(organisation_created("Grace"))
    async with probe.transaction() as session:
        assert await probe.outbox.forget(session, published.orgid, "Ada L") == 1
        assert await probe.outbox.forget(session, waiting.orgid, "Ada L") == 1
        assert await probe.outbox.forget(session, other.orgid, "Ada L") == 0
    async with probe.transaction() as session:
        left = list((await session.execute(select(tables.outbox.c.id))).scalars())
    assert left == [other.id]


async def test_a_row_forgotten_while_the_relay_sends_it_is_sent_once_and_stays_gone(
    probe: Probe, nats_client: NatsClient
) -> None:
    """`Outbox.forget` says: a row the relay is sending at that moment still reaches the stream,
    and its mark as sent finds no row. The erasure commits in the middle of the publish."""
    event = await probe.emit(organisation_created("Ada"))
    assert probe.relay.js is not None
    send = probe.relay.js.publish

    async def erased_meanwhile(*args: Any, **kwargs: Any) -> Any:
        async with probe.transaction() as session:
            assert await probe.outbox.forget(session, event.orgid, "Ada") == 1
        return await send(*args, **kwargs)

    probe.relay.js.publish = erased_meanwhile  # type: ignore[method-assign]
    assert await probe.relay.publish_pending() == 1
    async with probe.transaction() as session:
        assert list((await session.execute(select(tables.outbox.c.id))).scalars()) == []
    messages = await read_all(
        nats_client.jetstream(),
        probe.topology.stream_name("gateway"),
        OrganisationCreated.spec.subject(probe.topology),
    )
    assert [CloudEvent.from_bytes(m.data).id for m in messages] == [event.id]


async def test_the_relay_publishes_with_the_event_id_so_jetstream_drops_a_second_publish(
    probe: Probe, nats_client: NatsClient
) -> None:
    event = await probe.emit(organisation_created())
    assert await probe.relay.publish_pending() == 1
    async with probe.transaction() as session:  # as if the mark as sent had been lost
        await session.execute(update(tables.outbox).values(published_at=None))
    assert await probe.relay.publish_pending() == 1

    assert probe.relay.stats.duplicates == 1
    js = nats_client.jetstream()
    messages = await read_all(
        js, probe.topology.stream_name("gateway"), OrganisationCreated.spec.subject(probe.topology)
    )
    assert len(messages) == 1
    assert messages[0].headers is not None
    assert messages[0].headers["Nats-Msg-Id"] == event.id


async def test_the_envelope_is_cloudevents_with_organisation_and_correlation(
    probe: Probe, nats_client: NatsClient
) -> None:
    fact = organisation_created()
    await probe.emit(fact)
    await probe.relay.publish_pending()
    js = nats_client.jetstream()
    (message,) = await read_all(
        js, probe.topology.stream_name("gateway"), OrganisationCreated.spec.subject(probe.topology)
    )
    envelope = CloudEvent.from_bytes(message.data)
    assert envelope.specversion == "1.0"
    assert envelope.type == "advocacy.gateway.organisation.created.v1"
    assert envelope.source == "/advocacy/probe"
    assert envelope.orgid == str(fact.organisation_id)
    assert envelope.correlationid
    assert OrganisationCreated.model_validate(envelope.data) == fact


async def test_the_relay_survives_nats_being_down_and_catches_up_in_order(
    probe: Probe, tmp_path: Path
) -> None:
    server = EmbeddedNats(store_dir=tmp_path / "nats", port=free_port()).start()
    nc = await nats.connect(server.url, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream()
        settings = ServiceSettings(namespace=probe.topology.namespace)
        await ensure_streams(js, probe.topology, settings)
        probe.relay.js = js
        probe.relay.publish_timeout = 0.5
        await probe.emit(organisation_created("before the outage"))
        assert await probe.relay.publish_pending() == 1

        server.stop()
        during = [await probe.emit(organisation_created(f"during {i}")) for i in range(3)]
        assert await probe.relay.publish_pending() == 0
        assert await probe.unpublished() == 3
        async with probe.sessions() as session:
            errors = (
                await session.execute(
                    select(tables.outbox.c.last_error).where(tables.outbox.c.id == during[0].id)
                )
            ).scalar_one()
        assert errors  # the failure is recorded on the row that could not be sent

        server.start()
        await eventually(_connected(nc))
        assert await probe.relay.publish_pending() == 3
        assert await probe.unpublished() == 0

        stream = probe.topology.stream_name("gateway")
        assert await stream_messages(js, stream) == 4
        names = [
            CloudEvent.from_bytes(m.data).data["name"]
            for m in await read_all(js, stream, OrganisationCreated.spec.subject(probe.topology))
        ]
        assert names == ["before the outage", "during 0", "during 1", "during 2"]
    finally:
        await nc.close()
        server.stop()


def _connected(nc: NatsClient) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(nc.is_connected)

    return check


async def test_the_running_relay_is_woken_by_a_commit(
    probe: Probe, nats_client: NatsClient
) -> None:
    probe.relay.interval = 30.0  # only a wake-up can make it publish within the test
    task = asyncio.create_task(probe.relay.run())
    try:
        await asyncio.sleep(0.1)
        await probe.emit(organisation_created())
        probe.relay.wake()
        js = nats_client.jetstream()
        stream = probe.topology.stream_name("gateway")
        for _ in polls():
            if await stream_messages(js, stream) == 1:
                break
            await asyncio.sleep(0.05)
        assert await stream_messages(js, stream) == 1
    finally:
        task.cancel()
