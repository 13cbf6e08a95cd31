"""The batch consumer: N messages in one transaction with their inbox rows, acked after commit; a
failing batch falls back to one at a time so the bad message alone is retried and dead-lettered.
Real NATS, real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared.batch_consumers import BatchConsumer, PullFetcher, _Fetched, fetch_batch
from advocacy_shared.consumers import EventConsumer, EventConsumers, RetryPolicy
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.db import LeanStatement, SingleStatementSession
from advocacy_shared.deadletters import DeadLetters
from advocacy_shared.envelope import CloudEvent
from tests.shared.helpers import eventually
from tests.shared.probe import Probe, organisation_created, tables
from tests.shared.test_consumers import FAST_RETRIES


def batch_consumer(probe: Probe, transactions: list[int]) -> EventConsumer:
    consumers = EventConsumers("probe")

    async def record_in_batches(session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
        transactions.append(id(session.get_transaction()))
        await probe.record(session, fact, envelope)

    consumers.on(OrganisationCreated, batch_size=50)(record_in_batches)
    (consumer,) = consumers.build(
        probe.sessions, tables.inbox, probe.topology, FAST_RETRIES, after_commit=lambda: None
    )
    return consumer


@pytest.fixture
async def running() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_batch_is_applied_in_one_transaction_and_acked_after_it(
    probe: Probe, nats_client: NatsClient, running: list[asyncio.Task[None]]
) -> None:
    facts = [organisation_created(f"org {n}") for n in range(20)]
    for fact in facts:
        await probe.emit(fact)
    await probe.relay.publish_pending()
    transactions: list[int] = []
    consumer = batch_consumer(probe, transactions)
    runner = BatchConsumer(consumer, batch_size=50, fetch_timeout=0.5)
    running.append(asyncio.create_task(runner.run(nats_client.jetstream())))

    async def all_acked() -> bool:
        if consumer.js is None:
            return False
        info = await nats_client.jetstream().consumer_info(consumer.stream, consumer.durable)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await eventually(all_acked)
    assert [await probe.applications(f.organisation_id) for f in facts] == [1] * 20
    assert len(transactions) == 20
    assert len(set(transactions)) == 1  # one transaction for the whole batch
    assert (runner.stats.batches, runner.stats.applied, runner.stats.fallbacks) == (1, 20, 0)


async def poison_is_isolated(
    probe: Probe,
    nats_client: NatsClient,
    running: list[asyncio.Task[None]],
    consumer: EventConsumer,
) -> None:
    """Ten facts, the fifth refused by the handler, through `consumer` in batches: the nine
    others are applied once, the fifth is dead-lettered, by way of the one-at-a-time fallback."""
    facts = [organisation_created(f"org {n}") for n in range(10)]
    poison = facts[4]
    probe.failing.add(str(poison.organisation_id))
    for fact in facts:
        await probe.emit(fact)
    await probe.relay.publish_pending()
    runner = BatchConsumer(consumer, batch_size=50, fetch_timeout=0.5)
    running.append(asyncio.create_task(runner.run(nats_client.jetstream())))
    letters = DeadLetters(nats_client.jetstream(), probe.topology)

    async def dead_lettered() -> bool:
        return len(await letters.list()) == 1

    await eventually(dead_lettered, timeout=20)
    good = [f for f in facts if f is not poison]
    assert [await probe.applications(f.organisation_id) for f in good] == [1] * 9
    assert await probe.applications(poison.organisation_id) == 0
    assert runner.stats.fallbacks >= 1


async def test_a_poison_message_in_a_batch_is_isolated_and_dead_lettered(
    probe: Probe, nats_client: NatsClient, running: list[asyncio.Task[None]]
) -> None:
    await poison_is_isolated(probe, nats_client, running, batch_consumer(probe, []))


async def test_an_empty_batch_fetch_returns_nothing_instead_of_raising(
    probe: Probe, nats_client: NatsClient
) -> None:
    consumer = batch_consumer(probe, [])
    js = nats_client.jetstream()
    await consumer.ensure(js)
    subscription = await js.pull_subscribe_bind(durable=consumer.durable, stream=consumer.stream)
    try:
        assert await fetch_batch(subscription, 50, timeout=0.2) == []
    finally:
        await subscription.unsubscribe()


async def test_a_backlog_comes_in_full_batches_one_fetch_after_another(
    probe: Probe, nats_client: NatsClient
) -> None:
    """Each fetch asks for what it lacks as soon as the previous request has delivered its
    batch. JetStream delivers a message under its own subject, not the request's reply subject:
    when the fetcher looked a message's request up by its subject, a request that had delivered
    its whole batch stayed open until its expiry, and the next fetch waited for it out and came
    back empty (half the batches of a backlog, the fetch's timeout each)."""
    for n in range(30):
        await probe.emit(organisation_created(f"org {n}"))
    await probe.relay.publish_pending()
    consumer = batch_consumer(probe, [])
    js = nats_client.jetstream()
    await consumer.ensure(js)
    fetcher = await PullFetcher(js, consumer.stream, consumer.durable).start()
    try:
        sizes = [len(await fetcher.fetch(10, timeout=30)) for _ in range(3)]
    finally:
        await fetcher.stop()
    assert sizes == [10, 10, 10]


async def test_an_idempotent_batch_handler_writes_no_inbox_rows(
    probe: Probe, nats_client: NatsClient, running: list[asyncio.Task[None]]
) -> None:
    """Snapshots' consumer: the handler stores by a natural key, so the inbox would only cost."""
    facts = [organisation_created(f"org {n}") for n in range(20)]
    for fact in facts:
        await probe.emit(fact)
    await probe.relay.publish_pending()
    consumers = EventConsumers("probe")
    batches: list[int] = []

    async def store_by_key(session: AsyncSession, batch: list[tuple[Any, CloudEvent]]) -> None:
        batches.append(len(batch))
        for fact, envelope in batch:
            await probe.record(session, fact, envelope)

    consumers.on_batches(OrganisationCreated, batch_size=50, idempotent=True)(store_by_key)
    (consumer,) = consumers.build(
        probe.sessions, tables.inbox, probe.topology, FAST_RETRIES, after_commit=lambda: None
    )
    runner = BatchConsumer(consumer, batch_size=50, fetch_timeout=0.5)
    running.append(asyncio.create_task(runner.run(nats_client.jetstream())))

    async def applied() -> bool:
        return runner.stats.applied == 20

    await eventually(applied)
    assert batches == [20]
    assert [await probe.applications(f.organisation_id) for f in facts] == [1] * 20
    async with probe.sessions() as session:
        inbox_rows = await session.execute(
            select(func.count()).where(tables.inbox.c.consumer == consumer.durable)
        )
        assert inbox_rows.scalar_one() == 0


class Watched(BatchConsumer):
    """A batch consumer that notes the size of each fetch and keeps its fetcher in view."""

    fetches: list[int]
    fetcher: PullFetcher | None = None

    async def _fetch(self, fetcher: PullFetcher) -> _Fetched:
        self.fetcher = fetcher
        fetched = await super()._fetch(fetcher)
        self.fetches.append(len(fetched.messages))
        return fetched


BatchHandler = Callable[[AsyncSession, list[tuple[Any, CloudEvent]]], Awaitable[None]]


def holding_the_first_write(
    probe: Probe, batches: list[int], writing: asyncio.Event
) -> BatchHandler:
    """A batch handler that records each batch's size in `batches` and holds the first batch's
    write until `writing` is set."""

    async def first_write_held(session: AsyncSession, batch: list[tuple[Any, CloudEvent]]) -> None:
        batches.append(len(batch))
        if len(batches) == 1:
            await writing.wait()
        for fact, envelope in batch:
            await probe.record(session, fact, envelope)

    return first_write_held


async def test_a_batch_fetched_during_a_write_is_topped_up_before_its_own_write(
    probe: Probe, nats_client: NatsClient, running: list[asyncio.Task[None]]
) -> None:
    """Under a trickle the next batch's fetch returns with the first message that comes during
    a write; what comes during the rest of that write joins it before it is written (one
    write, not two, between those messages and their commit)."""
    consumers = EventConsumers("probe")
    batches: list[int] = []
    writing = asyncio.Event()

    first_write_held = holding_the_first_write(probe, batches, writing)
    consumers.on_batches(OrganisationCreated, batch_size=50, idempotent=True)(first_write_held)
    slow_ack = RetryPolicy(max_attempts=3, backoff=(0.1, 0.2), ack_wait=60.0)
    (consumer,) = consumers.build(
        probe.sessions, tables.inbox, probe.topology, slow_ack, after_commit=lambda: None
    )
    runner = Watched(consumer, batch_size=50, fetch_timeout=60)
    runner.fetches = []
    running.append(asyncio.create_task(runner.run(nats_client.jetstream())))
    facts = [organisation_created(f"org {n}") for n in range(5)]

    async def publish(*some: OrganisationCreated) -> None:
        for fact in some:
            await probe.emit(fact)
        await probe.relay.publish_pending()

    async def first_write_begun() -> bool:
        return batches == [1]

    async def next_fetch_returned_one() -> bool:
        return runner.fetches == [1, 1]

    async def three_more_delivered() -> bool:
        return runner.fetcher is not None and runner.fetcher.buffered == 3

    async def all_applied() -> bool:
        return runner.stats.applied == 5

    await publish(facts[0])
    await eventually(first_write_begun)
    await publish(facts[1])
    await eventually(next_fetch_returned_one)
    await publish(*facts[2:])
    await eventually(three_more_delivered)
    writing.set()
    await eventually(all_applied)
    assert batches == [1, 4]  # without the top-up: [1, 1, 3]
    assert [await probe.applications(f.organisation_id) for f in facts] == [1] * 5


async def test_with_two_writers_a_batch_is_committed_while_the_one_before_is_still_written(
    probe: Probe, nats_client: NatsClient, running: list[asyncio.Task[None]]
) -> None:
    """An idempotent batch handler with two writers: the batch that comes during a write is
    written and committed at once, not after that write's commit; each is applied once."""
    consumers = EventConsumers("probe")
    batches: list[int] = []
    writing = asyncio.Event()

    first_write_held = holding_the_first_write(probe, batches, writing)
    consumers.on_batches(OrganisationCreated, batch_size=50, idempotent=True, writers=2)(
        first_write_held
    )
    (consumer,) = consumers.build(
        probe.sessions, tables.inbox, probe.topology, FAST_RETRIES, after_commit=lambda: None
    )
    assert consumer.writers == 2
    runner = BatchConsumer(consumer, batch_size=50, fetch_timeout=60, writers=2)
    running.append(asyncio.create_task(runner.run(nats_client.jetstream())))
    first, second = organisation_created("first"), organisation_created("second")

    async def publish(fact: OrganisationCreated) -> None:
        await probe.emit(fact)
        await probe.relay.publish_pending()

    async def first_write_begun() -> bool:
        return batches == [1]

    async def second_committed() -> bool:
        return await probe.applications(second.organisation_id) == 1

    async def both_applied() -> bool:
        return runner.stats.applied == 2

    await publish(first)
    await eventually(first_write_begun)
    await publish(second)
    await eventually(second_committed)  # with one writer it waits for the first's commit
    assert await probe.applications(first.organisation_id) == 0
    writing.set()
    await eventually(both_applied)
    assert batches == [1, 1]
    assert [await probe.applications(f.organisation_id) for f in (first, second)] == [1, 1]


def test_more_than_one_writer_wants_an_idempotent_batch_handler() -> None:
    """Batches of one writer commit in order; with more they may not, which only a handler
    that a second or out-of-order application does not change can take."""

    async def handler(session: AsyncSession, batch: list[tuple[Any, CloudEvent]]) -> None:
        del session, batch

    with pytest.raises(ValueError, match="idempotent"):
        EventConsumers("probe").on_batches(OrganisationCreated, batch_size=50, writers=2)(handler)


RECORD_ALL = LeanStatement(
    text(
        "INSERT INTO applied (event_id, organisation_id) "
        "SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:orgs AS varchar[])) "
        "RETURNING event_id"
    )
)
"""`Probe.record` for a whole batch, in one statement (PostgreSQL)."""


def one_statement_consumer(probe: Probe, seen: list[tuple[type, bool, int]]) -> EventConsumer:
    """An idempotent, one-statement batch consumer of `probe`'s facts; `seen` gets, for each
    call of its handler, the session's class, whether a transaction was open after the
    statement, and the batch's size. It refuses `probe.failing` as `Probe.record` does."""
    consumers = EventConsumers("probe")

    async def record_all(session: AsyncSession, batch: list[tuple[Any, CloudEvent]]) -> None:
        for fact, _ in batch:
            if str(fact.organisation_id) in probe.failing:
                raise RuntimeError(f"refusing organisation {fact.organisation_id}")
        ids = [envelope.id for _, envelope in batch]
        await RECORD_ALL.first(session, ids=ids, orgs=[envelope.orgid for _, envelope in batch])
        seen.append((type(session.sync_session), session.in_transaction(), len(batch)))

    consumers.on_batches(OrganisationCreated, batch_size=50, idempotent=True, one_statement=True)(
        record_all
    )
    (consumer,) = consumers.build(
        probe.sessions, tables.inbox, probe.topology, FAST_RETRIES, after_commit=lambda: None
    )
    return consumer


def skip_on_sqlite(probe: Probe) -> None:
    if probe.engine.dialect.name == "sqlite":
        pytest.skip("single statements without a transaction are PostgreSQL's (arrays, unnest)")


async def test_a_one_statement_batch_runs_alone_on_postgresql_and_commits_by_itself(
    probe: Probe, nats_client: NatsClient, running: list[asyncio.Task[None]]
) -> None:
    """No BEGIN, no COMMIT: the statement runs on the driver and is committed once it returns."""
    skip_on_sqlite(probe)
    facts = [organisation_created(f"org {n}") for n in range(20)]
    for fact in facts:
        await probe.emit(fact)
    await probe.relay.publish_pending()
    seen: list[tuple[type, bool, int]] = []
    consumer = one_statement_consumer(probe, seen)
    runner = BatchConsumer(consumer, batch_size=50, fetch_timeout=0.5)
    running.append(asyncio.create_task(runner.run(nats_client.jetstream())))

    async def applied() -> bool:
        return runner.stats.applied == 20

    await eventually(applied)
    # Through the session, the statement would have begun a transaction of the session's.
    assert seen == [(SingleStatementSession, False, 20)]
    assert [await probe.applications(f.organisation_id) for f in facts] == [1] * 20
    async with probe.sessions() as session:
        inbox_rows = await session.execute(
            select(func.count()).where(tables.inbox.c.consumer == consumer.durable)
        )
        assert inbox_rows.scalar_one() == 0


async def test_a_refused_one_statement_batch_falls_back_to_transactions_one_at_a_time(
    probe: Probe, nats_client: NatsClient, running: list[asyncio.Task[None]]
) -> None:
    skip_on_sqlite(probe)
    seen: list[tuple[type, bool, int]] = []
    await poison_is_isolated(probe, nats_client, running, one_statement_consumer(probe, seen))
    # The fallback applies each event in a transaction of its own, the statement through it.
    assert [(in_transaction, size) for _, in_transaction, size in seen] == [(True, 1)] * 9


def test_one_statement_wants_an_idempotent_batch_handler() -> None:
    """Without inbox rows only: an inbox claim is a second statement, which would commit apart."""

    async def handler(session: AsyncSession, batch: list[tuple[Any, CloudEvent]]) -> None:
        del session, batch

    with pytest.raises(ValueError, match="idempotent"):
        EventConsumers("probe").on_batches(OrganisationCreated, batch_size=50, one_statement=True)(
            handler
        )


async def test_on_sqlite_a_one_statement_batch_runs_in_a_transaction(probe: Probe) -> None:
    if probe.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert one_statement_consumer(probe, []).statement_sessions() is None
