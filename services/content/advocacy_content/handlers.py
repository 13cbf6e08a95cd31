"""The content's event subscriptions: tenants, the ambassadors' facts, the planner's playbook and
program objectives, and the metrics service's post engagement (learned performance)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content import copies, service
from advocacy_shared.consumers import EventConsumers
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
