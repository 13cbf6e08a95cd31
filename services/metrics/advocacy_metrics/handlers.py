"""The metrics service's event subscriptions.

Snapshots (`PostMetricsObserved`, `CompanyPostMetricsObserved`) arrive in volume and are consumed
in batches (`batch_size` per transaction, one bulk statement per table) without inbox rows: a
snapshot is stored once per (post, observed_at, source) and latest and daily values only move
forward, so applying one twice changes nothing. Every other fact one at a time."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics.polling import polling_wiring
from advocacy_metrics.repository import tenant_repository
from advocacy_metrics.rpc import server
from advocacy_metrics.service import ingest, people, polling
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
    ConsentRevoked,
)
from advocacy_shared.contracts.content import PostPublished, PostWithdrawn
from advocacy_shared.contracts.linkedin import LinkedInConnected
from advocacy_shared.contracts.metrics import CompanyPostMetricsObserved, PostMetricsObserved
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import PhaseAdvanced, ProgramCreated
from advocacy_shared.envelope import CloudEvent

SNAPSHOT_BATCH = 500
SNAPSHOT_WRITERS = 2
"""Snapshot batches written at once (PostgreSQL): at a trickle, a batch that comes during a
write goes to the database then instead of waiting for that write's commit (docs/metrics.md,
"Fifth pass")."""

consumers = EventConsumers("metrics")


def _org(envelope: CloudEvent) -> UUID:
    return UUID(envelope.orgid)


@consumers.on(OrganisationCreated)
async def provision_organisation(
    session: AsyncSession, fact: OrganisationCreated, _envelope: CloudEvent
) -> None:
    await tenant_repository.record(session, fact)


@consumers.on(PostPublished)
async def post_published(session: AsyncSession, fact: PostPublished, envelope: CloudEvent) -> None:
    poller = polling_wiring()
    if await ingest.post_published(session, server.outbox, _org(envelope), fact):
        await polling.start(session, _org(envelope), fact, poller.schedule, poller.clock())


@consumers.on(PostWithdrawn)
async def post_withdrawn(session: AsyncSession, fact: PostWithdrawn, envelope: CloudEvent) -> None:
    await ingest.post_withdrawn(session, _org(envelope), fact)
    await polling.withdrawn(session, _org(envelope), fact.post_id)


@consumers.on(LinkedInConnected)
async def linkedin_connected(
    session: AsyncSession, fact: LinkedInConnected, envelope: CloudEvent
) -> None:
    """A reconnected ambassador's posts are polled again."""
    await polling.reconnected(session, _org(envelope), fact.ambassador_id)


@consumers.on_batches(
    PostMetricsObserved,
    batch_size=SNAPSHOT_BATCH,
    idempotent=True,
    writers=SNAPSHOT_WRITERS,
    one_statement=True,
)
async def snapshots_observed(
    session: AsyncSession, batch: list[tuple[PostMetricsObserved, CloudEvent]]
) -> None:
    await ingest.snapshots_observed(session, batch)


@consumers.on_batches(CompanyPostMetricsObserved, batch_size=SNAPSHOT_BATCH, idempotent=True)
async def company_snapshots_observed(
    session: AsyncSession, batch: list[tuple[CompanyPostMetricsObserved, CloudEvent]]
) -> None:
    await ingest.company_snapshots_observed(session, batch)


@consumers.on(AmbassadorOnboarded)
async def ambassador_onboarded(
    session: AsyncSession, fact: AmbassadorOnboarded, envelope: CloudEvent
) -> None:
    await people.onboarded(session, _org(envelope), fact)


@consumers.on(AmbassadorProfileChanged)
async def ambassador_profile_changed(
    session: AsyncSession, fact: AmbassadorProfileChanged, envelope: CloudEvent
) -> None:
    await people.profile_changed(session, _org(envelope), fact)


@consumers.on(AmbassadorOffboarded)
async def ambassador_offboarded(
    session: AsyncSession, fact: AmbassadorOffboarded, envelope: CloudEvent
) -> None:
    await people.left(session, _org(envelope), fact)


@consumers.on(ConsentRevoked)
async def consent_revoked(
    session: AsyncSession, fact: ConsentRevoked, envelope: CloudEvent
) -> None:
    await people.left(session, _org(envelope), fact)


@consumers.on(AmbassadorErased)
async def ambassador_erased(
    session: AsyncSession, fact: AmbassadorErased, envelope: CloudEvent
) -> None:
    await people.erased(session, _org(envelope), fact)


@consumers.on(ProgramCreated)
async def program_created(
    session: AsyncSession, fact: ProgramCreated, envelope: CloudEvent
) -> None:
    await people.program_created(session, _org(envelope), fact)


@consumers.on(PhaseAdvanced)
async def phase_advanced(session: AsyncSession, fact: PhaseAdvanced, envelope: CloudEvent) -> None:
    await people.phase_advanced(session, _org(envelope), fact)
