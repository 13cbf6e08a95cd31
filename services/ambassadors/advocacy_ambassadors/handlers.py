"""The ambassadors's event subscriptions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.service import tenants
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import CloudEvent

consumers = EventConsumers("ambassadors")


@consumers.on(OrganisationCreated)
async def provision_organisation(
    session: AsyncSession, fact: OrganisationCreated, _envelope: CloudEvent
) -> None:
    await tenants.provision_organisation(session, fact)
