"""Async database wiring: SQLite through aiosqlite, PostgreSQL through asyncpg.

Each round trip to PostgreSQL costs a request a few tenths of a millisecond (docs/performance.md),
so the pool does not ping a connection before lending it (a dropped connection fails the statement
that finds it, and SQLAlchemy then replaces every connection of the pool), keeps enough connections
that none is opened per request, and reads that need no transaction run without BEGIN and COMMIT
(`read_session_factory`). asyncpg's prepared statements are cached per connection by SQLAlchemy's
dialect (`prepared_statement_cache_size`), which a pool of long-lived connections keeps warm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, Select, TypeDecorator, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, registry
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import greenlet_spawn

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


def _discards_on_return(engine: AsyncEngine) -> bool:
    """Whether the pool will close a connection given back now rather than keep it (it keeps
    `size()` of them; one beyond is an overflow connection). Closing an asyncpg connection is
    I/O, which SQLAlchemy runs only inside its greenlet (`MissingGreenlet` otherwise, and the
    connection left open on the server)."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return True
    return pool.checkedin() >= pool.size()


class LeanRead:
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
        self.statement = statement
        self._compiled: tuple[str, tuple[str, ...]] | None = None

    async def scalar(self, session: AsyncSession, **params: Any) -> Any:
        engine = session.bind
        if not self._runs_on_driver(session, engine):
            return (await session.execute(self.statement, params)).scalar_one_or_none()
        assert isinstance(engine, AsyncEngine)
        sql, names = self._sql(engine.dialect)
        # The pool's connection itself, not a `Connection` around it: no isolation level set and
        # reset, no engine events, no task to shield the close (nothing was begun, so the pool's
        # reset on return is a no-op; the close does I/O only when the pool discards it).
        pooled = await engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            return await driver.fetchval(sql, *(params[name] for name in names))
        except BaseException:
            # A failed or cancelled statement may leave the connection mid-protocol: the pool
            # replaces it at its next checkout rather than lend it as it is.
            pooled.invalidate(soft=True)
            raise
        finally:
            if _discards_on_return(engine):
                await greenlet_spawn(pooled.close)
            else:
                pooled.close()

    @staticmethod
    def _runs_on_driver(session: AsyncSession, engine: Any) -> bool:
        return (
            isinstance(engine, AsyncEngine)
            and engine.dialect.driver == "asyncpg"
            and isinstance(session.sync_session, ReadOnlySession)
        )

    def _sql(self, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
        if self._compiled is None:
            compiled = self.statement.compile(dialect=dialect)
            self._compiled = (compiled.string, tuple(compiled.positiontup or ()))
        return self._compiled
