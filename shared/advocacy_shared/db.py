"""Async database wiring: SQLite through aiosqlite, PostgreSQL through asyncpg.

Each round trip to PostgreSQL costs a request a few tenths of a millisecond (docs/performance.md),
so the pool does not ping a connection before lending it (a dropped connection fails the statement
that finds it, and SQLAlchemy then replaces every connection of the pool), keeps enough connections
that none is opened per request, and reads that need no transaction run without BEGIN and COMMIT
(`read_session_factory`). asyncpg's prepared statements are cached per connection by SQLAlchemy's
dialect (`prepared_statement_cache_size`), which a pool of long-lived connections keeps warm.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    DateTime,
    Dialect,
    Insert,
    MetaData,
    Select,
    Table,
    TextClause,
    TypeDecorator,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, registry
from sqlalchemy.pool import Pool, QueuePool
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

from advocacy_shared.coalesce import Coalescer

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, in UTC, on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: give a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def service_registry() -> registry:
    """A registry with its own MetaData, so that no service shares SQLModel's global one."""
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def async_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def split_schema(url: str) -> tuple[str, str | None]:
    """Take the `schema` query parameter off a PostgreSQL URL: a service may live in one schema."""
    parsed = make_url(url)
    schema = parsed.query.get("schema")
    if schema is None:
        return url, None
    if not isinstance(schema, str) or not schema.replace("_", "").isalnum():
        raise ValueError("the `schema` parameter must be one plain identifier")
    return parsed.difference_update_query(["schema"]).render_as_string(hide_password=False), schema


POOL_SIZE = 16
"""Connections a PostgreSQL pool keeps: as many as a service's concurrent request handlers
(`rpc_max_workers`), so that a burst borrows kept connections instead of opening new ones."""
POOL_OVERFLOW = 8


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine. `?schema=name` on a PostgreSQL URL sets the search path to that schema."""
    url, schema = split_schema(async_url(url))
    kwargs: dict[str, Any] = {"pool_pre_ping": False, **options}
    if "poolclass" not in options:
        kwargs = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, **kwargs}
    if schema is not None:
        kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    if is_sqlite(url):
        ensure_sqlite_folder(url)
        kwargs = {"connect_args": {"timeout": 30}, **options}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def ensure_sqlite_folder(url: str) -> None:
    if not is_sqlite(url):
        return
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the relay read while a request writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(
    engine: AsyncEngine, sync_session_class: type[Session] = Session
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=sync_session_class)


class ReadOnlySession(Session):
    """A session that refuses to flush changes: its connection commits every statement by itself,
    so a write through it would not be atomic with anything."""

    def flush(self, objects: Any = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise RuntimeError("a read-only session was asked to write: use a transaction")
        super().flush(objects)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads that need no transaction: no BEGIN, no COMMIT, two round trips fewer.

    At READ COMMITTED (PostgreSQL's default) every statement sees its own snapshot inside a
    transaction too, so a read made of several statements loses nothing by running without one.
    """
    if engine.dialect.name == "sqlite":
        # pysqlite begins no transaction before a SELECT, and switching the isolation level would
        # cost aiosqlite two trips to its thread per session.
        return async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=ReadOnlySession
        )
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(
        autocommit, expire_on_commit=False, sync_session_class=ReadOnlySession
    )


class SingleStatementSession(ReadOnlySession):
    """A session whose statements each commit by themselves (`statement_session_factory`): for
    a write made of one statement, which is atomic on its own (its data-modifying CTEs commit
    together or not at all). It refuses to flush ORM changes, as a read session does."""


