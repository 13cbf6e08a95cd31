"""Every query of the content service. Each one filters by organisation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_content.models import (
    AmbassadorCopy,
    ComplianceRulesRecord,
    ContentItemRecord,
    Departure,
    DisciplineCopy,
    EngagementRecord,
    ItemHistoryRecord,
    PostAttemptRecord,
    PostRecord,
    ProgramCopy,
    SuggestionDayRecord,
    SuggestionRecord,
    messaging,
    tenants,
)
from advocacy_shared.db import scoped_upsert
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)
PROGRAM_COPIES = ProgramCopy.__table__  # type: ignore[attr-defined]


def _hashed(entity_id: UUID) -> str:
    return hashlib.sha256(str(entity_id).encode()).hexdigest()


class _Scoped:
    """A repository bound to one organisation: every query it makes filters by it."""

    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    def save(self, row: Any) -> None:
        assert row.organisation_id == self.organisation_id
        self.session.add(row)


class LibraryRepository(_Scoped):
    async def item(self, item_id: UUID, *, for_update: bool = False) -> ContentItemRecord | None:
        query = select(ContentItemRecord).where(
            ContentItemRecord.organisation_id == self.organisation_id,
            ContentItemRecord.id == item_id,
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def page(
        self, status: str | None, limit: int, after: UUID | None
    ) -> list[ContentItemRecord]:
        query = (
            select(ContentItemRecord)
            .where(ContentItemRecord.organisation_id == self.organisation_id)
            .order_by(col(ContentItemRecord.id))
        )
        if status is not None:
            query = query.where(ContentItemRecord.status == status)
        if after is not None:
            query = query.where(col(ContentItemRecord.id) > after)
        return list((await self.session.execute(query.limit(limit + 1))).scalars())

    async def approved(self) -> list[ContentItemRecord]:
        query = select(ContentItemRecord).where(
            ContentItemRecord.organisation_id == self.organisation_id,
            ContentItemRecord.status == "approved",
        )
        return list((await self.session.execute(query)).scalars())

    async def history_count(self, item_id: UUID) -> int:
        query = select(func.count()).where(
            col(ItemHistoryRecord.organisation_id) == self.organisation_id,
            col(ItemHistoryRecord.item_id) == item_id,
        )
        return int((await self.session.execute(query)).scalar_one())

    async def history(
        self, item_id: UUID, limit: int, after: int | None
    ) -> list[ItemHistoryRecord]:
        """Oldest first."""
        query = (
            select(ItemHistoryRecord)
            .where(
                ItemHistoryRecord.organisation_id == self.organisation_id,
                ItemHistoryRecord.item_id == item_id,
            )
            .order_by(col(ItemHistoryRecord.number))
        )
        if after is not None:
            query = query.where(col(ItemHistoryRecord.number) > after)
        return list((await self.session.execute(query.limit(limit + 1))).scalars())

    async def rules(self) -> ComplianceRulesRecord | None:
        return await self.session.get(ComplianceRulesRecord, self.organisation_id)


async def organisations_with_cohorts(session: AsyncSession) -> list[UUID]:
    """Every organisation with someone who may get suggestions (for the daily run)."""
    query = (
        select(AmbassadorCopy.organisation_id)
        .where(col(AmbassadorCopy.consent) == True, col(AmbassadorCopy.activity) != "left")  # noqa: E712
        .distinct()
        .order_by(col(AmbassadorCopy.organisation_id))
    )
    return list((await session.execute(query)).scalars())


class CopyRepository(_Scoped):
    """The copies of other services' facts this service keeps (from their events)."""

    async def ambassador(
        self, ambassador_id: UUID, *, for_update: bool = False
    ) -> AmbassadorCopy | None:
        query = select(AmbassadorCopy).where(
            AmbassadorCopy.organisation_id == self.organisation_id,
            AmbassadorCopy.ambassador_id == ambassador_id,
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def cohort(self) -> list[UUID]:
        """The ambassadors who may get suggestions, in a fixed order (the daily run's)."""
        query = (
            select(AmbassadorCopy.ambassador_id)
            .where(
                col(AmbassadorCopy.organisation_id) == self.organisation_id,
                col(AmbassadorCopy.consent) == True,  # noqa: E712
                col(AmbassadorCopy.activity) != "left",
            )
            .order_by(col(AmbassadorCopy.ambassador_id))
        )
        return list((await self.session.execute(query)).scalars())

    async def cohort_size(self) -> int:
        """Ambassadors who may get suggestions: consenting and in the program."""
        query = select(func.count()).where(
            col(AmbassadorCopy.organisation_id) == self.organisation_id,
            col(AmbassadorCopy.consent) == True,  # noqa: E712
            col(AmbassadorCopy.activity) != "left",
        )
        return int((await self.session.execute(query)).scalar_one())

    async def forget_ambassador(self, ambassador_id: UUID) -> None:
        await self.session.execute(
            delete(AmbassadorCopy).where(
                col(AmbassadorCopy.organisation_id) == self.organisation_id,
                col(AmbassadorCopy.ambassador_id) == ambassador_id,
            )
        )

    async def forget_engagements_of(self, ambassador_id: UUID) -> None:
        await self.session.execute(
            delete(EngagementRecord).where(
                col(EngagementRecord.organisation_id) == self.organisation_id,
                col(EngagementRecord.ambassador_id) == ambassador_id,
            )
        )

    async def forget_proposer(self, ambassador_id: UUID) -> None:
        """Items an erased ambassador proposed stay (they are the organisation's), unattributed."""
        await self.session.execute(
            update(ContentItemRecord)
            .where(
                col(ContentItemRecord.organisation_id) == self.organisation_id,
                col(ContentItemRecord.proposed_by_ambassador) == ambassador_id,
            )
            .values(proposed_by_ambassador=None)
        )

    async def forget_published_events(self, ambassador_id: UUID) -> None:
        """Published notifications naming an erased ambassador: they have reached the stream."""
        outbox = messaging.outbox
        await self.session.execute(
            delete(outbox).where(
                outbox.c.organisation_id == str(self.organisation_id),
                outbox.c.published_at.is_not(None),
                outbox.c.payload.contains(str(ambassador_id), autoescape=True),
            )
        )

    async def departed(self, ambassador_id: UUID) -> bool:
        key = (self.organisation_id, _hashed(ambassador_id))
        return (await self.session.get(Departure, key)) is not None

    async def mark_departed(self, ambassador_id: UUID, reason: str) -> None:
        if not await self.departed(ambassador_id):
            self.session.add(
                Departure(
                    organisation_id=self.organisation_id,
                    entity_hash=_hashed(ambassador_id),
                    reason=reason,
                )
            )

    async def discipline(self, key: str) -> DisciplineCopy | None:
        return await self.session.get(DisciplineCopy, (self.organisation_id, key))

    async def disciplines(self) -> list[DisciplineCopy]:
        query = select(DisciplineCopy).where(
            DisciplineCopy.organisation_id == self.organisation_id,
            DisciplineCopy.retired == False,  # noqa: E712
        )
        return list((await self.session.execute(query)).scalars())

    async def program(self, program_id: UUID) -> ProgramCopy | None:
        query = select(ProgramCopy).where(
            ProgramCopy.organisation_id == self.organisation_id,
            ProgramCopy.program_id == program_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def keep_program(
        self, program_id: UUID, objectives: list[str], disciplines: list[str]
    ) -> bool:
        """Insert the program's copy or replace its objectives and disciplines, in one statement
        (no read first, no ORM instance); another organisation's row is never touched. Returns
        whether the copy was written: False when the id is another organisation's program."""
        statement = scoped_upsert(
            self.session.get_bind().dialect.name,
            PROGRAM_COPIES,
            "program_id",
            ("objectives", "disciplines"),
        )
        result = await self.session.execute(
            statement,
            {
                "program_id": program_id,
                "organisation_id": self.organisation_id,
                "objectives": objectives,
                "disciplines": disciplines,
            },
        )
        return bool(getattr(result, "rowcount", 0))

    async def engagement(self, post_id: UUID) -> EngagementRecord | None:
        query = select(EngagementRecord).where(
            EngagementRecord.organisation_id == self.organisation_id,
            EngagementRecord.post_id == post_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def engagements(self) -> list[EngagementRecord]:
        query = select(EngagementRecord).where(
            EngagementRecord.organisation_id == self.organisation_id,
            col(EngagementRecord.item_id).is_not(None),
        )
        return list((await self.session.execute(query)).scalars())


class SuggestionRepository(_Scoped):
    async def get(self, suggestion_id: UUID) -> SuggestionRecord | None:
        query = select(SuggestionRecord).where(
            SuggestionRecord.organisation_id == self.organisation_id,
            SuggestionRecord.id == suggestion_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def locked(self, suggestion_id: UUID) -> SuggestionRecord | None:
        query = (
            select(SuggestionRecord)
            .where(
                SuggestionRecord.organisation_id == self.organisation_id,
                SuggestionRecord.id == suggestion_id,
            )
            .with_for_update()
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def declined_items(self, ambassador_id: UUID) -> set[UUID]:
        """Items the ambassador dismissed or already wrote a post from: not suggested again."""
        query = select(SuggestionRecord.item_id).where(
            col(SuggestionRecord.organisation_id) == self.organisation_id,
            col(SuggestionRecord.ambassador_id) == ambassador_id,
            col(SuggestionRecord.status).in_(("dismissed", "accepted")),
        )
        return set((await self.session.execute(query)).scalars())

    async def lock_day(self, day: date) -> None:
        """Hold the organisation's day of suggestions until the transaction ends (the row is
        made on first use): lists of that day are made one after another."""
        insert = (
            postgresql.insert
            if self.session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        await self.session.execute(
            insert(SuggestionDayRecord)
            .values(organisation_id=self.organisation_id, day=day)
            .on_conflict_do_nothing()
        )
        await self.session.execute(
            update(SuggestionDayRecord)
            .where(
                col(SuggestionDayRecord.organisation_id) == self.organisation_id,
                col(SuggestionDayRecord.day) == day,
            )
            .values(day=SuggestionDayRecord.day)
            .execution_options(synchronize_session=False)
        )

    async def lease_day(self, day: date, now: datetime, until: datetime) -> bool:
        """Take the daily run of the organisation's day, unless it is prepared or another
        replica's lease still runs: True when this replica holds it now."""
        await self.lock_day(day)
        result = await self.session.execute(
            update(SuggestionDayRecord)
            .where(
                col(SuggestionDayRecord.organisation_id) == self.organisation_id,
                col(SuggestionDayRecord.day) == day,
                col(SuggestionDayRecord.prepared_at).is_(None),
                or_(
                    col(SuggestionDayRecord.lease_until).is_(None),
                    col(SuggestionDayRecord.lease_until) <= now,
                ),
            )
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def day_prepared(self, day: date, now: datetime) -> None:
        await self.session.execute(
            update(SuggestionDayRecord)
            .where(
                col(SuggestionDayRecord.organisation_id) == self.organisation_id,
                col(SuggestionDayRecord.day) == day,
            )
            .values(prepared_at=now, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    async def of_day(self, ambassador_id: UUID, day: date) -> list[SuggestionRecord]:
        query = (
            select(SuggestionRecord)
            .where(
                SuggestionRecord.organisation_id == self.organisation_id,
                SuggestionRecord.ambassador_id == ambassador_id,
                SuggestionRecord.day == day,
            )
            .order_by(col(SuggestionRecord.rank))
        )
        return list((await self.session.execute(query)).scalars())

    async def pushed_on(self, day: date) -> dict[UUID, int]:
        """How many ambassadors got each item on that day."""
        query = (
            select(SuggestionRecord.item_id, func.count())
            .where(
                col(SuggestionRecord.organisation_id) == self.organisation_id,
                col(SuggestionRecord.day) == day,
            )
            .group_by(col(SuggestionRecord.item_id))
        )
        return {item_id: int(count) for item_id, count in (await self.session.execute(query))}

    async def nudged_since(self, ambassador_id: UUID, since: date) -> bool:
        query = select(func.count()).where(
            col(SuggestionRecord.organisation_id) == self.organisation_id,
            col(SuggestionRecord.ambassador_id) == ambassador_id,
            col(SuggestionRecord.nudge) == True,  # noqa: E712
            col(SuggestionRecord.day) >= since,
        )
        return int((await self.session.execute(query)).scalar_one()) > 0

    async def forget_ambassador(self, ambassador_id: UUID) -> None:
        await self.session.execute(
            delete(SuggestionRecord).where(
                col(SuggestionRecord.organisation_id) == self.organisation_id,
                col(SuggestionRecord.ambassador_id) == ambassador_id,
            )
        )


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
