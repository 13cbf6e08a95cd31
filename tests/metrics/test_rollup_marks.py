"""The rollup marks on PostgreSQL: two writers of one organisation's day, each on its own
connection, do not wait on each other's mark; the rollup pass still waits for a writer that holds
a mark it takes, so no committed snapshot is left out of the rollups. Real PostgreSQL: on SQLite
(one writer at a time) these are skipped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from advocacy_devtools.testing import MakeDatabase
from advocacy_metrics import repository
from advocacy_metrics.models import MARK_SLOTS, posts
from advocacy_metrics.service import ingest
from advocacy_shared.db import create_engine, is_sqlite
from advocacy_shared.envelope import CloudEvent
from tests.metrics.snapshots import post_row, snapshot

NOW = datetime.now(UTC)
DAY = (NOW - timedelta(hours=1)).date()
LOCK_TIMEOUT = "SET LOCAL lock_timeout = '2s'"


def a_post(organisation_id: uuid.UUID) -> dict[str, Any]:
    return post_row(organisation_id, published_at=NOW - timedelta(days=3), changed_at=NOW)


def observed(
    organisation_id: uuid.UUID, post_id: uuid.UUID, minute: int = 1
) -> tuple[Any, CloudEvent]:
    at = datetime.combine(DAY, datetime.min.time(), UTC) + timedelta(minutes=minute)
    return snapshot(organisation_id, post_id, at)


@asynccontextmanager
async def metrics_engine(make_database: MakeDatabase) -> AsyncIterator[AsyncEngine]:
    url = await make_database("metrics_marks", "advocacy_metrics")
    if is_sqlite(url):
        pytest.skip("concurrent writers are PostgreSQL's (SQLite has one writer at a time)")
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def connections_in_two_slots(
    engine: AsyncEngine, stack: AsyncExitStack
) -> tuple[AsyncConnection, AsyncConnection]:
    """Two connections whose backends mark different slots (as two writers' almost always do)."""
    by_slot: dict[int, AsyncConnection] = {}
    while len(by_slot) < 2:
        connection = await stack.enter_async_context(engine.connect())
        slot = await connection.scalar(text(f"SELECT pg_backend_pid() % {MARK_SLOTS}"))
        await connection.rollback()  # ends the transaction the query began: sessions begin theirs
        by_slot.setdefault(int(slot), connection)
    first, second = by_slot.values()
    return first, second


async def test_two_writers_of_one_day_do_not_wait_for_each_others_mark_and_it_is_taken_once(
    make_database: MakeDatabase,
) -> None:
    organisation_id = uuid.uuid4()
    first_post, second_post = a_post(organisation_id), a_post(organisation_id)
    async with metrics_engine(make_database) as engine, AsyncExitStack() as stack:
        async with engine.begin() as connection:
            await connection.execute(posts.insert(), [first_post, second_post])
        one, other = await connections_in_two_slots(engine, stack)
        first = await stack.enter_async_context(AsyncSession(bind=one))
        second = await stack.enter_async_context(AsyncSession(bind=other))

        await first.begin()
        await ingest.snapshots_observed(first, [observed(organisation_id, first_post["post_id"])])
        # The first has marked the day and not committed; with one mark per day the second
        # waited here for the first's commit (the lock time-out then fails it).
        async with second.begin():
            await second.execute(text(LOCK_TIMEOUT))
            await ingest.snapshots_observed(
                second, [observed(organisation_id, second_post["post_id"])]
            )
        await first.commit()

        async with AsyncSession(engine) as session, session.begin():
            assert await repository.take_dirty_days(session) == {organisation_id: [DAY]}
            assert await repository.take_dirty_days(session) == {}


async def test_the_rollup_pass_waits_for_a_writer_that_holds_a_mark_it_takes(
    make_database: MakeDatabase,
) -> None:
    """The guarantee the marks' locks give (`take_dirty_days`): a day marked by a batch that has
    not committed is not taken, recomputed without it and forgotten."""
    organisation_id = uuid.uuid4()
    post = a_post(organisation_id)
    async with metrics_engine(make_database) as engine, AsyncExitStack() as stack:
        async with engine.begin() as connection:
            await connection.execute(posts.insert(), [post])
        connection = await stack.enter_async_context(engine.connect())
        writer = await stack.enter_async_context(AsyncSession(bind=connection))
        async with writer.begin():  # a first batch: the writer's slot of the day is marked
            await ingest.snapshots_observed(writer, [observed(organisation_id, post["post_id"])])

        await writer.begin()  # a second batch, not committed, marks the same slot again
        await ingest.snapshots_observed(writer, [observed(organisation_id, post["post_id"], 2)])
        with pytest.raises(DBAPIError, match="lock timeout"):
            async with AsyncSession(engine) as rollup, rollup.begin():
                await rollup.execute(text(LOCK_TIMEOUT))
                await repository.take_dirty_days(rollup)
        await writer.commit()

        async with AsyncSession(engine) as rollup, rollup.begin():
            assert await repository.take_dirty_days(rollup) == {organisation_id: [DAY]}
