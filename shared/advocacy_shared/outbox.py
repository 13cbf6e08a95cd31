"""The transactional outbox: events are written with the state change and published by a relay.

Writing: `Outbox.add` refuses an event larger than `MAX_EVENT_BYTES` inside the caller's
transaction (`EventTooLarge`, answered as a 422), so a row that NATS could never carry is never
written.

Relaying, in order and without holding a transaction across the network:
1. take the service's relay turn, only when an unsent, unparked row waits (on PostgreSQL an
   advisory lock on the outbox table asked for in the same statement that looks for a waiting
   row, so any number of replicas publish one outbox one pass at a time; on SQLite an asyncio
   lock and a lock file after a look);
2. read the oldest unsent, unparked rows;
3. publish them one by one with `Nats-Msg-Id` = event id (JetStream drops a second publish inside
   the duplicate window; consumers' inboxes cover the rest), no transaction open;
4. mark the published ones sent (on PostgreSQL one statement whose commit does not wait for the
   disk), then give the turn back. On PostgreSQL the whole pass runs on one pooled connection in
   autocommit: four statements, none a BEGIN or a COMMIT.

A row that fails for a reason that affects everything (NATS down, a timeout) stops the pass, so
order holds, and is tried again. A row that can never be published (`MaxPayloadError`, or
`park_after` refusals by the server) is *parked*: kept with its reason, logged at ERROR, counted,
listed by `outbox_records.parked_events`, and skipped, so the rows behind it go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import APIError, ServiceUnavailableError
from sqlalchemy import Row, Select, Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from advocacy_shared import tracing
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.errors import Invalid
from advocacy_shared.contracts.limits import MAX_EVENT_BYTES
from advocacy_shared.db import LeanStatement, read_session_factory
from advocacy_shared.envelope import CloudEvent, new_id, utc_now
from advocacy_shared.lifecycle import first_pass_in, woken
from advocacy_shared.logs import correlation_id_var, traceparent_var
from advocacy_shared.outbox_records import prune
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.telemetry import OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED
from advocacy_shared.topology import Topology

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"

UNPUBLISHABLE: tuple[type[Exception], ...] = (
    nats.errors.MaxPayloadError,
    nats.errors.BadSubjectError,
    nats.errors.BadHeaderError,
)
"""Errors that no retry can mend: the row is parked at the first one."""

RELAY_LOCK_CLASS = 0x0AD0
"""The first key of the relay's advisory lock; the second is the outbox table's oid."""


class EventTooLarge(Invalid):
    """The event would not fit in one message: refused where it is written, never relayed."""


_ADDED_EVENTS = "advocacy_outbox_added"


def added_events(session: AsyncSession) -> bool:
    """Whether this session wrote outbox rows: only then is the relay worth waking at commit (a
    wake costs the relay a query, which every read would otherwise pay for)."""
    return bool(session.info.get(_ADDED_EVENTS))


_WRITTEN = ("id", "organisation_id", "subject", "payload", "created_at", "attempts")
"""The columns an event's row is written with."""


