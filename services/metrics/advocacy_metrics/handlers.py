"""The metrics's event subscriptions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics import service
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import CloudEvent

consumers = EventConsumers("metrics")


@consumers.on(OrganisationCreated)
async def provision_organisation(
    session: AsyncSession, fact: OrganisationCreated, _envelope: CloudEvent
) -> None:
    await service.provision_organisation(session, fact)
