"""Every query of the content service. Each one filters by organisation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_content.models import PostAttemptRecord, PostRecord, tenants
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)


# --- Posts ---------------------------------------------------------------------------------------


class PostRepository:
    """The organisation's posts and their attempts."""

    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    def add(self, record: PostRecord | PostAttemptRecord) -> None:
        self.session.add(record)

    async def get(self, post_id: UUID) -> PostRecord | None:
        query = select(PostRecord).where(
            PostRecord.organisation_id == self.organisation_id, PostRecord.id == post_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def locked(self, post_id: UUID) -> PostRecord | None:
        """The post, read after taking its row's write lock until the transaction ends: a
        concurrent command or publisher waits, then reads what the first committed."""
        await self.session.execute(
            update(PostRecord)
            .where(
                col(PostRecord.organisation_id) == self.organisation_id,
                col(PostRecord.id) == post_id,
            )
            .values(attempts=PostRecord.attempts)
            .execution_options(synchronize_session=False)
        )
        query = (
            select(PostRecord)
            .where(PostRecord.organisation_id == self.organisation_id, PostRecord.id == post_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def page(
        self, ambassador_id: UUID | None, state: str | None, limit: int, after: UUID | None
    ) -> list[PostRecord]:
        query = select(PostRecord).where(PostRecord.organisation_id == self.organisation_id)
        if ambassador_id is not None:
            query = query.where(PostRecord.ambassador_id == ambassador_id)
        if state is not None:
            query = query.where(PostRecord.state == state)
        if after is not None:
            query = query.where(col(PostRecord.id) > after)
        query = query.order_by(col(PostRecord.id)).limit(limit + 1)
        return list((await self.session.execute(query)).scalars())

    async def open_of(self, ambassador_id: UUID, created_before: datetime) -> list[UUID]:
        """The ambassador's posts not yet live nor ended, written before a time."""
        query = select(PostRecord.id).where(
            PostRecord.organisation_id == self.organisation_id,
            PostRecord.ambassador_id == ambassador_id,
            col(PostRecord.state).in_(("draft", "scheduled", "failed")),
            col(PostRecord.created_at) <= created_before,
        )
        return list((await self.session.execute(query)).scalars())

    async def of_ambassador(self, ambassador_id: UUID) -> list[PostRecord]:
        query = select(PostRecord).where(
            PostRecord.organisation_id == self.organisation_id,
            PostRecord.ambassador_id == ambassador_id,
        )
        return list((await self.session.execute(query)).scalars())

    async def delete_of_ambassador(self, ambassador_id: UUID) -> None:
        for table in (PostAttemptRecord, PostRecord):
            await self.session.execute(
                delete(table).where(
                    col(table.organisation_id) == self.organisation_id,
                    col(table.ambassador_id) == ambassador_id,
                )
            )

    async def latest_attempt(self, post_id: UUID) -> PostAttemptRecord | None:
        query = (
            select(PostAttemptRecord)
            .where(
                PostAttemptRecord.organisation_id == self.organisation_id,
                PostAttemptRecord.post_id == post_id,
            )
            .order_by(col(PostAttemptRecord.number).desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def attempt_count(self, post_id: UUID) -> int:
        query = select(func.count()).where(
            PostAttemptRecord.organisation_id == self.organisation_id,
            PostAttemptRecord.post_id == post_id,
        )
        return int((await self.session.execute(query)).scalar_one())

    async def dismiss_doubtful(self, post_id: UUID) -> None:
        """Attempts whose outcome is unknown become `dismissed` (a person checked)."""
        await self.session.execute(
            update(PostAttemptRecord)
            .where(
                col(PostAttemptRecord.organisation_id) == self.organisation_id,
                col(PostAttemptRecord.post_id) == post_id,
                col(PostAttemptRecord.outcome).in_(("pending", "unknown")),
            )
            .values(outcome="dismissed")
            .execution_options(synchronize_session=False)
        )

    async def attempt(self, attempt_id: UUID) -> PostAttemptRecord | None:
        query = select(PostAttemptRecord).where(
            PostAttemptRecord.organisation_id == self.organisation_id,
            PostAttemptRecord.id == attempt_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def first_attempt_at(self, post_id: UUID, outcomes: Iterable[str]) -> datetime | None:
        """When the post's first attempt with one of these outcomes started."""
        query = select(func.min(PostAttemptRecord.started_at)).where(
            PostAttemptRecord.organisation_id == self.organisation_id,
            PostAttemptRecord.post_id == post_id,
            col(PostAttemptRecord.outcome).in_(tuple(outcomes)),
        )
        found: datetime | None = (await self.session.execute(query)).scalar_one_or_none()
        return found

    async def attempts_since(self, ambassador_id: UUID, since: datetime) -> int:
        """Calls made for the ambassador since a time (their daily budget)."""
        query = select(func.count()).where(
            PostAttemptRecord.organisation_id == self.organisation_id,
            PostAttemptRecord.ambassador_id == ambassador_id,
            col(PostAttemptRecord.started_at) >= since,
            PostAttemptRecord.outcome != "not_sent",
        )
        return int((await self.session.execute(query)).scalar_one())

    async def due_reminders(self, now: datetime, limit: int) -> list[PostRecord]:
        query = (
            select(PostRecord)
            .where(
                PostRecord.organisation_id == self.organisation_id,
                PostRecord.path == "manual",
                PostRecord.state == "scheduled",
                col(PostRecord.scheduled_at) <= now,
                col(PostRecord.reminded_at).is_(None),
            )
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())


async def due_posts(session: AsyncSession, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    """The publisher's scan, across organisations (it then acts within each post's own):
    (organisation, post) of posts due on the API path (scheduled, or in doubt after a crash or an
    unknown outcome), soonest first."""
    query = (
        select(PostRecord.organisation_id, PostRecord.id)
        .where(
            PostRecord.path == "api",
            col(PostRecord.state).in_(("scheduled", "posting")),
            col(PostRecord.next_attempt_at) <= now,
        )
        .order_by(col(PostRecord.next_attempt_at))
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def organisations_with_due_reminders(
    session: AsyncSession, now: datetime, limit: int
) -> list[UUID]:
    """Organisations with a manual-path post due and not yet reminded (the publisher's scan)."""
    query = (
        select(PostRecord.organisation_id)
        .where(
            PostRecord.path == "manual",
            PostRecord.state == "scheduled",
            col(PostRecord.scheduled_at) <= now,
            col(PostRecord.reminded_at).is_(None),
        )
        .distinct()
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def attempts_since_everywhere(session: AsyncSession, since: datetime) -> int:
    """Calls made by this service since a time, every organisation (the app's daily budget)."""
    query = select(func.count()).where(
        col(PostAttemptRecord.started_at) >= since, PostAttemptRecord.outcome != "not_sent"
    )
    return int((await session.execute(query)).scalar_one())
