"""Every query of the content service. Each one filters by organisation."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, update
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
    ProgramCopy,
    SuggestionRecord,
    messaging,
    tenants,
)
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)


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
