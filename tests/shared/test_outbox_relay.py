"""The outbox's bounds and the relay's promises: an oversized event is refused where it is written;
a row that can never be published is parked and the rest go on; any number of relays publish one
outbox in order; no transaction is open during a publish; old rows are pruned.
Against a real nats-server and a real database (PostgreSQL when `DATABASE_URL` is set)."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_devtools import cli
from advocacy_shared.contracts.limits import MAX_EVENT_BYTES
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent, new_id, utc_now
from advocacy_shared.lifecycle import where
from advocacy_shared.outbox import EventTooLarge, OutboxRelay, Retention
from advocacy_shared.outbox_records import outbox_status, parked_events, prune, unpark
from tests.shared.helpers import eventually, read_all
from tests.shared.probe import Probe, organisation_created, tables


async def published_names(probe: Probe, nats_client: NatsClient) -> list[str]:
    messages = await read_all(
        nats_client.jetstream(),
        probe.topology.stream_name("gateway"),
        OrganisationCreated.spec.subject(probe.topology),
    )
    return [CloudEvent.from_bytes(m.data).data["name"] for m in messages]


async def write_row(probe: Probe, payload: str) -> str:
    """An outbox row written directly, past `Outbox.add`'s checks: one the relay cannot send."""
    row_id = new_id()
    async with probe.transaction() as session:
        await session.execute(
            tables.outbox.insert().values(
                id=row_id,
                organisation_id=str(new_id()),
                subject=OrganisationCreated.spec.subject(probe.topology),
                payload=payload,
                created_at=utc_now(),
                attempts=0,
            )
        )
    return row_id


async def outbox_rows(probe: Probe) -> int:
    async with probe.sessions() as session:
        query = select(func.count()).select_from(tables.outbox)
        return int((await session.execute(query)).scalar_one())


async def test_an_oversized_event_is_refused_in_the_writing_transaction(probe: Probe) -> None:
    fact = organisation_created()
    oversized = OrganisationCreated.model_construct(
        **{**fact.model_dump(), "name": "x" * (MAX_EVENT_BYTES + 1)}
    )
    with pytest.raises(EventTooLarge, match="at most 65536"):
        async with probe.transaction() as session:
            await probe.outbox.add(session, fact, fact.organisation_id)
            await probe.outbox.add(session, oversized, fact.organisation_id)
    assert await outbox_rows(probe) == 0  # the whole transaction, state change included, is gone