def statement_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions without BEGIN and COMMIT for writes of one statement each, on PostgreSQL: one
    round trip instead of three. SQLite has none: its writes take the transactional path."""
    if engine.dialect.name == "sqlite":
        raise ValueError("single-statement sessions are for PostgreSQL")
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(
        autocommit, expire_on_commit=False, sync_session_class=SingleStatementSession
    )


def _discards_on_return(pool: Pool) -> bool:
    """Whether the pool will close a connection given back now rather than keep it (it keeps
    `size()` of them; one beyond is an overflow connection). Closing an asyncpg connection is
    I/O, which SQLAlchemy runs only inside its greenlet (`MissingGreenlet` otherwise, and the
    connection left open on the server)."""
    if not isinstance(pool, QueuePool):
        return True
    return pool.checkedin() >= pool.size()


@functools.cache
def scoped_upsert(dialect: str, table: Table, key: str, updated: tuple[str, ...]) -> Insert:
    """`INSERT … ON CONFLICT (key) DO UPDATE` the `updated` columns from the row offered, only
    where the stored row has the offered row's `organisation_id` (another organisation's row with
    the same key is never touched; the statement's row count is then 0). On PostgreSQL and SQLite.

    Built once per shape and executed with the row as its parameters: a statement built around
    each call's values (`.values(...)`, `excluded`) cost a consumer more CPU than running it
    (docs/performance.md)."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_update(
        index_elements=[key],
        set_={column: statement.excluded[column] for column in updated},
        where=table.c.organisation_id == statement.excluded.organisation_id,
    )


