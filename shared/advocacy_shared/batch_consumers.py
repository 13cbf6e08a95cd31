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

Messages are fetched by `PullFetcher` rather than nats-py's `PullSubscription.fetch`: nats-py 2.16
awaits each message of a batch through its own task (with a uuid4 for its name), about a quarter
of a snapshot's cost in the consumer; the fetcher sends the same JetStream pull requests and
collects the replies with a callback, a list append per message. nats-py's fetch also raises a
bare `asyncio.TimeoutError` when it finds nothing (FastStream 0.7.8 does not suppress it, which
is why the ordinary consumers fetch one message at a time): `fetch_batch` wraps it for callers
that use nats-py's fetch.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared import tracing
from advocacy_shared.consumers import EventConsumer, wants_wake
from advocacy_shared.contracts.base import EventData
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.heap import freeze_start_up
from advocacy_shared.lifecycle import end_if_cancelled, pause
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


STATUS_HEADER = "Status"
HEARTBEAT = "100"
MIN_EXPIRES = 0.001
"""Seconds: a waiting pull request shorter than this is not worth sending."""


@dataclass
class _Request:
    """The pull request open on the server: its reply subject, how many messages it may still
    deliver, until when."""

    reply: str
    remaining: int
    until: float


class PullFetcher:
    """Fetches batches of a durable pull consumer with JetStream's pull requests
    (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`), replies collected by one callback
    subscription on an inbox of its own (each request its own reply subject below it).

    `fetch` first asks for what is there now (`no_wait`: the server sends what it has, then a
    status that ends the request), so a backlog comes in full batches. When nothing is there it
    leaves one request waiting on the server (`expires`: the fetch's timeout) and returns as soon
    as the first messages arrive, not when the batch is full, so a trickle is applied without
    waiting; what that request delivers later stays in the buffer for the next fetch. Every
    message delivered is returned by some fetch, so each is acked or redelivered after the ack
    wait, as with nats-py's fetch.

    At most one request is open at a time, so that each message delivered counts against it:
    a JetStream message arrives under its own subject, not the request's reply subject (only
    the statuses do), so the messages of two open requests could not be told apart. A request
    ends when it has delivered its batch, when a status ends it, or at its expiry (a reconnect
    loses its end)."""

    def __init__(self, js: JetStreamContext, stream: str, durable: str) -> None:
        # nats-py keeps the connection and API prefix of a JetStream context in these attributes
        # (2.16); the requests are those its own fetch sends.
        self._nc = js._nc
        self._next = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = self._nc.new_inbox()
        self._numbers = itertools.count()
        self._open: _Request | None = None
        self._buffer: deque[Msg] = deque()
        self._arrived = asyncio.Event()
        self._subscription: Any = None

    async def start(self) -> PullFetcher:
        self._subscription = await self._nc.subscribe(f"{self._inbox}.*", cb=self._received)
        return self

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _received(self, message: Msg) -> None:
        request = self._open
        status = message.headers.get(STATUS_HEADER) if message.headers else None
        if status is None:
            self._buffer.append(message)
            if request is not None:
                request.remaining -= 1
                if request.remaining <= 0:
                    self._open = None
        elif status != HEARTBEAT and request is not None and message.subject == request.reply:
            self._open = None  # 404 no messages, 408 expired, 409 ...: the request ended
        self._arrived.set()

    async def _request(self, batch: int, timeout: float, *, wait: bool) -> None:
        reply = f"{self._inbox}.{next(self._numbers)}"
        body: dict[str, Any] = {"batch": batch}
        if wait:
            body["expires"] = int(timeout * 1e9)
        else:
            body["no_wait"] = True
        self._open = _Request(reply, batch, time.monotonic() + timeout)
        await self._nc.publish(self._next, json.dumps(body).encode(), reply=reply)

    def _pending(self) -> bool:
        """Whether a request is open (forgetting one past its time: a reconnect loses its end)."""
        if self._open is not None and self._open.until < time.monotonic():
            self._open = None
        return self._open is not None

    async def _wait(self, done: Any, deadline: float) -> None:
        """Until `done()` or the deadline."""
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
            except TimeoutError:
                return

    async def fetch_now(self, batch: int, timeout: float) -> list[Msg]:
        """Up to `batch` messages of those there are now (none when there are none), without
        waiting for more to come."""
        await self._ask_now(batch, timeout, time.monotonic() + timeout)
        return self._take(batch)

    async def _ask_now(self, batch: int, timeout: float, deadline: float) -> None:
        """Ask for what is there now (unless a request is open) and wait for the answer."""
        if len(self._buffer) < batch and not self._pending():
            await self._request(batch - len(self._buffer), timeout, wait=False)
            await self._wait(lambda: len(self._buffer) >= batch or not self._pending(), deadline)

    @property
    def buffered(self) -> int:
        """Messages delivered by the server that no fetch has returned yet."""
        return len(self._buffer)

    def _take(self, batch: int) -> list[Msg]:
        buffer = self._buffer
        return [buffer.popleft() for _ in range(min(batch, len(buffer)))]

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to `batch` messages; none when none came within `timeout`."""
        deadline = time.monotonic() + timeout
        await self._ask_now(batch, timeout, deadline)
        while not self._buffer and (left := deadline - time.monotonic()) > MIN_EXPIRES:
            if not self._pending():
                await self._request(batch, left, wait=True)
            await self._wait(lambda: bool(self._buffer) or not self._pending(), deadline)
        return self._take(batch)


async def _fewer_than(writes: set[asyncio.Task[None]], limit: int) -> None:
    """Until fewer than `limit` of the writes run; the ended ones leave the set (a write that
    failed beyond its fallback raises here)."""
    while True:
        for task in [t for t in writes if t.done()]:
            writes.discard(task)
            task.result()
        if len(writes) < limit:
            return
        await asyncio.wait(writes, return_when=asyncio.FIRST_COMPLETED)


@dataclass
class _Fetched:
    messages: list[Msg]
    decoded: list[tuple[CloudEvent, EventData]] | None


@dataclass
class BatchConsumer:
    """Runs one durable consumer in batches; `consumer` gives its config, decoder and handler."""

    consumer: EventConsumer
    batch_size: int = 100
    fetch_timeout: float = 1.0
    stats: BatchStats = field(default_factory=BatchStats)
    freeze_heap: bool = False
    """`freeze_start_up` when the consumer starts (a service's batch consumers start last)."""
    writers: int | None = None
    """Batches written at once, each in its own transaction; by default the consumer's
    `writers`, one on SQLite."""

    async def run(self, js: JetStreamContext) -> None:
        """Consume until cancelled. The next batch is fetched and decoded while the current one
        is written (a task of its own, which runs while the database works), so the two
        overlap. Once a writer is free (with one writer: once the current batch is committed and
        acked), it is topped up with what came meanwhile when it is not full, and written.
        With more writers (`EventConsumer.writers`, idempotent handlers only) a batch that
        comes while another is written goes to the database at once instead of waiting for that
        one's commit; each batch is still acked after its own commit."""
        await self.consumer.ensure(js)
        if self.freeze_heap:
            freeze_start_up()
        writers = self._writers()
        fetcher = await PullFetcher(js, self.consumer.stream, self.consumer.durable).start()
        following: asyncio.Task[_Fetched] | None = None
        writes: set[asyncio.Task[None]] = set()
        try:
            batch = await self._fetch(fetcher)
            while True:
                end_if_cancelled()
                following = asyncio.create_task(self._fetch(fetcher))
                if batch.messages:
                    writes.add(asyncio.create_task(self.settle(batch.messages, batch.decoded)))
                batch = await following
                await _fewer_than(writes, writers)
                if batch.messages and len(batch.messages) < self.batch_size:
                    batch = await self._top_up(fetcher, batch)
        finally:
            for task in [following, *writes]:
                if task is not None:
                    task.cancel()
            await asyncio.gather(*writes, return_exceptions=True)
            if following is not None:
                await asyncio.gather(following, return_exceptions=True)
            await fetcher.stop()

    def _writers(self) -> int:
        """`writers`, else the consumer's; but one on SQLite, which writes one transaction at a
        time anyway (a second writer would wait for the database's lock, or fail at once when
        its transaction read first)."""
        if self.writers is not None:
            return self.writers
        bind = self.consumer.sessions.kw.get("bind")
        if bind is not None and bind.dialect.name == "sqlite":
            return 1
        return self.consumer.writers

    async def _fetch(self, fetcher: PullFetcher) -> _Fetched:
        messages = await fetcher.fetch(self.batch_size, self.fetch_timeout)
        return _Fetched(messages, self._decode(messages))

    async def _top_up(self, fetcher: PullFetcher, batch: _Fetched) -> _Fetched:
        """A batch fetched while the previous one was written, with what came since: under a
        steady trickle the fetch ends early in the write, and what comes during the rest of it
        would otherwise wait for the next batch's write too."""
        more = await fetcher.fetch_now(self.batch_size - len(batch.messages), self.fetch_timeout)
        if not more:
            return batch
        decoded = self._decode(more)
        return _Fetched(
            batch.messages + more,
            None if batch.decoded is None or decoded is None else batch.decoded + decoded,
        )

    def _decode(self, messages: list[Msg]) -> list[tuple[CloudEvent, EventData]] | None:
        """The batch's events; None when one cannot be decoded (`apply` then raises for it, and
        the one-at-a-time fallback dead-letters it)."""
        decode = self.consumer.decode_one_type
        try:
            return [decode(message.data) for message in messages]
        except Exception:  # any failure is the fallback's to name
            return None

    async def settle(
        self, messages: list[Msg], decoded: list[tuple[CloudEvent, EventData]] | None = None
    ) -> None:
        """Apply a fetched batch (`decoded`: its events, when decoded already) and ack it after
        the commit; on failure, one message at a time."""
        self.stats.batches += 1
        try:
            if not tracing.active:
                await self.apply(messages, decoded)
            else:
                await self._apply_traced(messages, decoded)
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

    async def _apply_traced(
        self, messages: list[Msg], decoded: list[tuple[CloudEvent, EventData]] | None
    ) -> None:
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
            await self.apply(messages, decoded)

    async def apply(
        self, messages: list[Msg], decoded: list[tuple[CloudEvent, EventData]] | None = None
    ) -> None:
        """Every message of the batch and its inbox row in one transaction; raises on any error.
        Events that the consumer's `wanted` declines are left out first (no inbox row); a batch
        of only those opens no transaction."""
        consumer = self.consumer
        if decoded is None:  # not decoded yet, or one failed: this raises for it
            decoded = [consumer.decode_one_type(message.data) for message in messages]
        skipped = 0
        if consumer.wanted is not None:
            kept = [(e, d) for e, d in decoded if await consumer.has_work(d, e)]
            skipped, decoded = len(decoded) - len(kept), kept
            CONSUMER_MESSAGES.labels(consumer.durable, "skipped").inc(skipped)
            if not decoded:
                return
        statement_sessions = consumer.statement_sessions()
        if statement_sessions is not None and consumer.batch_handler is not None:
            # One statement, atomic by itself: no BEGIN and COMMIT around it.
            fresh = self._fresh(decoded, {envelope.id for envelope, _ in decoded})
            async with statement_sessions() as session:
                if fresh:
                    _set_context(fresh[-1][1])
                    await consumer.batch_handler(session, fresh)
            self._count(len(messages) - skipped, len(fresh))
            return
        async with consumer.sessions() as session, session.begin():
            if consumer.idempotent and consumer.batch_handler is not None:
                new_ids = {envelope.id for envelope, _ in decoded}
            else:
                new_ids = await claim_inbox(session, consumer.inbox, consumer.durable, decoded)
            fresh = self._fresh(decoded, new_ids)
            if fresh:
                _set_context(fresh[-1][1])
                if consumer.batch_handler is not None:
                    await consumer.batch_handler(session, fresh)
                else:
                    for data, envelope in fresh:
                        _set_context(envelope)
                        await consumer.handler(session, data, envelope)
        self._count(len(messages) - skipped, len(fresh))
        if wants_wake(session):
            consumer.after_commit()

    def _fresh(
        self, decoded: list[tuple[CloudEvent, EventData]], new_ids: set[str]
    ) -> list[tuple[EventData, CloudEvent]]:
        """The events of `decoded` to apply, in order: those whose id is in `new_ids` (claimed
        in the inbox, or all of them for an idempotent handler), each once."""
        fresh: list[tuple[EventData, CloudEvent]] = []
        for envelope, data in decoded:
            if envelope.id not in new_ids:  # a redelivery, or a second copy in this batch
                self.stats.duplicates += 1
                continue
            new_ids.discard(envelope.id)
            fresh.append((data, envelope))
        return fresh

    def _count(self, handled: int, applied: int) -> None:
        durable = self.consumer.durable
        self.stats.applied += applied
        CONSUMER_MESSAGES.labels(durable, "applied").inc(applied)
        CONSUMER_MESSAGES.labels(durable, "duplicate").inc(handled - applied)


def _set_context(envelope: CloudEvent) -> None:
    """The log context of the event being applied (a batch's: its last event's)."""
    correlation_id_var.set(envelope.correlationid)
    organisation_id_var.set(envelope.orgid)
    traceparent_var.set(envelope.traceparent)


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
    runner = BatchConsumer(consumer, batch_size=batch_size, freeze_heap=True)
    return asyncio.create_task(runner.run(js), name=f"{consumer.durable}-batches")


ONE_AT_A_TIME_FETCH = 10
"""Messages an ordinary consumer asks for at once: they are still applied one at a time, each
acked after its own commit; a burst (a command's two events) then needs one pull request."""


@dataclass
class OneAtATimeConsumer:
    """Runs an ordinary consumer (`batch_size` 1) on `PullFetcher`, one message after another
    through `EventConsumer.handle`: its transaction, its span, its ack after the commit, its
    retries and dead letters as under FastStream's subscriber, in the same order, without that
    subscriber's per-message path (about 0.25 to 0.45 ms of CPU an event, docs/performance.md)."""

    consumer: EventConsumer
    fetcher: PullFetcher
    fetch_timeout: float = 1.0

    @classmethod
    async def start(cls, consumer: EventConsumer, js: JetStreamContext) -> OneAtATimeConsumer:
        """Subscribed to its pull replies: the server delivers to it once `run` asks."""
        return cls(consumer, await PullFetcher(js, consumer.stream, consumer.durable).start())

    async def run(self) -> None:
        """Consume until cancelled; a message cancelled while applied is not acked, so it is
        delivered again (the inbox keeps it from being applied twice)."""
        try:
            while True:
                try:
                    messages = await self.fetcher.fetch(ONE_AT_A_TIME_FETCH, self.fetch_timeout)
                except Exception:  # the connection is down: its reconnect is nats-py's
                    log.exception("fetch failed", extra={"consumer": self.consumer.durable})
                    await pause(self.fetch_timeout)
                    continue
                end_if_cancelled()
                for message in messages:
                    await self._handle(message)
        finally:
            await self.fetcher.stop()

    async def _handle(self, message: Msg) -> None:
        """`handle` settles every failure of the handler; what is left (the ack or dead letter
        lost with the connection) leaves the message to be delivered again, as FastStream's
        subscriber did, and must not end the loop."""
        try:
            await self.consumer.handle(message)
        except Exception:
            log.exception(
                "could not settle a message; it is delivered again after the ack wait",
                extra={"consumer": self.consumer.durable},
            )
