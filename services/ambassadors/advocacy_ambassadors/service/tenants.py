"""The organisations this service serves: provisioned on OrganisationCreated, each starting with
a consent text.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.repository import tenant_repository
from advocacy_ambassadors.service.invitations import seed_consent_text
from advocacy_shared.contracts.organisations import OrganisationCreated


async def provision_organisation(session: AsyncSession, fact: OrganisationCreated) -> None:
    await tenant_repository.record(session, fact)
    await seed_consent_text(session, fact.organisation_id)
