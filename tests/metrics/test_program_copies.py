"""The metrics service's copy of a program, kept from `ProgramCreated` and `PhaseAdvanced` in one
statement each, in whichever order they come: the start date and the phase both end up kept, and
a copy of another organisation is never touched. Real database: whichever the run uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from advocacy_devtools.testing import MakeDatabase
from advocacy_metrics.models import programs
from advocacy_metrics.service import people
from advocacy_shared.contracts.planner import PhaseAdvanced, ProgramCreated
from advocacy_shared.db import create_engine, session_factory


@pytest.fixture
async def engine(make_database: MakeDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await make_database("metrics", "advocacy_metrics"))
    yield engine
    await engine.dispose()


async def test_a_phase_before_the_creation_keeps_both_and_never_another_organisations_copy(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    mine, theirs, program_id = uuid4(), uuid4(), uuid4()
    now = datetime.now(UTC)
    advanced = PhaseAdvanced(
        program_id=program_id,
        from_phase="pilot",
        to_phase="targeted_recruitment",
        decided_by="targets_met",
        override_reason=None,
        advanced_at=now,
    )
    created = ProgramCreated(
        program_id=program_id,
        playbook_version=1,
        disciplines=["social_selling"],
        fte_share=0.5,
        start_date=date(2027, 1, 4),
        created_at=now,
    )
    async with sessions() as session, session.begin():
        await people.phase_advanced(session, mine, advanced)
    async with sessions() as session, session.begin():
        await people.program_created(session, mine, created)
        await people.program_created(
            session, theirs, created.model_copy(update={"start_date": date(2030, 1, 1)})
        )

    async with sessions() as session:
        rows = (await session.execute(select(programs))).all()
    assert [(r.organisation_id, r.phase, r.start_date) for r in rows] == [
        (mine, "targeted_recruitment", date(2027, 1, 4))
    ]
