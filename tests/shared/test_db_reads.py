"""Read sessions (advocacy_shared.db.read_session_factory): no BEGIN, no COMMIT, no writes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import registry

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.contracts.base import Operation, RpcReply, RpcRequest
from advocacy_shared.db import (
    CoalescedRead,
    LeanRead,
    LeanStatement,
    create_engine,
    is_sqlite,
    read_session_factory,
    session_factory,
    transaction_driver,
)
from advocacy_shared.rpc import RpcClient, RpcServer
from advocacy_shared.topology import Topology
from tests.shared.helpers import eventually, serving_probe

mapper = registry()


class Thing:
    """A mapped class: enough for a flush to have something to write."""


mapper.map_imperatively(
    Thing, Table("things", mapper.metadata, Column("id", Integer, primary_key=True))
)


@asynccontextmanager
async def serving_things(
    server: RpcServer, engine: AsyncEngine, nats_server_url: str, topology: Topology
) -> AsyncIterator[RpcClient]:
    """`server` answering over NATS with the things 1, 5 and 9 stored; a client to call it. The
    engine is disposed of afterwards."""
    try:
        async with serving_probe(
            server,
            nats_server_url,
            topology,
            transaction=session_factory(engine),
            read=read_session_factory(engine),
            max_workers=4,
        ) as nc:
            async with engine.begin() as connection:
                await connection.run_sync(mapper.metadata.create_all)
                await connection.execute(text("INSERT INTO things (id) VALUES (1), (5), (9)"))
            yield RpcClient(nc, lambda op: op.subject(topology), timeout=5.0)
    finally:
        await engine.dispose()


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


class Floor(RpcRequest):
    floor: int


class Biggest(RpcReply):
    value: int | None


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


THING = LeanStatement(Thing.__table__.insert().values(id=bindparam("id")))  # type: ignore[attr-defined]


class Failed(Exception):
    pass


async def things(engine: AsyncEngine) -> list[int]:
    async with read_session_factory(engine)() as session:
        return list((await session.execute(text("SELECT id FROM things ORDER BY id"))).scalars())


async def test_statements_on_the_transactions_driver_commit_and_roll_back_with_it(
    make_database: MakeDatabase,
) -> None:
    """A lean statement inside a transaction runs on the transaction's own connection
    (`transaction_driver`, PostgreSQL), first or after the session's own statements: the commit
    keeps it, a rollback undoes it, and a read there sees the session's unflushed objects."""
    url = await make_database("reads", None)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(mapper.metadata.create_all)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            await THING.many(session, [{"id": 1}, {"id": 2}])  # before anything else
            await session.execute(text("INSERT INTO things (id) VALUES (3)"))
            await THING.many(session, [{"id": 4}])
            if not is_sqlite(url):
                txid = (await session.execute(text("SELECT txid_current()"))).scalar_one()
                driver = await transaction_driver(session)
                assert driver is not None
                assert await driver.fetchval("SELECT txid_current()") == txid
                assert driver is await transaction_driver(session)  # one per transaction
        assert await things(engine) == [1, 2, 3, 4]

        with pytest.raises(Failed):
            async with sessions() as session, session.begin():
                await THING.many(session, [{"id": 5}])
                await session.execute(text("INSERT INTO things (id) VALUES (6)"))
                raise Failed
        with pytest.raises(Failed):
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO things (id) VALUES (7)"))
                await THING.many(session, [{"id": 8}])
                raise Failed
        assert await things(engine) == [1, 2, 3, 4]

        async with sessions() as session, session.begin():
            thing = Thing()
            thing.id = 20  # type: ignore[attr-defined]
            session.add(thing)  # pending: flushed before the lean read, as autoflush would
            assert await BIGGEST_ABOVE.scalar(session, floor=2) == 20
            await session.rollback()
        assert await things(engine) == [1, 2, 3, 4]
        async with read_session_factory(engine)() as session:
            assert await transaction_driver(session) is None  # no transaction: its own path
    finally:
        await engine.dispose()