async def test_a_row_that_can_never_be_published_is_parked_and_the_rest_go_on(
    probe: Probe,
    nats_client: NatsClient,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await probe.emit(organisation_created("before"))
    too_big = await write_row(probe, "x" * (nats_client.max_payload + 1))
    await probe.emit(organisation_created("after"))

    with caplog.at_level(logging.ERROR, logger="advocacy_shared.outbox"):
        assert await probe.relay.publish_pending() == 2

    assert await published_names(probe, nats_client) == ["before", "after"]
    assert probe.relay.stats.parked == 1
    (parked,) = await parked_events(probe.sessions, tables.outbox)
    assert parked.id == too_big
    assert str(parked.reason).startswith("MaxPayloadError")
    assert any(r.levelno == logging.ERROR and "parked" in r.getMessage() for r in caplog.records)
    status = await outbox_status(probe.sessions, tables.outbox)
    assert (status.backlog, status.parked, status.oldest_pending_at) == (0, 1, None)

    assert await probe.relay.publish_pending() == 0  # a parked row is not tried again
    monkeypatch.setenv("ADVOCACY_PROBE_DATABASE_URL", probe.url)
    with pytest.raises(SystemExit) as exited:  # as an operator types it
        await asyncio.to_thread(cli.main, ["deadletters", "parked", "probe", "--limit", "10"])
    assert exited.value.code == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["id"] == too_big
    assert await unpark(probe.sessions, tables.outbox, too_big)
    assert (await outbox_status(probe.sessions, tables.outbox)).backlog == 1


async def test_a_message_the_stream_refuses_is_parked_after_a_few_attempts(
    probe: Probe, nats_client: NatsClient
) -> None:
    js = nats_client.jetstream()
    stream = probe.topology.stream_name("gateway")
    config = (await js.stream_info(stream)).config
    config.max_msg_size = 2048
    await js.update_stream(config)
    probe.relay.park_after = 2
    refused = await write_row(probe, "y" * 4096)
    await probe.emit(organisation_created("behind it"))

    assert await probe.relay.publish_pending() == 0  # refused once: retried, order kept
    assert await probe.relay.publish_pending() == 1  # refused twice: parked, the next one goes

    assert await published_names(probe, nats_client) == ["behind it"]
    (parked,) = await parked_events(probe.sessions, tables.outbox)
    assert (parked.id, parked.attempts) == (refused, 2)


class WatchedJetStream:
    """Publishes through a real JetStream context and notes the database connections in use."""

    def __init__(self, js: JetStreamContext, probe: Probe) -> None:
        self.js = js
        self.probe = probe
        self.connections_during_publish: list[int] = []

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        self.connections_during_publish.append(self.probe.engine.pool.checkedout())  # type: ignore[attr-defined]
        return await self.js.publish(*args, **kwargs)


async def test_no_transaction_is_open_while_the_relay_publishes(
    probe: Probe, nats_client: NatsClient
) -> None:
    watched = WatchedJetStream(nats_client.jetstream(), probe)
    probe.relay.js = watched  # type: ignore[assignment]
    for n in range(3):
        await probe.emit(organisation_created(f"event {n}"))
    assert await probe.relay.publish_pending() == 3
    # On PostgreSQL one connection holds the relay's advisory lock, idle; nothing else is open.
    lock_connection = 1 if probe.engine.dialect.name == "postgresql" else 0
    assert watched.connections_during_publish == [lock_connection] * 3


async def test_two_relays_publish_one_outbox_in_order(
    probe: Probe, nats_client: NatsClient
) -> None:
    second_engine = create_engine(probe.url)
    try:
        relays = [
            probe.relay,
            OutboxRelay(session_factory(second_engine), tables.outbox, interval=0.01),
        ]
        for relay in relays:
            relay.js = nats_client.jetstream()
            relay.batch_size = 7
            relay.interval = 0.01
        names = [f"event {n:03}" for n in range(120)]
        await _emit_all(probe, names[:60])  # a backlog both relays find at once
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        try:
            await _emit_all(probe, names[60:])  # and rows written while they run
            await eventually(lambda: _all_sent(probe), timeout=60)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert await published_names(probe, nats_client) == names
        assert sum(relay.stats.duplicates for relay in relays) == 0  # no row was sent twice
    finally:
        await second_engine.dispose()


async def _emit_all(probe: Probe, names: list[str]) -> None:
    for name in names:
        await probe.emit(organisation_created(name))


async def _all_sent(probe: Probe) -> bool:
    return await probe.unpublished() == 0


async def insert_row(
    session: AsyncSession,
    row_id: str,
    created: datetime,
    *,
    published: datetime | None = None,
    parked: datetime | None = None,
) -> None:
    """An outbox row of no real event, for what retention keeps and prunes."""
    await session.execute(
        tables.outbox.insert().values(
            id=row_id,
            organisation_id="o",
            subject="s",
            payload="{}",
            created_at=created,
            published_at=published,
            parked_at=parked,
            attempts=0,
        )
    )


async def test_retention_prunes_old_sent_rows_and_inbox_rows_only(probe: Probe) -> None:
    old = utc_now() - timedelta(days=8)
    async with probe.transaction() as session:
        for row_id, published, parked in [
            ("old-sent", old, None),
            ("old-unsent", None, None),
            ("old-parked", None, old),
            ("new-sent", utc_now(), None),
        ]:
            await insert_row(session, row_id, old, published=published, parked=parked)
        for message_id, received in [("old", old), ("new", utc_now())]:
            await session.execute(
                tables.inbox.insert().values(
                    consumer="c", message_id=message_id, organisation_id="o", received_at=received
                )
            )

    pruned = await prune(probe.sessions, tables.outbox, tables.inbox, timedelta(days=7))

    assert (pruned.outbox, pruned.inbox) == (1, 1)
    async with probe.sessions() as session:
        kept = (await session.execute(select(tables.outbox.c.id))).scalars().all()
        inbox = (await session.execute(select(tables.inbox.c.message_id))).scalars().all()
    assert sorted(kept) == ["new-sent", "old-parked", "old-unsent"]
    assert inbox == ["new"]


async def test_a_running_relay_prunes_within_each_interval(probe: Probe) -> None:
    """Its first prune comes at a random point of the first interval (`first_pass_in`), then one
    each interval: a sent row past retention is gone within an interval, twice over."""
    relay = OutboxRelay(
        probe.sessions,
        tables.outbox,
        interval=0.05,
        retention=Retention(inbox=tables.inbox, older_than=timedelta(days=7), every=0.3),
    )
    relay.js = probe.relay.js
    running = asyncio.create_task(relay.run())
    try:
        for row_id in ("first", "second"):
            async with probe.transaction() as session:
                old = utc_now() - timedelta(days=8)
                await insert_row(session, row_id, old, published=old)

            async def pruned() -> bool:
                return await outbox_rows(probe) == 0

            await eventually(pruned)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_relay_of_another_process_on_one_sqlite_file_takes_its_turn_first(
    probe: Probe, nats_client: NatsClient
) -> None:
    """Processes sharing a SQLite file (the gateway's HTTP and webhook processes under `advocacy
    run`) take turns through a lock file: while another process holds it, this relay publishes
    nothing; once it is released, everything, in order."""
    engine_url = make_url(probe.url)
    if engine_url.get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL relays take turns with an advisory lock (tested above)")
    await probe.emit(organisation_created("first"))
    await probe.emit(organisation_created("second"))
    lock_file = f"{engine_url.database}.{tables.outbox.name}.relay-lock"
    other_process = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other_process, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert await probe.relay.publish_pending() == 0
        assert await published_names(probe, nats_client) == []
    finally:
        os.close(other_process)  # releases the lock, as the kernel does when a process dies
    assert await probe.relay.publish_pending() == 2
    assert await published_names(probe, nats_client) == ["first", "second"]


async def test_a_relay_cancelled_just_after_it_was_woken_ends(
    probe: Probe, nats_client: NatsClient
) -> None:
    """A service's stop cancels its relay whenever it comes, often just after a commit woke it.
    The relay's wait (`lifecycle.woken`) must end on that cancellation: `asyncio.wait_for` on
    Python 3.11 returned normally instead, and the relay ran on past its service's stop."""
    relay = probe.relay
    relay.js = nats_client.jetstream()
    relay.interval = 60.0  # asleep until woken
    for turns in range(4):
        task = asyncio.create_task(relay.run())
        await eventually(partial(asleep, task))
        relay.wake()
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=10)
        assert done, f"the relay ran on after a cancellation {turns} turns after its wake"


