"""A batch consumer for high-volume subjects: up to N messages applied in one transaction.

It keeps every promise of `consumers.EventConsumer` (inbox, ack after commit, bounded retries,
dead letters) at a fraction of the per-message cost: it fetches up to `batch_size` messages of the
durable consumer, applies them in one transaction together with their inbox rows, commits, then
acks them all; the inbox rows go in one statement that also says which events are new (a
redelivered one is skipped), and a consumer with a `batch_handler` gets the batch's new events
at once (bulk writes). A batch handler declared `idempotent` (it stores by a natural key and a
second application changes nothing) gets no inbox rows at all: only the copies of one event id
within a batch are dropped. When the batch fails (a handler raises, a message is
malformed), nothing of it is kept and its messages are applied one at a time through the
ordinary consumer, which isolates the bad one: it is retried with backoff and dead-lettered,
the good ones are applied once.

nats-py 2.16 raises a bare `asyncio.TimeoutError` from a batch fetch that finds nothing (FastStream
0.7.8 does not suppress it, which is why the ordinary consumers fetch one message at a time): the
fetch loop here treats that as "nothing yet" and fetches again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared import tracing
from advocacy_shared.consumers import EventConsumer
from advocacy_shared.contracts.base import EventData
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.logs import correlation_id_var, organisation_id_var, traceparent_var
from advocacy_shared.telemetry import CONSUMER_MESSAGES

log = logging.getLogger(__name__)


@dataclass
class BatchStats:
    batches: int = 0
    applied: int = 0
    duplicates: int = 0
    fallbacks: int = 0


async def fetch_batch(
    subscription: JetStreamContext.PullSubscription, batch_size: int, timeout: float
) -> list[Msg]:
    """Up to `batch_size` messages, or none when none came within `timeout` (no exception)."""
    try:
        return await subscription.fetch(batch_size, timeout=timeout)
    except TimeoutError:  # nats-py's empty batch fetch; nats.errors.TimeoutError is one too
        return []


@dataclass
class BatchConsumer:
    """Runs one durable consumer in batches; `consumer` gives its config, decoder and handler."""

    consumer: EventConsumer
    batch_size: int = 100
    fetch_timeout: float = 1.0
    stats: BatchStats = field(default_factory=BatchStats)

    async def run(self, js: JetStreamContext) -> None:
        """Consume until cancelled."""
        await self.consumer.ensure(js)
        subscription = await js.pull_subscribe_bind(
            durable=self.consumer.durable, stream=self.consumer.stream
        )
        try:
            while True:
                messages = await fetch_batch(subscription, self.batch_size, self.fetch_timeout)
                if messages:
                    await self.settle(messages)
        finally:
            await subscription.unsubscribe()

    async def settle(self, messages: list[Msg]) -> None:
        """Apply a fetched batch and ack it; on failure, one message at a time."""
        self.stats.batches += 1
        try:
            if not tracing.active:
                await self.apply(messages)
            else:
                await self._apply_traced(messages)
        except Exception as exc:
            self.stats.fallbacks += 1
            log.warning(
                "batch failed; applying its messages one at a time to isolate the bad one",
                extra={
                    "consumer": self.consumer.durable,
                    "messages": len(messages),
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                },
            )
            for message in messages:
                await self.consumer.handle(message)
            return
        for message in messages:
            await message.ack()

    async def _apply_traced(self, messages: list[Msg]) -> None:
        """One span for the batch, linked to the trace of each message it applies."""
        links = [tp for tp in (tracing.in_event(message.data) for message in messages) if tp]
        with tracing.span(
            f"process batch {self.consumer.durable}",
            "consumer",
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": self.consumer.durable,
                "messaging.batch.message_count": len(messages),
            },
            links=links,
        ):
            await self.apply(messages)

    async def apply(self, messages: list[Msg]) -> None:
        """Every message of the batch and its inbox row in one transaction; raises on any error."""
        consumer = self.consumer
        decoded = [consumer.decode(message.data) for message in messages]
        inbox = consumer.inbox
        async with consumer.sessions() as session, session.begin():
            if consumer.idempotent and consumer.batch_handler is not None:
                new_ids = {envelope.id for envelope, _ in decoded}
            else:
                new_ids = await claim_inbox(session, inbox, consumer.durable, decoded)
            applied = 0
            fresh: list[tuple[EventData, CloudEvent]] = []
            for envelope, data in decoded:
                if envelope.id not in new_ids:  # a redelivery, or a second copy in this batch
                    self.stats.duplicates += 1
                    continue
                new_ids.discard(envelope.id)
                fresh.append((data, envelope))
            if fresh:
                last = fresh[-1][1]
                correlation_id_var.set(last.correlationid)
                organisation_id_var.set(last.orgid)
                traceparent_var.set(last.traceparent)
                if consumer.batch_handler is not None:
                    await consumer.batch_handler(session, fresh)
                else:
                    for data, envelope in fresh:
                        correlation_id_var.set(envelope.correlationid)
                        organisation_id_var.set(envelope.orgid)
                        traceparent_var.set(envelope.traceparent)
                        await consumer.handler(session, data, envelope)
                applied = len(fresh)
        self.stats.applied += applied
        CONSUMER_MESSAGES.labels(consumer.durable, "applied").inc(applied)
        CONSUMER_MESSAGES.labels(consumer.durable, "duplicate").inc(len(messages) - applied)
        consumer.after_commit()


async def claim_inbox(
    session: AsyncSession,
    inbox: Table,
    durable: str,
    decoded: list[tuple[CloudEvent, EventData]],
) -> set[str]:
    """Write the batch's inbox rows, skipping ids already there, and return the ids that were
    new: the events to apply. One statement; on PostgreSQL with array parameters, so its
    prepared plan is reused whatever the batch's size. A replica applying the same message at
    the same time waits on the row, then finds it taken."""
    now = utc_now()
    ids = [envelope.id for envelope, _ in decoded]
    orgs = [envelope.orgid for envelope, _ in decoded]
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            text(
                f"INSERT INTO {inbox.name} (consumer, message_id, organisation_id, received_at) "  # noqa: S608
                "SELECT :durable, m, o, :now "
                "FROM unnest(CAST(:ids AS varchar[]), CAST(:orgs AS varchar[])) AS t(m, o) "
                "ON CONFLICT DO NOTHING RETURNING message_id"
            ),
            {"durable": durable, "ids": ids, "orgs": orgs, "now": now},
        )
        return set(rows.scalars())
    query = select(inbox.c.message_id).where(
        inbox.c.consumer == durable, inbox.c.message_id.in_(ids)
    )
    seen = set((await session.execute(query)).scalars())
    new = {i: o for i, o in zip(ids, orgs, strict=True) if i not in seen}
    if new:
        await session.execute(
            inbox.insert(),
            [
                {"consumer": durable, "message_id": i, "organisation_id": o, "received_at": now}
                for i, o in new.items()
            ],
        )
    return set(new)


def start_batch_consumer(
    consumer: EventConsumer, js: JetStreamContext, batch_size: int
) -> asyncio.Task[None]:
    """Run a batch consumer in the background (cancel the task to stop it)."""
    runner = BatchConsumer(consumer, batch_size=batch_size)
    return asyncio.create_task(runner.run(js), name=f"{consumer.durable}-batches")