class Outbox:
    """Writes events into the outbox table inside the caller's transaction."""

    def __init__(
        self, table: Table, topology: Topology, source: str, max_bytes: int = MAX_EVENT_BYTES
    ) -> None:
        self.table = table
        self.topology = topology
        self.source = source
        self.max_bytes = max_bytes
        self._insert = LeanStatement(
            table.insert().values({name: bindparam(name) for name in _WRITTEN})
        )

    async def add(
        self,
        session: AsyncSession,
        data: EventData,
        organisation_id: UUID | str,
        subject: str | None = None,
    ) -> CloudEvent:
        (envelope,) = await self.add_all(session, [(data, subject)], organisation_id)
        return envelope

    async def add_all(
        self,
        session: AsyncSession,
        facts: Sequence[tuple[EventData, str | None]],
        organisation_id: UUID | str,
    ) -> list[CloudEvent]:
        """Several events of one organisation (each with its CloudEvents subject), in this
        order, written in one round trip: a command that emits two facts makes one for them,
        not two. One prepared INSERT run for each row (the driver's executemany), not one
        statement of several VALUES rows: SQLAlchemy 2.1 gives such a statement no cache key and
        compiles it again on every call (docs/performance.md). Each event's time is later than
        the one before it (by a microsecond when the clock has not moved), so the relay, which
        sends by time, keeps their order."""
        envelopes, rows = [], []
        previous: datetime | None = None
        for data, subject in facts:
            time = utc_now()
            if previous is not None and time <= previous:
                time = previous + timedelta(microseconds=1)
            previous = time
            envelope, payload = self._envelope(data, organisation_id, subject, time)
            envelopes.append(envelope)
            rows.append(
                {
                    "id": envelope.id,
                    "organisation_id": envelope.orgid,
                    "subject": data.spec.subject(self.topology),
                    "payload": payload.decode(),
                    "created_at": envelope.time,
                    "attempts": 0,
                }
            )
        if rows:
            session.info[_ADDED_EVENTS] = True
            await self._insert.many(session, rows)
        return envelopes

    def _envelope(
        self, data: EventData, organisation_id: UUID | str, subject: str | None, time: datetime
    ) -> tuple[CloudEvent, bytes]:
        """The event's envelope and its bytes; `EventTooLarge` when they would not fit."""
        envelope = CloudEvent(
            time=time,
            source=self.source,
            type=data.spec.type,
            subject=subject,
            data=data.model_dump(mode="json"),
            orgid=str(organisation_id),
            correlationid=correlation_id_var.get() or new_id(),
            traceparent=tracing.current_traceparent() if tracing.active else traceparent_var.get(),
        )
        payload = envelope.to_bytes()
        if len(payload) > self.max_bytes:
            log.error(
                "event refused: too large for the outbox",
                extra={"event_type": data.spec.type, "bytes": len(payload), "max": self.max_bytes},
            )
            raise EventTooLarge(
                f"the {data.spec.type} event would be {len(payload)} bytes; "
                f"at most {self.max_bytes} are allowed",
                {"event_type": data.spec.type, "bytes": len(payload), "max_bytes": self.max_bytes},
            )
        return envelope, payload

    async def forget(self, session: AsyncSession, organisation_id: str, mention: str) -> int:
        """Delete an organisation's events that mention `mention` (an erased person's id),
        published or not, in the erasure's transaction.

        Only for a service whose events that name a person are about that person alone (the
        ambassadors service's): an unpublished one is a fact the erasure supersedes, and would
        otherwise be published after it and kept here with the person's data. Published ones
        have reached the stream. A row the relay is sending at that moment still reaches the
        stream, and its mark as sent finds no row."""
        result = await session.execute(
            delete(self.table).where(
                self.table.c.organisation_id == organisation_id,
                self.table.c.payload.contains(mention, autoescape=True),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0
    failures: int = 0
    parked: int = 0


@dataclass(frozen=True)
class Retention:
    """What the relay prunes between passes: sent outbox rows and inbox rows older than
    `older_than` (which must exceed the stream's duplicate window), every `every` seconds."""

    inbox: Table
    older_than: timedelta
    every: float = 3600.0

    @classmethod
    def of(cls, settings: ServiceSettings, inbox: Table) -> Retention:
        return cls(inbox=inbox, older_than=timedelta(seconds=settings.messaging_retention_seconds))


class OutboxRelay:
    """Publishes unsent outbox rows to JetStream, oldest first; woken after commits, else polls."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        *,
        interval: float = 1.0,
        batch_size: int = 200,
        publish_timeout: float = 5.0,
        park_after: int = 5,
        retention: Retention | None = None,
        name: str = "service",
    ) -> None:
        """`name`: the service whose outbox this is, as its metrics label it."""
        self.sessions = sessions
        self.table = table
        self.interval = interval
        self.batch_size = batch_size
        self.publish_timeout = publish_timeout
        self.park_after = park_after
        self.retention = retention
        self.stats = RelayStats()
        self._published = OUTBOX_PUBLISHED.labels(name)
        self._failed = OUTBOX_PUBLISH_FAILURES.labels(name)
        self.js: JetStreamContext | None = None
        self._wake = asyncio.Event()
        self._prune_at: float | None = None
        self._read_sessions: async_sessionmaker[AsyncSession] | None = None
        self._sql: _RelaySql | None = None

    def wake(self) -> None:
        """Start a pass soon, on the loop's next turn rather than at once.

        Woken right after a commit, the relay would otherwise run its pass's first step (a pool
        checkout, the lock's statement) before the reply or ack that the same commit allows has
        left: nats-py writes those from a flusher task that the publish wakes only afterwards. One
        turn later the reply goes first, and the relay's pass overlaps the caller's next request.
        """
        try:
            asyncio.get_running_loop().call_soon(self._wake.set)
        except RuntimeError:  # no loop runs here (a test's set-up): nothing waits yet
            self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled. Never raises: a failure is logged and the rows stay unsent."""
        while True:
            try:
                sent = await self.publish_pending()
                await self._prune_when_due()
            except Exception:
                log.exception("outbox relay pass failed; unsent rows stay for the next pass")
                sent = 0
            if sent >= self.batch_size:
                continue
            await woken(self._wake, self.interval)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish up to a batch of unsent rows in order, when this relay has the turn.

        Parked rows are skipped; a row that fails for a passing reason ends the pass, to keep
        the order of the rows behind it.
        """
        if self.js is None:
            raise RuntimeError("the relay has no JetStream context yet")
        engine = _engine_of(self.sessions)
        if engine.dialect.name == "postgresql":
            published = await self._pass_on_postgresql(engine)
        else:
            published = await self._pass_elsewhere(engine)
        self.stats.published += len(published)
        self._published.inc(len(published))
        return len(published)

    async def _pass_on_postgresql(self, engine: AsyncEngine) -> list[str]:
        """One pass on one pooled connection, its four statements sent straight to asyncpg
        (prepared once per connection, no SQLAlchemy execution path, no BEGIN or COMMIT: each
        statement is its own transaction): the relay's advisory lock, taken only when a row
        waits (an idle outbox costs that one statement); the rows; the publishes, while the
        connection sits idle holding the lock; the rows marked sent in one statement whose
        commit does not wait for the disk (`_RelaySql`); the lock given back. A session-level
        advisory lock needs no transaction; a relay that dies loses it with its connection."""
        sql = self._postgresql_statements(engine)
        key = (RELAY_LOCK_CLASS, self.table.name)
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            if not await driver.fetchval(sql.lock, *key):  # None: nothing waits; False: busy
                return []
            published: list[str] = []
            try:
                rows = [_Pending(*row) for row in await driver.fetch(sql.pending, self.batch_size)]
                try:
                    await self._publish_rows(rows, published)
                finally:
                    if published:
                        await driver.execute(sql.mark_sent, utc_now(), published)
            finally:
                await driver.fetchval(sql.unlock, *key)
        return published

    def _postgresql_statements(self, engine: AsyncEngine) -> _RelaySql:
        if self._sql is None:
            self._sql = _RelaySql.of(engine.dialect.identifier_preparer.format_table(self.table))
        return self._sql

    async def _pass_elsewhere(self, engine: AsyncEngine) -> list[str]:
        published: list[str] = []
        async with self._reads() as session:  # an idle outbox costs one query, not a lock
            if (await session.execute(self._pending_query().limit(1))).first() is None:
                return published
        async with _local_lock(engine, self.table):
            with _file_lock(engine, self.table) as mine:
                if not mine:
                    return published
                async with self._reads() as session:
                    rows = (await session.execute(self._pending_query())).all()
                try:
                    await self._publish_rows(rows, published)
                finally:
                    await self._mark_sent(published)
        return published

    async def _publish_rows(self, rows: Sequence[Any], published: list[str]) -> None:
        """Publish `rows` in order, adding the sent ones' ids to `published`; a failure that
        is not the row's own stops at that row."""
        for row in rows:
            outcome = await self._publish(row)
            if outcome == "sent":
                published.append(row.id)
            elif outcome == "failed":
                break

    async def _publish(self, row: _Pending | Row[Any]) -> str:
        if not tracing.active:
            return await self._publish_row(row, {MSG_ID_HEADER: row.id})
        payload = row.payload.encode()
        with tracing.span(
            f"publish {row.subject}",
            "producer",
            parent=tracing.in_event(payload),
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "publish",
                "messaging.destination.name": row.subject,
                "messaging.message.id": row.id,
            },
        ):
            headers = {MSG_ID_HEADER: row.id}
            tracing.inject(headers)
            return await self._publish_row(row, headers)

    async def _publish_row(self, row: _Pending | Row[Any], headers: dict[str, str]) -> str:
        """Publish one row with `headers`: sent, failed (the pass stops) or parked."""
        assert self.js is not None
        try:
            ack = await self.js.publish(
                row.subject, row.payload.encode(), timeout=self.publish_timeout, headers=headers
            )
        except Exception as exc:
            self.stats.failures += 1
            self._failed.inc()
            if isinstance(exc, UNPUBLISHABLE) or (
                _refused_by_server(exc) and row.attempts + 1 >= self.park_after
            ):
                await self._park(row, exc)
                return "parked"
            await self._record_failure(row.id, exc)
            return "failed"
        if ack.duplicate:
            self.stats.duplicates += 1
        return "sent"

    def _reads(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for the relay's reads: no transaction (`read_session_factory`); under the
        relay's turn no other relay changes the rows it reads."""
        if self._read_sessions is None:
            self._read_sessions = read_session_factory(_engine_of(self.sessions))
        return self._read_sessions()

    def _pending_query(self) -> Select[Any]:
        table = self.table
        return (
            select(table.c.id, table.c.subject, table.c.payload, table.c.attempts)
            .where(table.c.published_at.is_(None), table.c.parked_at.is_(None))
            .order_by(table.c.created_at, table.c.id)
            .limit(self.batch_size)
        )

    async def _mark_sent(self, ids: Sequence[str]) -> None:
        """Mark rows sent (the relay's path on SQLite)."""
        if not ids:
            return
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(self.table)
                .where(self.table.c.id.in_(ids))
                .values(published_at=utc_now(), attempts=self.table.c.attempts + 1)
            )

    async def _record_failure(self, row_id: str, exc: Exception) -> None:
        log.warning(
            "outbox publish failed, will retry",
            extra={"event_id": row_id, "error": type(exc).__name__},
        )
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(self.table)
                .where(self.table.c.id == row_id)
                .values(attempts=self.table.c.attempts + 1, last_error=_reason(exc))
            )

    async def _park(self, row: _Pending | Row[Any], exc: Exception) -> None:
        self.stats.parked += 1
        log.error(
            "outbox event parked: it can never be published; the rows after it go on",
            extra={
                "event_id": row.id,
                "subject": row.subject,
                "bytes": len(row.payload.encode()),
                "reason": _reason(exc),
            },
        )
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(self.table)
                .where(self.table.c.id == row.id)
                .values(
                    attempts=self.table.c.attempts + 1,
                    last_error=_reason(exc),
                    parked_at=utc_now(),
                )
            )

    async def _prune_when_due(self) -> None:
        if self.retention is None:
            return
        now = asyncio.get_running_loop().time()
        if self._prune_at is None:
            self._prune_at = now + first_pass_in(self.retention.every)
        if now < self._prune_at:
            return
        self._prune_at = now + self.retention.every
        await prune(self.sessions, self.table, self.retention.inbox, self.retention.older_than)