async def asleep(task: asyncio.Task[None]) -> bool:
    """Whether the relay waits to be woken, not in a pass: its innermost wait is on its event
    (`Event.wait`, or `wait_for` around it)."""
    places = where(task)
    return (
        bool(places) and places[-1].startswith(("wait (", "wait_for (")) and "asyncio" in places[-1]
    )


async def test_a_wake_lets_the_reply_of_the_same_commit_leave_first(probe: Probe) -> None:
    """A commit wakes the relay and then publishes its reply (or ack), which nats-py writes from a
    flusher task the publish wakes. The relay's pass must start after that task has run, or the
    reply waits for the pass's first step."""
    relay = probe.relay
    relay.interval = 60.0
    order: list[str] = []

    async def recorded_pass() -> int:
        order.append("relay pass")
        return 0

    relay.publish_pending = recorded_pass  # type: ignore[method-assign]
    flushes: asyncio.Queue[None] = asyncio.Queue()

    async def flusher() -> None:
        await flushes.get()
        order.append("reply")

    task = asyncio.create_task(relay.run())
    try:
        await eventually(partial(asleep, task))
        order.clear()
        flushing = asyncio.create_task(flusher())
        await asyncio.sleep(0)  # the flusher now waits for a flush, as nats-py's does
        relay.wake()
        flushes.put_nowait(None)

        async def both_ran() -> bool:
            return len(order) == 2

        await eventually(both_ran)
        assert order == ["reply", "relay pass"]
        await flushing
    finally:
        task.cancel()
        await asyncio.wait([task], timeout=10)