async def test_read_handlers_give_their_connections_back_whether_they_read_lean_or_not(
    make_database: MakeDatabase, nats_server_url: str, topology: Topology
) -> None:
    """The RPC server closes a read session that took no connection without the shielded close
    of `AsyncSession.__aexit__`: every connection a read took must still be back in the pool."""
    engine = create_engine(await make_database("reads", None))
    server = RpcServer("probe")
    lean: Operation[Floor, Biggest] = Operation("probe", "lean", Floor, Biggest)
    orm: Operation[Floor, Biggest] = Operation("probe", "orm", Floor, Biggest)

    @server.reads(lean)
    async def read_lean(session: AsyncSession, request: Floor) -> Biggest:
        return Biggest(value=await BIGGEST_ABOVE.scalar(session, floor=request.floor))

    @server.reads(orm)
    async def read_orm(session: AsyncSession, request: Floor) -> Biggest:
        query = select(func.max(Thing.id)).where(Thing.id > request.floor)  # type: ignore[attr-defined]
        return Biggest(value=(await session.execute(query)).scalar_one_or_none())

    async with serving_things(server, engine, nats_server_url, topology) as client:
        for operation in (lean, orm) * 3:
            assert (await client.call(operation, Floor(floor=2))).value == 9
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_read_session_that_only_read_lean_serves_the_next_read_and_no_other_does(
    make_database: MakeDatabase, nats_server_url: str, topology: Topology
) -> None:
    """Reused only when it holds nothing: no connection, no rows. A session that read through
    the ORM is closed and the next read gets another."""
    engine = create_engine(await make_database("reads", None))
    server = RpcServer("probe")
    lean: Operation[Floor, Biggest] = Operation("probe", "lean", Floor, Biggest)
    rows: Operation[Floor, Biggest] = Operation("probe", "rows", Floor, Biggest)
    seen: dict[str, list[AsyncSession]] = {"lean": [], "rows": []}

    @server.reads(lean)
    async def read_lean(session: AsyncSession, request: Floor) -> Biggest:
        seen["lean"].append(session)
        return Biggest(value=await BIGGEST_ABOVE.scalar(session, floor=request.floor))

    @server.reads(rows)
    async def read_rows(session: AsyncSession, request: Floor) -> Biggest:
        seen["rows"].append(session)
        things = (await session.execute(select(Thing))).scalars().all()
        return Biggest(value=max(thing.id for thing in things))  # type: ignore[attr-defined]

    async with serving_things(server, engine, nats_server_url, topology) as client:
        for operation in (lean, rows, lean, rows, lean):
            assert (await client.call(operation, Floor(floor=2))).value == 9
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert len({id(session) for session in seen["rows"]}) == 2
    lean_sessions = {id(session) for session in seen["lean"]}
    # On SQLite a lean read goes through the session (which then holds a connection): never kept.
    assert len(lean_sessions) == (3 if is_sqlite(str(engine.url)) else 1)
    assert not lean_sessions & {id(session) for session in seen["rows"]}


