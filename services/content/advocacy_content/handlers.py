"""The content's event subscriptions."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content import posts, service
from advocacy_content.rpc import server
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    ConsentRevoked,
)
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import CloudEvent

consumers = EventConsumers("content")


@consumers.on(OrganisationCreated)
async def provision_organisation(
    session: AsyncSession, fact: OrganisationCreated, _envelope: CloudEvent
) -> None:
    await service.provision_organisation(session, fact)


# --- Posts: nothing more is posted for someone who withdrew or left ------------------------------


@consumers.on(ConsentRevoked)
async def cancel_posts_on_consent_revoked(
    session: AsyncSession, fact: ConsentRevoked, envelope: CloudEvent
) -> None:
    await posts.close_open(
        session, _organisation(envelope), fact.ambassador_id, fact.revoked_at, "consent_revoked"
    )


@consumers.on(AmbassadorOffboarded)
async def cancel_posts_on_offboarded(
    session: AsyncSession, fact: AmbassadorOffboarded, envelope: CloudEvent
) -> None:
    await posts.close_open(
        session,
        _organisation(envelope),
        fact.ambassador_id,
        fact.offboarded_at,
        "ambassador_offboarded",
    )


@consumers.on(AmbassadorErased)
async def erase_posts(session: AsyncSession, fact: AmbassadorErased, envelope: CloudEvent) -> None:
    await posts.erase(session, server.outbox, _organisation(envelope), fact.ambassador_id)


def _organisation(envelope: CloudEvent) -> UUID:
    return UUID(envelope.orgid)
