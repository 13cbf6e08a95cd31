"""The metrics service's domain logic. No commits and no broker here: the edges own both."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics.repository import tenant_repository
from advocacy_shared.contracts.organisations import OrganisationCreated


async def provision_organisation(session: AsyncSession, fact: OrganisationCreated) -> None:
    await tenant_repository.record(session, fact)
