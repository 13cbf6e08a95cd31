"""Read sessions (advocacy_shared.db.read_session_factory): no BEGIN, no COMMIT, no writes."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, Table, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import registry

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.db import (
    LeanRead,
    create_engine,
    is_sqlite,
    read_session_factory,
    session_factory,
)

mapper = registry()


class Thing:
    """A mapped class: enough for a flush to have something to write."""


mapper.map_imperatively(
    Thing, Table("things", mapper.metadata, Column("id", Integer, primary_key=True))
)


async def isolation_of(session: AsyncSession) -> str | None:
    options = (await session.connection()).sync_connection.get_execution_options()  # type: ignore[union-attr]
    return options.get("isolation_level")


async def test_a_read_session_runs_each_statement_in_its_own_transaction(
    make_database: MakeDatabase,
) -> None:
    url = await make_database("reads", None)
    engine = create_engine(url)
    try:
        async with read_session_factory(engine)() as session:
            # SQLite (pysqlite) begins no transaction before a SELECT anyway: nothing to switch.
            assert await isolation_of(session) == (None if is_sqlite(url) else "AUTOCOMMIT")
            if not is_sqlite(url):  # PostgreSQL: no BEGIN, so every statement has its own
                first = (await session.execute(text("SELECT txid_current()"))).scalar_one()
                second = (await session.execute(text("SELECT txid_current()"))).scalar_one()
                assert first != second
        async with session_factory(engine)() as session, session.begin():
            assert await isolation_of(session) is None
            if not is_sqlite(url):
                first = (await session.execute(text("SELECT txid_current()"))).scalar_one()
                second = (await session.execute(text("SELECT txid_current()"))).scalar_one()
                assert first == second
    finally:
        await engine.dispose()


async def test_a_read_session_refuses_to_write(make_database: MakeDatabase) -> None:
    engine = create_engine(await make_database("reads", None))
    try:
        async with read_session_factory(engine)() as session:
            session.add(Thing())
            with pytest.raises(RuntimeError, match="read-only session"):
                await session.flush()
    finally:
        await engine.dispose()


BIGGEST_ABOVE = LeanRead(select(func.max(Thing.id)).where(Thing.id > bindparam("floor")))  # type: ignore[attr-defined]


async def test_a_lean_read_answers_as_the_orm_does_and_sees_its_own_transactions_writes(
    make_database: MakeDatabase,
) -> None:
    engine = create_engine(await make_database("reads", None))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(mapper.metadata.create_all)
            await connection.execute(text("INSERT INTO things (id) VALUES (1), (5), (9)"))
        async with read_session_factory(engine)() as session:
            assert await BIGGEST_ABOVE.scalar(session, floor=2) == 9
            assert await BIGGEST_ABOVE.scalar(session, floor=9) is None
        # Inside a transaction it must read through it: a driver connection of its own would not
        # see the row this transaction has written and not yet committed.
        async with session_factory(engine)() as session, session.begin():
            await session.execute(text("INSERT INTO things (id) VALUES (12)"))
            assert await BIGGEST_ABOVE.scalar(session, floor=2) == 12
            await session.rollback()
        async with read_session_factory(engine)() as session:
            assert await BIGGEST_ABOVE.scalar(session, floor=2) == 9
    finally:
        await engine.dispose()