@dataclass(frozen=True)
class _Pending:
    """An unsent row, as the relay publishes it."""

    id: str
    subject: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class _RelaySql:
    """The relay's statements on PostgreSQL, for asyncpg (`$n` parameters)."""

    lock: str
    pending: str
    mark_sent: str
    unlock: str

    @classmethod
    def of(cls, outbox: str) -> _RelaySql:
        """`outbox`: the table's quoted name. The lock's key is `RELAY_LOCK_CLASS` and the table's
        oid; the lock is asked for only when an unsent, unparked row waits (else no row). Marking
        sent sets `synchronous_commit` off for its own transaction only (`set_config(..., true)`
        in its FROM): if the database loses that commit in a crash, the rows are published again,
        and JetStream's duplicate window (`Nats-Msg-Id`) and the consumers' inboxes drop the
        second copy; one fsync fewer per relayed write."""
        waiting = "published_at IS NULL AND parked_at IS NULL"
        key = "$1, CAST(CAST($2::text AS regclass) AS oid)::int"
        pending = f"SELECT id, subject, payload, attempts FROM {outbox} WHERE {waiting}"  # noqa: S608
        mark_sent = f"UPDATE {outbox} SET published_at = $1, attempts = attempts + 1"  # noqa: S608
        return cls(
            lock=f"SELECT pg_try_advisory_lock({key}) WHERE EXISTS ({pending})",
            pending=f"{pending} ORDER BY created_at, id LIMIT $1",
            mark_sent=f"{mark_sent} FROM (SELECT set_config('synchronous_commit', 'off', true) "
            "AS setting) AS durability WHERE id = ANY($2::varchar[]) "
            "AND durability.setting IS NOT NULL",
            unlock=f"SELECT pg_advisory_unlock({key})",
        )


def _refused_by_server(exc: Exception) -> bool:
    """JetStream answered with an error about this message (not "unavailable, try later")."""
    return isinstance(exc, APIError) and not isinstance(exc, ServiceUnavailableError)


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("the relay's session factory must be bound to an engine")
    return engine


@contextlib.contextmanager
def _file_lock(engine: AsyncEngine, table: Table) -> Iterator[bool]:
    """Whether this process holds the relay's lock file of a SQLite database (True without a
    file: an in-memory database belongs to one process)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield True
        return
    path = f"{database}.{table.name}.relay-lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_LOCAL_LOCKS: dict[tuple[str, str, int], asyncio.Lock] = {}


def _local_lock(engine: AsyncEngine, table: Table) -> asyncio.Lock:
    """Relays of one SQLite outbox in one process (and event loop) take turns."""
    key = (engine.url.render_as_string(), table.name, id(asyncio.get_running_loop()))
    return _LOCAL_LOCKS.setdefault(key, asyncio.Lock())
