"""The tenant table each domain service keeps, filled from OrganisationCreated events."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Column, MetaData, String, Table, Uuid, select
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.db import UtcDateTime


def tenant_table(metadata: MetaData) -> Table:
    return Table(
        "tenants",
        metadata,
        Column("organisation_id", Uuid, primary_key=True),
        Column("name", String(200), nullable=False),
        Column("slug", String(63), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
    )


class TenantRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def record(self, session: AsyncSession, fact: OrganisationCreated) -> bool:
        """Record a tenant once; returns False when it was already known."""
        if await self.exists(session, fact.organisation_id):
            return False
        await session.execute(
            self.table.insert().values(
                organisation_id=fact.organisation_id,
                name=fact.name,
                slug=fact.slug,
                created_at=fact.created_at,
            )
        )
        return True

    async def exists(self, session: AsyncSession, organisation_id: UUID) -> bool:
        query = select(self.table.c.organisation_id).where(
            self.table.c.organisation_id == organisation_id
        )
        return (await session.execute(query)).first() is not None

    async def name(self, session: AsyncSession, organisation_id: UUID) -> str | None:
        query = select(self.table.c.name).where(self.table.c.organisation_id == organisation_id)
        return (await session.execute(query)).scalar_one_or_none()
