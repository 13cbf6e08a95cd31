"""The outbox's rows for operators and `/status`: backlog, parked rows, and retention.

`outbox_status` and `parked_events` are what an operator (`advocacy deadletters parked SERVICE`)
and a status page read; `unpark` puts a parked row back in line once its cause is mended; `prune`
is the retention the relay runs between passes (sent outbox rows and inbox rows past their age).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from advocacy_shared.envelope import utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxStatus:
    backlog: int
    """Rows not yet published (parked ones excluded)."""
    oldest_pending_at: datetime | None
    parked: int


@dataclass(frozen=True)
class ParkedEvent:
    id: str
    organisation_id: str
    subject: str
    bytes: int
    attempts: int
    reason: str | None
    created_at: datetime
    parked_at: datetime


async def outbox_status(sessions: async_sessionmaker[AsyncSession], table: Table) -> OutboxStatus:
    """The outbox's backlog, its oldest unsent row and the number of parked rows."""
    async with sessions() as session:
        pending = (
            await session.execute(
                select(func.count(), func.min(table.c.created_at)).where(
                    table.c.published_at.is_(None), table.c.parked_at.is_(None)
                )
            )
        ).one()
        parked = (
            await session.execute(select(func.count()).where(table.c.parked_at.is_not(None)))
        ).scalar_one()
    return OutboxStatus(backlog=int(pending[0]), oldest_pending_at=pending[1], parked=int(parked))


async def parked_events(
    sessions: async_sessionmaker[AsyncSession], table: Table, limit: int = 100
) -> list[ParkedEvent]:
    """Parked rows, oldest first, with their reason: what an operator must look at."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(table)
                .where(table.c.parked_at.is_not(None))
                .order_by(table.c.parked_at, table.c.id)
                .limit(limit)
            )
        ).all()
    return [
        ParkedEvent(
            id=row.id,
            organisation_id=row.organisation_id,
            subject=row.subject,
            bytes=len(row.payload.encode()),
            attempts=row.attempts,
            reason=row.last_error,
            created_at=row.created_at,
            parked_at=row.parked_at,
        )
        for row in rows
    ]


async def unpark(sessions: async_sessionmaker[AsyncSession], table: Table, event_id: str) -> bool:
    """Put a parked row back in line (after the cause was mended, e.g. NATS' max_payload)."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(table)
            .where(table.c.id == event_id, table.c.parked_at.is_not(None))
            .values(parked_at=None, attempts=0)
        )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Table,
    inbox: Table,
    older_than: timedelta,
) -> Pruned:
    """Delete sent outbox rows and inbox rows older than `older_than`; parked rows stay.

    `older_than` must exceed the stream's duplicate window: inside it JetStream drops a second
    publish of an event, beyond it only the inbox row recognises a copy.
    """
    cutoff = utc_now() - older_than
    async with sessions() as session, session.begin():
        sent = await session.execute(
            delete(outbox).where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
        )
        received = await session.execute(delete(inbox).where(inbox.c.received_at < cutoff))
    pruned = Pruned(
        outbox=int(getattr(sent, "rowcount", 0) or 0),
        inbox=int(getattr(received, "rowcount", 0) or 0),
    )
    if pruned.outbox or pruned.inbox:
        log.info("messaging rows pruned", extra={"outbox": pruned.outbox, "inbox": pruned.inbox})
    return pruned
