"""The planner keeps the rows of playbook versions it has read (a version never changes) and asks
the database only which version is the latest: a new version is served at once, and a version that
a rolled-back transaction wrote and read is never kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import cast
from uuid import UUID, uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from advocacy_devtools.testing import MakeDatabase
from advocacy_planner.service import playbook
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import Playbook, PlaybookRowInput
from advocacy_shared.db import create_engine, read_session_factory, session_factory
from advocacy_shared.outbox import Outbox


@pytest.fixture
async def engine(make_database: MakeDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await make_database("planner", "advocacy_planner"))
    yield engine
    await engine.dispose()


async def provisioned(engine: AsyncEngine) -> UUID:
    organisation_id = uuid4()
    fact = OrganisationCreated(
        organisation_id=organisation_id,
        name="Versions A/S",
        slug=f"versions-{organisation_id.hex[:8]}",
        created_at=datetime.now(UTC),
    )
    async with session_factory(engine)() as session, session.begin():
        await playbook.provision_organisation(session, fact)
    return organisation_id


def podcasting(prompt: str) -> PlaybookRowInput:
    row = playbook.DEFAULT_MATRIX[0].model_dump()
    return PlaybookRowInput(**{**row, "key": "podcasting", "angle_prompts": [prompt]})


class _Outbox:
    """Takes the revision's event; the test looks at rows, not at events."""

    async def add(self, *_args: object, **_kwargs: object) -> None:
        return None


OUTBOX = cast(Outbox, _Outbox())


async def read_latest(engine: AsyncEngine, organisation_id: UUID) -> Playbook:
    async with read_session_factory(engine)() as session:
        return await playbook.playbook(session, organisation_id, committed_view=True)


async def test_a_new_version_is_served_at_once_after_the_kept_one(engine: AsyncEngine) -> None:
    organisation_id = await provisioned(engine)
    first = await read_latest(engine, organisation_id)
    assert playbook.VERSIONS.get(organisation_id, 1) is not None

    async with session_factory(engine)() as session, session.begin():
        await playbook.add_playbook_row(
            session,
            OUTBOX,
            organisation_id,
            podcasting("Tell the story"),
        )

    second = await read_latest(engine, organisation_id)
    assert (first.version, second.version) == (1, 2)
    assert [row.key for row in second.rows][-1] == "podcasting"
    assert second.latest
    assert not (await _version(engine, organisation_id, 1)).latest


async def test_a_version_read_in_a_rolled_back_transaction_is_not_kept(
    engine: AsyncEngine,
) -> None:
    organisation_id = await provisioned(engine)
    await read_latest(engine, organisation_id)

    async with session_factory(engine)() as session:
        transaction = await session.begin()
        written = await playbook.add_playbook_row(
            session,
            OUTBOX,
            organisation_id,
            podcasting("Never committed"),
        )
        assert written.version == 2
        await transaction.rollback()
    assert playbook.VERSIONS.get(organisation_id, 2) is None

    async with session_factory(engine)() as session, session.begin():
        await playbook.add_playbook_row(
            session,
            OUTBOX,
            organisation_id,
            podcasting("Committed"),
        )
    latest = await read_latest(engine, organisation_id)
    assert latest.version == 2
    assert latest.rows[-1].angle_prompts == ["Committed"]


async def _version(engine: AsyncEngine, organisation_id: UUID, version: int) -> Playbook:
    async with read_session_factory(engine)() as session:
        return await playbook.playbook(session, organisation_id, version, committed_view=True)


async def _encoded(engine: AsyncEngine, organisation_id: UUID, version: int | None) -> bytes:
    async with read_session_factory(engine)() as session:
        return (await playbook.encoded_playbook(session, organisation_id, version)).json


async def test_the_read_s_serialized_reply_is_kept_per_version_and_says_which_is_latest(
    engine: AsyncEngine,
) -> None:
    organisation_id = await provisioned(engine)
    first = await _encoded(engine, organisation_id, None)
    assert first == Playbook.model_validate_json(first).model_dump_json().encode()
    assert Playbook.model_validate_json(first) == await read_latest(engine, organisation_id)
    assert await _encoded(engine, organisation_id, 1) is first  # kept, not serialized again

    async with session_factory(engine)() as session, session.begin():
        await playbook.add_playbook_row(
            session, OUTBOX, organisation_id, podcasting("A second version")
        )

    second = Playbook.model_validate_json(await _encoded(engine, organisation_id, None))
    assert (second.version, second.latest) == (2, True)
    assert second.rows[-1].angle_prompts == ["A second version"]
    older = Playbook.model_validate_json(await _encoded(engine, organisation_id, 1))
    assert (older.version, older.latest) == (1, False)  # no longer the latest: not the kept one
    assert older == await _version(engine, organisation_id, 1)
