"""The ambassadors's event subscriptions."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.rpc import server
from advocacy_ambassadors.service import journey, tenants
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.metrics import AmbassadorMomentumChanged
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import CloudEvent

consumers = EventConsumers("ambassadors")


@consumers.on(OrganisationCreated)
async def provision_organisation(
    session: AsyncSession, fact: OrganisationCreated, _envelope: CloudEvent
) -> None:
    await tenants.provision_organisation(session, fact)


@consumers.on(AmbassadorMomentumChanged)
async def apply_momentum(
    session: AsyncSession, fact: AmbassadorMomentumChanged, envelope: CloudEvent
) -> None:
    """The metrics service's measured momentum moves the journey's active/quiet states."""
    await journey.apply_momentum(
        session, server.outbox, UUID(envelope.orgid), fact.ambassador_id, fact.state
    )
