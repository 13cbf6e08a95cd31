"""The content's event subscriptions: tenants; the ambassadors' facts, the planner's playbook and
program objectives and the metrics service's post engagement, kept for suggestions; and the
cancellation of posts when consent is revoked or the ambassador leaves."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content import copies, posts, service
from advocacy_content.rpc import server
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    ConsentRevoked,
)
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.metrics import PostEngagementMeasured
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import DisciplinePublished, ProgramObjectivesSet
from advocacy_shared.envelope import CloudEvent

consumers = EventConsumers("content")


@consumers.on(OrganisationCreated)
async def provision_organisation(
    session: AsyncSession, fact: OrganisationCreated, _envelope: CloudEvent
) -> None:
    await service.provision_organisation(session, fact)


@consumers.on_every_event_of("ambassadors")
async def people(session: AsyncSession, fact: EventData, envelope: CloudEvent) -> None:
    """Profile, consent, activity, offboarding and erasure from one consumer, so that they apply
    in publication order (the copies also compare versions)."""
    await copies.ambassador_fact(session, UUID(envelope.orgid), fact)


@consumers.on(DisciplinePublished)
async def keep_discipline(
    session: AsyncSession, fact: DisciplinePublished, envelope: CloudEvent
) -> None:
    await copies.keep_discipline(session, UUID(envelope.orgid), fact)


@consumers.on(ProgramObjectivesSet)
async def keep_program(
    session: AsyncSession, fact: ProgramObjectivesSet, envelope: CloudEvent
) -> None:
    await copies.keep_program(session, UUID(envelope.orgid), fact)


@consumers.on(PostEngagementMeasured)
async def learn_engagement(
    session: AsyncSession, fact: PostEngagementMeasured, envelope: CloudEvent
) -> None:
    await copies.record_engagement(session, UUID(envelope.orgid), fact)


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