async def test_a_lean_read_that_fails_leaves_the_pool_fit_to_serve(
    make_database: MakeDatabase,
) -> None:
    engine = create_engine(await make_database("reads", None))
    failing = LeanRead(select(func.max(Thing.id) / bindparam("divisor")))  # type: ignore[attr-defined]
    try:
        async with engine.begin() as connection:
            await connection.run_sync(mapper.metadata.create_all)
            await connection.execute(text("INSERT INTO things (id) VALUES (4)"))
        async with read_session_factory(engine)() as session:
            if not is_sqlite(str(engine.url)):
                with pytest.raises(Exception, match="division by zero"):
                    await failing.scalar(session, divisor=0)
            assert await failing.scalar(session, divisor=2) == 2
            assert await BIGGEST_ABOVE.scalar(session, floor=0) == 4
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_lean_reads_past_the_pool_size_give_their_overflow_connections_back(
    make_database: MakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection beyond the pool's size is closed, not kept, when it is given back: on
    asyncpg that close is I/O, which SQLAlchemy can only run inside its greenlet."""
    engine = create_engine(await make_database("reads", None), pool_size=2, max_overflow=6)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(mapper.metadata.create_all)
            await connection.execute(text("INSERT INTO things (id) VALUES (3)"))
        sessions = read_session_factory(engine)
        # Each read holds its connection a while, so that all of them are out at once.
        slow = LeanRead(select(func.max(Thing.id), func.pg_sleep(bindparam("pause"))))  # type: ignore[attr-defined]

        async def read() -> Any:
            async with sessions() as session:
                if is_sqlite(str(engine.url)):
                    return await BIGGEST_ABOVE.scalar(session, floor=0)
                return await slow.scalar(session, pause=0.2)

        for _ in range(2):  # the second round reuses what the first gave back
            answers = await asyncio.gather(*(read() for _ in range(8)))
            assert all(answer is not None for answer in answers)
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert engine.pool.overflow() <= 0  # type: ignore[attr-defined]
        failed_closes = [r for r in caplog.records if r.name.startswith("sqlalchemy.pool")]
        assert failed_closes == []  # "Exception closing connection": left open on the server
    finally:
        await engine.dispose()


scores = Table(
    "scores",
    mapper.metadata,
    Column("player", Integer, primary_key=True),
    Column("score", Integer, nullable=False),
)
SCORE = CoalescedRead[int, int](
    select(scores.c.player, scores.c.score).where(scores.c.player == any_(bindparam("players"))),
    LeanRead(select(scores.c.score).where(scores.c.player == bindparam("player"))),
    key="player",
    concurrency=1,
)


async def create_scores(engine: AsyncEngine, rows: dict[int, int]) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(mapper.metadata.create_all)
        for player, score in rows.items():
            await connection.execute(scores.insert().values(player=player, score=score))


async def test_coalesced_reads_share_statements_and_each_gets_its_own_key(
    make_database: MakeDatabase,
) -> None:
    engine = create_engine(await make_database("reads", None))
    try:
        await create_scores(engine, {n: n * 10 for n in range(1, 6)})
        sessions = read_session_factory(engine)

        async def score_of(player: int) -> int | None:
            async with sessions() as session:
                return await SCORE.get(session, player)

        players = [1 + n % 6 for n in range(60)]  # 6 has no row
        answers = await asyncio.gather(*(score_of(player) for player in players))
        assert answers == [None if p == 6 else p * 10 for p in players]
        if is_sqlite(str(engine.url)):  # no coalescing there: a statement each, through the session
            return
        coalescer = SCORE.coalescer(engine)
        assert coalescer.lookups == 60
        assert coalescer.fetches < 60
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_coalesced_read_made_after_a_commit_sees_it_though_an_older_statement_runs(
    make_database: MakeDatabase,
) -> None:
    """The statement in flight began before the commit: a read made after the commit must not
    take its answer."""
    url = await make_database("reads", None)
    if is_sqlite(url):
        pytest.skip("reads are coalesced on PostgreSQL only")
    engine = create_engine(url)
    # pg_sleep holds the statement open, so that a read can be made while it runs; the token
    # tells this statement from any other test's in pg_stat_activity. It sleeps a whole second so
    # that a poll on a loaded machine still finds it asleep.
    token = uuid.uuid4().hex
    slow_score = CoalescedRead[int, int](
        select(
            scores.c.player,
            scores.c.score,
            func.pg_sleep(literal_column("1")),
            literal_column(f"'{token}'"),
        ).where(scores.c.player == any_(bindparam("players"))),
        LeanRead(select(scores.c.score).where(scores.c.player == bindparam("player"))),
        key="player",
    )
    try:
        await create_scores(engine, {1: 10})
        sessions = read_session_factory(engine)

        async def score_of() -> int | None:
            async with sessions() as session:
                return await slow_score.get(session, 1)

        before = asyncio.create_task(score_of())

        async def sleeping() -> bool:
            async with engine.connect() as connection:
                # Not just state 'active': PostgreSQL sets it at Parse, before Bind takes the
                # statement's snapshot. Only once it sleeps has it read the row.
                query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                query += f"AND query LIKE '%{token}%' AND pid <> pg_backend_pid()"
                return bool((await connection.execute(text(query))).scalar())

        await eventually(sleeping)  # its row is read: it answers 10
        async with engine.begin() as connection:
            await connection.execute(scores.update().values(score=11))
        after = asyncio.create_task(score_of())
        assert await before == 10
        assert await after == 11
        assert slow_score.coalescer(engine).fetches == 2
    finally:
        await engine.dispose()


async def test_coalesced_reads_inside_a_transaction_read_through_it(
    make_database: MakeDatabase,
) -> None:
    engine = create_engine(await make_database("reads", None))
    try:
        await create_scores(engine, {1: 10})
        async with session_factory(engine)() as session, session.begin():
            await session.execute(scores.update().values(score=12))
            assert await SCORE.get(session, 1) == 12
            await session.rollback()
        async with read_session_factory(engine)() as session:
            assert await SCORE.get(session, 1) == 10
    finally:
        await engine.dispose()
