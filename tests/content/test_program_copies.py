"""The content service's copy of a program's objectives, kept from `ProgramObjectivesSet` in one
statement: the first fact makes the copy, a later one replaces its objectives and disciplines,
and a copy of another organisation is never touched. Real database: whichever the run uses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from advocacy_content import copies
from advocacy_content.repository import CopyRepository
from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.contracts.planner import ProgramObjectivesSet
from advocacy_shared.db import create_engine, session_factory


@pytest.fixture
async def engine(make_database: MakeDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await make_database("content", "advocacy_content"))
    yield engine
    await engine.dispose()


def objectives_set(program_id: UUID, *objectives: str) -> ProgramObjectivesSet:
    return ProgramObjectivesSet(
        program_id=program_id,
        objectives=list(objectives),
        disciplines=["social_selling"],
        set_at=datetime.now(UTC),
    )


async def test_the_copy_is_made_then_replaced_and_another_organisations_is_left_alone(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = session_factory(engine)
    mine, theirs, program_id = uuid4(), uuid4(), uuid4()
    async with sessions() as session, session.begin():
        await copies.keep_program(session, mine, objectives_set(program_id, "Brand awareness"))
    async with sessions() as session, session.begin():
        await copies.keep_program(
            session, mine, objectives_set(program_id, "Qualified applicants", "Brand awareness")
        )
        with caplog.at_level(logging.WARNING, logger="advocacy_content.copies"):
            await copies.keep_program(session, theirs, objectives_set(program_id, "Not theirs"))

    async with sessions() as session:
        copy = await CopyRepository(session, mine).program(program_id)
        assert await CopyRepository(session, theirs).program(program_id) is None
    assert copy is not None
    assert copy.objectives == ["Qualified applicants", "Brand awareness"]
    assert copy.disciplines == ["social_selling"]
    (refused,) = [r for r in caplog.records if r.name == "advocacy_content.copies"]
    assert "belongs to another organisation" in refused.getMessage()
    assert refused.__dict__["program_id"] == str(program_id)
