"""The copies of other services' facts that suggestions rank from, kept from their events.

Nothing is asked of another service while ranking: the ambassadors service's facts (profile,
consent, activity, offboarding, erasure), the planner's disciplines and program objectives and the
metrics service's post engagement arrive as events and are kept here.

Facts may arrive late or twice. An ambassador's copy keeps the version of the newest fact applied
and takes only newer ones; one who left the organisation or was erased leaves a tombstone
(`departures`, the id only as its SHA-256) and no older fact brings them back. A discipline keeps
the playbook version it came from; a post's engagement the time it was observed.
"""

from __future__ import annotations

import logging
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content.models import AmbassadorCopy, DisciplineCopy, EngagementRecord
from advocacy_content.repository import CopyRepository, SuggestionRepository
from advocacy_shared.contracts.ambassadors import (
    AmbassadorActivityChanged,
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
    ConsentRevoked,
)
from advocacy_shared.contracts.base import EventData, newer
from advocacy_shared.contracts.metrics import PostEngagementMeasured
from advocacy_shared.contracts.planner import (
    DEFAULT_PLAYBOOK,
    DisciplinePublished,
    ProgramObjectivesSet,
)
from advocacy_shared.envelope import utc_now

log = logging.getLogger(__name__)

# --- The playbook and programs -------------------------------------------------------------------


async def seed_playbook(session: AsyncSession, organisation_id: UUID) -> None:
    """Version 1 of every playbook is the default matrix: the planner publishes only changes."""
    copies = CopyRepository(session, organisation_id)
    for row in DEFAULT_PLAYBOOK:
        if await copies.discipline(row.key) is None:
            session.add(
                DisciplineCopy(
                    organisation_id=organisation_id,
                    key=row.key,
                    challenge=row.challenge,
                    segments=list(row.segments),
                    angle_prompts=list(row.angle_prompts),
                    playbook_version=1,
                )
            )


async def keep_discipline(
    session: AsyncSession, organisation_id: UUID, fact: DisciplinePublished
) -> None:
    copies = CopyRepository(session, organisation_id)
    record = await copies.discipline(fact.key)
    if record is not None and record.playbook_version >= fact.playbook_version:
        return
    record = record or DisciplineCopy(
        organisation_id=organisation_id,
        key=fact.key,
        challenge=fact.challenge,
        segments=[],
        angle_prompts=[],
        playbook_version=fact.playbook_version,
    )
    record.challenge = fact.challenge
    record.segments = list(fact.segments)
    record.angle_prompts = list(fact.angle_prompts)
    record.retired = fact.retired
    record.playbook_version = fact.playbook_version
    session.add(record)


async def keep_program(
    session: AsyncSession, organisation_id: UUID, fact: ProgramObjectivesSet
) -> None:
    kept = await CopyRepository(session, organisation_id).keep_program(
        fact.program_id, list(fact.objectives), list(fact.disciplines)
    )
    if not kept:
        log.warning(
            "program objectives refused: the program belongs to another organisation",
            extra={"program_id": str(fact.program_id), "organisation_id": str(organisation_id)},
        )


# --- Ambassadors ---------------------------------------------------------------------------------


async def ambassador_fact(session: AsyncSession, organisation_id: UUID, fact: EventData) -> None:
    """Apply one fact of the ambassadors service to the copy (the others are not needed here)."""
    if isinstance(fact, AmbassadorErased):
        await _erase(session, organisation_id, fact.ambassador_id)
        return
    if isinstance(fact, AmbassadorOffboarded) and fact.reason != "left_program":
        copies = CopyRepository(session, organisation_id)
        await copies.forget_ambassador(fact.ambassador_id)
        await copies.mark_departed(fact.ambassador_id, fact.reason)
        return
    if not isinstance(
        fact,
        AmbassadorOnboarded
        | AmbassadorProfileChanged
        | AmbassadorActivityChanged
        | ConsentRevoked
        | AmbassadorOffboarded,
    ):
        return
    copies = CopyRepository(session, organisation_id)
    if await copies.departed(fact.ambassador_id):
        return
    record = await copies.ambassador(fact.ambassador_id)
    if record is not None and not newer(record.version, fact.version):
        return
    record = record or AmbassadorCopy(
        ambassador_id=fact.ambassador_id,
        organisation_id=organisation_id,
        segments=["everyone"],
        topics=[],
        languages=["da"],
        consent=False,
    )
    if isinstance(fact, AmbassadorOnboarded):
        record.program_id = fact.program_id
        record.leadership = fact.leadership
        record.consent = True
        record.activity = "active"
    elif isinstance(fact, AmbassadorProfileChanged):
        record.leadership = fact.leadership
        record.segments = list(fact.segments) or ["everyone"]
        record.topics = [t.strip() for t in fact.topics if t.strip()]
        record.languages = list(fact.languages) or ["da"]
        record.posts_per_week = fact.posts_per_week
    elif isinstance(fact, AmbassadorActivityChanged):
        record.activity = fact.state
    elif isinstance(fact, ConsentRevoked):
        record.consent = False
    else:
        record.activity = "left"
    record.version = fact.version or record.version
    record.updated_at = utc_now()
    copies.save(record)


async def _erase(session: AsyncSession, organisation_id: UUID, ambassador_id: UUID) -> None:
    """Delete everything kept about the person: the copy, their suggestions, their posts'
    engagement, the published notifications naming them, their name on items they proposed;
    leave only the tombstone's hash."""
    copies = CopyRepository(session, organisation_id)
    await copies.forget_ambassador(ambassador_id)
    await copies.forget_engagements_of(ambassador_id)
    await SuggestionRepository(session, organisation_id).forget_ambassador(ambassador_id)
    await copies.forget_proposer(ambassador_id)
    await copies.forget_published_events(ambassador_id)
    await copies.mark_departed(ambassador_id, "erased")


# --- Learned performance -------------------------------------------------------------------------


async def record_engagement(
    session: AsyncSession, organisation_id: UUID, fact: PostEngagementMeasured
) -> None:
    """Keep the latest engagement of a post, with its author's segments at the time (what
    engaged for similar ambassadors)."""
    copies = CopyRepository(session, organisation_id)
    if await copies.departed(fact.ambassador_id):
        return
    record = await copies.engagement(fact.post_id)
    if record is not None and record.observed_at >= fact.observed_at:
        return
    author = await copies.ambassador(fact.ambassador_id)
    record = record or EngagementRecord(
        post_id=fact.post_id,
        organisation_id=organisation_id,
        ambassador_id=fact.ambassador_id,
        segments=[],
        impressions=0,
        engagement_rate=0.0,
        observed_at=fact.observed_at,
    )
    record.item_id = fact.content_item_id
    record.segments = list(author.segments) if author else ["everyone"]
    record.impressions = fact.impressions
    record.engagement_rate = fact.engagement_rate
    record.observed_at = fact.observed_at
    session.add(record)
