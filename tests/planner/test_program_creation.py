"""A program's creation writes the program, its three phases and its two events in the command's
transaction (the rows by Core inserts, not the ORM's unit of work): what the ORM reads back is
what the command answered, and the events wait in the outbox in their order. Real database:
whichever the run uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from advocacy_devtools.testing import MakeDatabase
from advocacy_planner.models import messaging
from advocacy_planner.repository import PhaseRepository, ProgramRepository
from advocacy_planner.service import playbook, programs
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import (
    PHASE_ORDER,
    Cohort,
    ProgramCreated,
    ProgramFields,
    ProgramObjectivesSet,
)
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.outbox import Outbox
from advocacy_shared.topology import Topology


@pytest.fixture
async def engine(make_database: MakeDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await make_database("planner", "advocacy_planner"))
    yield engine
    await engine.dispose()


async def test_a_created_program_reads_back_as_answered_with_its_phases_and_events_in_order(
    engine: AsyncEngine,
) -> None:
    organisation_id = uuid4()
    sessions = session_factory(engine)
    fact = OrganisationCreated(
        organisation_id=organisation_id,
        name="Creation A/S",
        slug=f"creation-{organisation_id.hex[:8]}",
        created_at=datetime.now(UTC),
    )
    outbox = Outbox(messaging.outbox, Topology("creation"), source="/advocacy/planner")
    fields = ProgramFields.model_validate(
        {
            "name": "Pilot",
            "owner": "Head of communications",
            "objectives": ["Sales & lead generation"],
            "disciplines": ["social_selling"],
            "capacity": {"fte_share": 0.5, "hours_per_week": 4},
            "start_date": "2027-01-04",
            "awareness_topics": [" Hiring ", ""],
        }
    )
    async with sessions() as session, session.begin():
        await playbook.provision_organisation(session, fact)
    async with sessions() as session, session.begin():
        answered = await programs.create_program(session, outbox, organisation_id, fields)

    async with sessions() as session:
        stored = await ProgramRepository(session, organisation_id).get(answered.id)
        assert stored is not None
        assert programs.program_view(stored) == answered
        assert answered.awareness_topics == ["hiring"]
        assert answered.start_date == date(2027, 1, 4)
        phases = await PhaseRepository(session, organisation_id).of_program(answered.id)
        by_kind = {phase.kind: phase for phase in phases}
        assert sorted(by_kind) == sorted(PHASE_ORDER)
        assert by_kind["pilot"].status == "active"
        assert by_kind["pilot"].started_at == answered.created_at
        assert {by_kind[k].status for k in PHASE_ORDER[1:]} == {"planned"}
        assert all(phase.cohort == Cohort().model_dump(mode="json") for phase in phases)
        assert all(phase.targets is None and phase.review_date is None for phase in phases)
        events = (
            await session.execute(
                select(messaging.outbox.c.subject).order_by(
                    messaging.outbox.c.created_at, messaging.outbox.c.id
                )
            )
        ).scalars()
        topology = Topology("creation")
        assert [s for s in events if "program" in s] == [
            ProgramCreated.spec.subject(topology),
            ProgramObjectivesSet.spec.subject(topology),
        ]
