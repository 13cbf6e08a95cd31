"""Every query of the gateway."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from advocacy_gateway.models import Organisation


class OrganisationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, organisation_id: UUID) -> Organisation | None:
        return await self.session.get(Organisation, organisation_id)

    async def slug_taken(self, slug: str) -> bool:
        query = select(Organisation.id).where(Organisation.slug == slug)
        return (await self.session.execute(query)).first() is not None

    def add(self, organisation: Organisation) -> None:
        self.session.add(organisation)

    async def page(self, limit: int, after: tuple[datetime, UUID] | None) -> list[Organisation]:
        """Organisations oldest first, keyset-paginated on (created_at, id)."""
        query = select(Organisation).order_by(col(Organisation.created_at), col(Organisation.id))
        if after is not None:
            created_at, organisation_id = after
            query = query.where(
                or_(
                    col(Organisation.created_at) > created_at,
                    (col(Organisation.created_at) == created_at)
                    & (col(Organisation.id) > organisation_id),
                )
            )
        return list((await self.session.execute(query.limit(limit))).scalars())