class _CompiledOnce:
    """A prebuilt statement compiled for asyncpg once, on its first run there."""

    def __init__(self, statement: Select[Any] | TextClause | Insert) -> None:
        self.statement = statement
        self._compiled: tuple[str, tuple[str, ...]] | None = None

    def _sql(self, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
        if self._compiled is None:
            self._compiled = _positional(self.statement, dialect)
        return self._compiled

    def _bound(self, dialect: Dialect, params: dict[str, Any]) -> tuple[str, list[Any]]:
        """The statement's SQL for asyncpg and its positional arguments."""
        sql, names = self._sql(dialect)
        return sql, [params[name] for name in names]

    async def _on_driver(
        self,
        engine: AsyncEngine,
        params: dict[str, Any],
        use: Callable[[Any, str, list[Any]], Awaitable[T]],
    ) -> T:
        """`use(asyncpg connection, sql, positional arguments)` on a pooled connection."""
        sql, args = self._bound(engine.dialect, params)
        return await on_driver(engine.sync_engine.pool, lambda driver: use(driver, sql, args))


class LeanRead(_CompiledOnce):
    """A read of one prebuilt statement that, in a read session on PostgreSQL, runs straight on
    asyncpg: the statement is compiled once, and each call costs a pool checkout and the driver's
    prepared statement, not SQLAlchemy's ORM execution path (session, compile cache lookup, result
    construction), which cost about three times the statement itself in CPU, nor its `Connection`
    (docs/performance.md).

    Anywhere else (SQLite, or a session inside a transaction, whose reads must see its own
    uncommitted writes) it runs through the session. Only for statements whose parameters and
    result columns need no SQLAlchemy type processing: UUIDs, numbers, text.
    """

    def __init__(self, statement: Select[Any]) -> None:
        super().__init__(statement)

    async def scalar(self, session: AsyncSession, **params: Any) -> Any:
        engine = session.bind
        if not runs_on_driver(session, engine):
            driver = await transaction_driver(session)
            if driver is None:
                return (await session.execute(self.statement, params)).scalar_one_or_none()
            sql, args = self._bound(_dialect_of(session), params)
            return await driver.fetchval(sql, *args)
        assert isinstance(engine, AsyncEngine)
        return await self._on_driver(
            engine, params, lambda driver, sql, args: driver.fetchval(sql, *args)
        )


class LeanStatement(_CompiledOnce):
    """One prebuilt statement (a `text()` or an `INSERT` whose parameters and result columns
    need no SQLAlchemy type processing), run straight on asyncpg on PostgreSQL: in a session
    without a transaction (a read session, or a `SingleStatementSession` for a write of one
    statement, which then commits by itself), as `LeanRead` runs a read, and in a transaction on
    the transaction's own connection (`transaction_driver`). On SQLite, through the session."""

    def __init__(self, statement: TextClause | Insert) -> None:
        super().__init__(statement)

    async def many(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        """The statement once for each of `rows` in `session`'s transaction, in one round trip
        (the driver's executemany)."""
        driver = await transaction_driver(session)
        if driver is None:
            await session.execute(self.statement, rows)
            return
        sql, names = self._sql(_dialect_of(session))
        await driver.executemany(sql, [[row[name] for name in names] for row in rows])

    async def first(self, session: AsyncSession, **params: Any) -> tuple[Any, ...] | None:
        """The statement's first row, or None."""
        engine = session.bind
        if not runs_on_driver(session, engine):
            driver = await transaction_driver(session)
            if driver is None:
                row = (await session.execute(self.statement, params)).first()
                return None if row is None else tuple(row)
            sql, args = self._bound(_dialect_of(session), params)
            record = await driver.fetchrow(sql, *args)
            return None if record is None else tuple(record)
        assert isinstance(engine, AsyncEngine)
        record = await self._on_driver(
            engine, params, lambda driver, sql, args: driver.fetchrow(sql, *args)
        )
        return None if record is None else tuple(record)


_TRANSACTION_DRIVER = "advocacy_transaction_driver"


def _dialect_of(session: AsyncSession) -> Dialect:
    """The dialect `session`'s statements are compiled for (asyncpg's, where a driver serves)."""
    assert session.bind is not None
    return session.bind.dialect


async def transaction_driver(session: AsyncSession) -> Any | None:
    """The asyncpg connection under `session`'s transaction, its BEGIN sent, for prebuilt
    statements whose parameters and results need no SQLAlchemy type processing (UUIDs, numbers,
    text, aware datetimes); None where there is none: SQLite, a session outside a transaction, a
    read session (`runs_on_driver` serves those).

    A statement sent through the session costs several times its cost on the driver (the ORM
    execution path, a greenlet, the result's construction; docs/performance.md, "The ninth
    round"). The session's pending objects are flushed first, as its autoflush would before a
    statement of its own, so statements keep the program's order. SQLAlchemy's asyncpg adapter
    sends BEGIN just before its own first statement (`_start_transaction`, which it calls when it
    holds no transaction yet); a statement on the driver may come first, so this starts the
    adapter's transaction the same way, and the session's commit or rollback ends it.
    `tests/shared/test_db_reads.py` checks both ends."""
    sync = session.sync_session
    if isinstance(sync, ReadOnlySession) or not sync.in_transaction():
        return None
    engine = session.bind
    if not isinstance(engine, AsyncEngine) or engine.dialect.driver != "asyncpg":
        return None
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()
    transaction = sync.get_transaction()
    held = session.info.get(_TRANSACTION_DRIVER)
    if held is not None and held[0] is transaction:
        return held[1]
    procured = (await session.connection()).sync_connection  # the transaction's, procured once
    assert procured is not None
    adapted: Any = procured.connection.dbapi_connection
    if adapted._transaction is None:
        await adapted._start_transaction()
    driver = adapted.driver_connection
    session.info[_TRANSACTION_DRIVER] = (transaction, driver)
    return driver


def runs_on_driver(session: AsyncSession, engine: Any) -> bool:
    """Whether a statement of `session` may run straight on asyncpg: on PostgreSQL, a session
    without transactions (a read session, which sees only committed rows, or a
    `SingleStatementSession`), so that the statement needs no transaction of the session's."""
    return (
        isinstance(engine, AsyncEngine)
        and engine.dialect.driver == "asyncpg"
        and isinstance(session.sync_session, ReadOnlySession)
    )


def _positional(statement: ClauseElement, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled.string, tuple(compiled.positiontup or ())


async def on_driver(pool: Pool, use: Callable[[Any], Awaitable[T]]) -> T:
    """`use(asyncpg connection)` on a connection of an async engine's pool.

    The pool's connection itself (as `AsyncEngine.raw_connection` lends it), not a `Connection`
    around it: no isolation level set and reset, no engine events, no task to shield the close
    (nothing was begun, so the pool's reset on return is a no-op; the close does I/O only when
    the pool discards it).
    """
    pooled = await greenlet_spawn(pool.connect)
    try:
        driver = pooled.driver_connection
        assert driver is not None
        return await use(driver)
    except BaseException:
        # A failed or cancelled statement may leave the connection mid-protocol: the pool
        # replaces it at its next checkout rather than lend it as it is.
        pooled.invalidate(soft=True)
        raise
    finally:
        if _discards_on_return(pool):
            await greenlet_spawn(pooled.close)
        else:
            pooled.close()


class CoalescedRead(Generic[K, V]):
    """A read of one value by key whose concurrent calls, in read sessions on PostgreSQL, share
    statements (`Coalescer`): `many` takes the list of keys as its one parameter (`= ANY(...)`)
    and returns (key, value) rows; a key without a row reads as None. At 64 requests in flight
    this saves most of the reads' pool checkouts, statements and round trips; at one in flight
    each read still runs its own statement at once. A read is never answered by a statement
    that began before it was asked (the `Coalescer`'s promise), so it is as fresh as its own.

    `concurrency` statements at most at a time: 1 by default, which `make bench` measured the
    cheapest (64 connections on the planner's playbook: 0.14 to 0.15 ms of planner CPU a read with
    1, 0.17 to 0.23 with 2, 0.19 to 0.26 with 4; docs/performance.md). A statement of this kind (an
    indexed lookup) is never the slow part, and when the database stalls every statement does.

    Anywhere else (SQLite, a session inside a transaction) it is `one`, a `LeanRead` of the key
    alone. One `Coalescer` per pool (and event loop): a statement runs on a connection of the
    pool of the session that asks.
    """

    def __init__(
        self, many: ClauseElement, one: LeanRead, *, key: str, concurrency: int = 1
    ) -> None:
        self.many = many
        self.one = one
        self.key = key
        self.concurrency = concurrency
        self._coalescers: weakref.WeakKeyDictionary[
            Pool, tuple[asyncio.AbstractEventLoop, Coalescer[K, V]]
        ] = weakref.WeakKeyDictionary()

    async def get(self, session: AsyncSession, key: K) -> V | None:
        engine = session.bind
        if not runs_on_driver(session, engine):
            value: V | None = await self.one.scalar(session, **{self.key: key})
            return value
        assert isinstance(engine, AsyncEngine)
        return await self.coalescer(engine).get(key)

    def coalescer(self, engine: AsyncEngine) -> Coalescer[K, V]:
        """The engine's: by its pool, which the engine and its copies with other execution
        options (a read session's) share."""
        loop = asyncio.get_running_loop()
        pool = engine.sync_engine.pool
        kept = self._coalescers.get(pool)
        if kept is None or kept[0] is not loop:
            fetch = self._fetcher(weakref.ref(pool), self._sql(engine.dialect))
            kept = (loop, Coalescer(fetch, concurrency=self.concurrency))
            self._coalescers[pool] = kept
        return kept[1]

    def _sql(self, dialect: Dialect) -> str:
        sql, names = _positional(self.many, dialect)
        if len(names) != 1:
            raise ValueError(f"`many` takes one parameter, the keys; it has {names}")
        return sql

    @staticmethod
    def _fetcher(
        pool_ref: weakref.ref[Pool], sql: str
    ) -> Callable[[list[K]], Awaitable[dict[K, V]]]:
        # The pool weakly: the coalescer is the value of the pool's key in a weak dictionary,
        # and a strong reference from it would keep the pool alive for ever.
        async def fetch(keys: list[K]) -> dict[K, V]:
            pool = pool_ref()
            assert pool is not None, "a read of a session whose engine is gone"
            rows = await on_driver(pool, lambda driver: driver.fetch(sql, keys))
            return {row[0]: row[1] for row in rows}

        return fetch
