"""The transactional outbox: events are written with the state change and published by a relay.

The relay publishes each row with `Nats-Msg-Id` set to the event id, so JetStream drops a second
publish of the same event inside the stream's duplicate window; consumers' inboxes cover the rest.
A row that fails to publish (NATS down, timeout) stays unsent and is swept again later, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from uuid import UUID

from nats.js import JetStreamContext
from sqlalchemy import Select, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from advocacy_shared.contracts.base import EventData
from advocacy_shared.envelope import CloudEvent, new_id, utc_now
from advocacy_shared.logs import correlation_id_var, traceparent_var
from advocacy_shared.topology import Topology

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"


_ADDED_EVENTS = "advocacy_outbox_added"


def added_events(session: AsyncSession) -> bool:
    """Whether this session wrote outbox rows: only then is the relay worth waking at commit (a
    wake costs the relay a query, which every read would otherwise pay for)."""
    return bool(session.info.get(_ADDED_EVENTS))


class Outbox:
    """Writes events into the outbox table inside the caller's transaction."""

    def __init__(self, table: Table, topology: Topology, source: str) -> None:
        self.table = table
        self.topology = topology
        self.source = source

    async def add(
        self,
        session: AsyncSession,
        data: EventData,
        organisation_id: UUID | str,
        subject: str | None = None,
    ) -> CloudEvent:
        envelope = CloudEvent(
            source=self.source,
            type=data.spec.type,
            subject=subject,
            data=data.model_dump(mode="json"),
            orgid=str(organisation_id),
            correlationid=correlation_id_var.get() or new_id(),
            traceparent=traceparent_var.get(),
        )
        session.info[_ADDED_EVENTS] = True
        await session.execute(
            self.table.insert().values(
                id=envelope.id,
                organisation_id=envelope.orgid,
                subject=data.spec.subject(self.topology),
                payload=envelope.to_bytes().decode(),
                created_at=envelope.time,
                attempts=0,
            )
        )
        return envelope

    async def forget_published(
        self, session: AsyncSession, organisation_id: str, mention: str
    ) -> int:
        """Delete published events of an organisation that mention `mention` (an erased person's
        id): they have reached the stream, and the outbox need not keep them."""
        result = await session.execute(
            delete(self.table).where(
                self.table.c.organisation_id == organisation_id,
                self.table.c.published_at.is_not(None),
                self.table.c.payload.contains(mention, autoescape=True),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0
    failures: int = 0


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
    ) -> None:
        self.sessions = sessions
        self.table = table
        self.interval = interval
        self.batch_size = batch_size
        self.publish_timeout = publish_timeout
        self.stats = RelayStats()
        self.js: JetStreamContext | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled. Never raises: a failure is logged and the rows stay unsent."""
        while True:
            try:
                sent = await self.publish_pending()
            except Exception:
                log.exception("outbox relay pass failed; unsent rows stay for the next pass")
                sent = 0
            if sent >= self.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish up to a batch of unsent rows; stop at the first failure, to keep their order."""
        if self.js is None:
            raise RuntimeError("the relay has no JetStream context yet")
        published = 0
        async with self.sessions() as session, session.begin():
            rows = (await session.execute(self._pending_query())).all()
            for row in rows:
                try:
                    ack = await self.js.publish(
                        row.subject,
                        row.payload.encode(),
                        timeout=self.publish_timeout,
                        headers={MSG_ID_HEADER: row.id},
                    )
                except Exception as exc:
                    self.stats.failures += 1
                    await self._record_failure(session, row.id, exc)
                    log.warning(
                        "outbox publish failed, will retry",
                        extra={"event_id": row.id, "error": type(exc).__name__},
                    )
                    break
                if ack.duplicate:
                    self.stats.duplicates += 1
                await session.execute(
                    update(self.table)
                    .where(self.table.c.id == row.id)
                    .values(published_at=utc_now(), attempts=self.table.c.attempts + 1)
                )
                published += 1
        self.stats.published += published
        return published

    def _pending_query(self) -> Select[tuple[str, str, str]]:
        table = self.table
        return (
            select(table.c.id, table.c.subject, table.c.payload)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.created_at, table.c.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )

    async def _record_failure(self, session: AsyncSession, row_id: str, exc: Exception) -> None:
        await session.execute(
            update(self.table)
            .where(self.table.c.id == row_id)
            .values(
                attempts=self.table.c.attempts + 1,
                last_error=f"{type(exc).__name__}: {exc}"[:500],
            )
        )
