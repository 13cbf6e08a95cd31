"""Every query of the planner. Each one filters by organisation."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_planner.models import PlaybookEntry, tenants
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)


class PlaybookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest_version(self, organisation_id: UUID) -> int | None:
        query = select(func.max(PlaybookEntry.version)).where(
            PlaybookEntry.organisation_id == organisation_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def entries(self, organisation_id: UUID, version: int) -> list[PlaybookEntry]:
        query = (
            select(PlaybookEntry)
            .where(PlaybookEntry.organisation_id == organisation_id)
            .where(PlaybookEntry.version == version)
            .order_by(col(PlaybookEntry.position))
        )
        return list((await self.session.execute(query)).scalars())

    def add_all(self, entries: list[PlaybookEntry]) -> None:
        self.session.add_all(entries)
