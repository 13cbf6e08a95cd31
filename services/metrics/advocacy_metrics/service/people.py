"""Who is enrolled, on which track and in which segments (from the ambassadors service), each
program's current phase (from the planner), and an ambassador's momentum when they post.

Ambassador facts carry a version: an older one than the row holds is ignored. Enrolment starts
with `AmbassadorOnboarded` and ends with offboarding or a revoked consent; erasure deletes the
ambassador's row and every measurement of their posts (the posts stay as tombstones, so that a
late snapshot is dropped rather than retried)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics import repository
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
    ConsentRevoked,
)
from advocacy_shared.contracts.content import PostPublished
from advocacy_shared.contracts.metrics import AmbassadorMomentumChanged
from advocacy_shared.contracts.planner import PhaseAdvanced, ProgramCreated
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox


async def _newer(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID, version: int | None
) -> bool:
    row = await repository.ambassador(session, organisation_id, ambassador_id)
    if row is None or version is None or row.version is None:
        return True
    return bool(version > row.version)


async def _apply(
    session: AsyncSession,
    organisation_id: UUID,
    ambassador_id: UUID,
    version: int | None,
    values: dict[str, Any],
) -> None:
    if await _newer(session, organisation_id, ambassador_id, version):
        if version is not None:
            values = {**values, "version": version}
        await repository.save_ambassador(session, organisation_id, ambassador_id, values)


async def onboarded(
    session: AsyncSession, organisation_id: UUID, fact: AmbassadorOnboarded
) -> None:
    await _apply(
        session,
        organisation_id,
        fact.ambassador_id,
        fact.version,
        {
            "program_id": fact.program_id,
            "leadership": fact.leadership,
            "enrolled": True,
            "enrolled_at": fact.onboarded_at,
            "left_at": None,
        },
    )


async def profile_changed(
    session: AsyncSession, organisation_id: UUID, fact: AmbassadorProfileChanged
) -> None:
    await _apply(
        session,
        organisation_id,
        fact.ambassador_id,
        fact.version,
        {"leadership": fact.leadership, "segments": list(fact.segments)},
    )


async def left(
    session: AsyncSession, organisation_id: UUID, fact: AmbassadorOffboarded | ConsentRevoked
) -> None:
    at = fact.offboarded_at if isinstance(fact, AmbassadorOffboarded) else fact.revoked_at
    await _apply(
        session,
        organisation_id,
        fact.ambassador_id,
        fact.version,
        {"enrolled": False, "left_at": at},
    )


async def erased(session: AsyncSession, organisation_id: UUID, fact: AmbassadorErased) -> None:
    post_ids = await repository.posts_of_ambassador(session, organisation_id, fact.ambassador_id)
    for post_id in post_ids:
        await repository.withdraw_post(
            session, organisation_id, post_id, fact.erased_at, "author_erased"
        )
    await repository.forget_measurements(session, organisation_id, post_ids)
    await repository.forget_polls(session, organisation_id, fact.ambassador_id)
    await repository.delete_ambassador(session, organisation_id, fact.ambassador_id)


async def program_created(
    session: AsyncSession, organisation_id: UUID, fact: ProgramCreated
) -> None:
    await repository.save_program(
        session, organisation_id, fact.program_id, {"start_date": fact.start_date}
    )


async def phase_advanced(session: AsyncSession, organisation_id: UUID, fact: PhaseAdvanced) -> None:
    await repository.save_program(
        session, organisation_id, fact.program_id, {"phase": fact.to_phase}
    )


async def posted(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, fact: PostPublished
) -> None:
    """A post makes its author active: announced when they were quiet or never posted."""
    row = await repository.ambassador(session, organisation_id, fact.ambassador_id)
    if row is not None and row.momentum == "active":
        return
    values: dict[str, Any] = {"momentum": "active"}
    if row is None:
        values["leadership"] = fact.leadership
    await repository.save_ambassador(session, organisation_id, fact.ambassador_id, values)
    await outbox.add(
        session,
        AmbassadorMomentumChanged(
            ambassador_id=fact.ambassador_id,
            state="active",
            last_posted_at=fact.published_at,
            days_since_last_post=max(0, (utc_now() - fact.published_at).days),
            changed_at=utc_now(),
        ),
        organisation_id=organisation_id,
        subject=str(fact.ambassador_id),
    )
