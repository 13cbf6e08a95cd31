"""Migrated databases for tests, made once per test session and then copied.

Running Alembic for each test and each service took over a third of the suite's time. Instead, the
first test that asks for a service runs its migrations, and what they produced is kept:

- SQLite: the migrated file, copied for each later test (`shutil.copyfile`).
- PostgreSQL: the statements Alembic sent, recorded at the cursor, replayed into each later test's
  fresh schema in one transaction and one round trip per run of statements. They name no schema (a
  service's schema is its connection's search path), so they build the same tables, rows and version
  table in any schema. Should a migration ever spell out its schema's name, the recording is not
  kept and Alembic runs for each test, as before.

One instance lives per test session, so per pytest-xdist worker: nothing is shared between workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from advocacy_shared.db import async_url
from advocacy_shared.migrations import upgrade


@dataclass(frozen=True)
class Statement:
    """One statement as the driver received it; `parameters` is a list of rows when `many`."""

    sql: str
    parameters: Sequence[Any]
    many: bool = False


Script = list[str | Statement]
"""Runs of parameterless statements joined into one string, and each parameterised statement."""

_recording = threading.local()


def _record(
    _conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, executemany: bool
) -> None:
    statements: list[Statement] | None = getattr(_recording, "statements", None)
    if statements is not None:
        statements.append(Statement(sql, parameters or (), executemany))


@contextlib.contextmanager
def recorded_statements() -> Iterator[list[Statement]]:
    """Every statement that SQLAlchemy sends from this thread while the block runs."""
    statements: list[Statement] = []
    _recording.statements = statements
    event.listen(Engine, "before_cursor_execute", _record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", _record)
        _recording.statements = None


def _migrate_recording(package: str, url: str, service: str) -> list[Statement]:
    with recorded_statements() as statements:
        upgrade(package, url, service)
    return statements


def _script(statements: list[Statement]) -> Script:
    script: Script = []
    run: list[str] = []
    for statement in statements:
        if statement.parameters:
            if run:
                script.append(";\n".join(run))
                run = []
            script.append(statement)
        else:
            run.append(statement.sql)
    if run:
        script.append(";\n".join(run))
    return script


def driver_dsn(url: str) -> str:
    """A PostgreSQL URL as asyncpg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def schema_url(server_url: str, schema: str) -> str:
    with_schema = make_url(async_url(server_url)).update_query_dict({"schema": schema})
    return with_schema.render_as_string(hide_password=False)


async def run_script(server_url: str, script: str) -> None:
    """Statements without parameters, in one round trip and one transaction."""
    connection = await asyncpg.connect(driver_dsn(server_url))
    try:
        await connection.execute(script)
    finally:
        await connection.close()


async def _replay(server_url: str, schema: str, script: Script) -> None:
    connection = await asyncpg.connect(driver_dsn(server_url))
    try:
        async with connection.transaction():
            await connection.execute(
                f'CREATE SCHEMA "{schema}"; SET LOCAL search_path TO "{schema}"'
            )
            for step in script:
                if isinstance(step, str):
                    await connection.execute(step)
                elif step.many:
                    await connection.executemany(step.sql, step.parameters)
                else:
                    await connection.execute(step.sql, *step.parameters)
    finally:
        await connection.close()


def _checkpointed(path: Path) -> Path:
    """Fold the write-ahead log into the file, so that copying the file alone copies everything."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


class DatabaseTemplates:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sqlite: dict[tuple[str, str], Path] = {}
        self._sqlite_lock = threading.Lock()
        self._postgres: dict[tuple[str, str], Script | None] = {}
        self._postgres_lock = asyncio.Lock()

    def copy_sqlite(self, service: str, package: str, target: Path) -> None:
        """A migrated SQLite database for `service` at `target`. Blocking: run it in a thread."""
        with self._sqlite_lock:
            template = self._sqlite.get((service, package))
            if template is None:
                template = self.folder / f"{service}-{package}.db"
                upgrade(package, f"sqlite+aiosqlite:///{template}", service)
                self._sqlite[(service, package)] = _checkpointed(template)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)

    async def create_schema(
        self, server_url: str, schema: str, service: str, package: str | None
    ) -> None:
        """Create `schema` holding `package`'s migrations for `service` (empty without one)."""
        if package is None:
            await run_script(server_url, f'CREATE SCHEMA "{schema}"')
            return
        key = (service, package)
        async with self._postgres_lock:
            if key not in self._postgres:
                await run_script(server_url, f'CREATE SCHEMA "{schema}"')
                url = schema_url(server_url, schema)
                recorded = await asyncio.to_thread(_migrate_recording, package, url, service)
                reusable = not any(schema in statement.sql for statement in recorded)
                self._postgres[key] = _script(recorded) if reusable else None
                return
        script = self._postgres[key]
        if script is None:
            await run_script(server_url, f'CREATE SCHEMA "{schema}"')
            await asyncio.to_thread(upgrade, package, schema_url(server_url, schema), service)
        else:
            await _replay(server_url, schema, script)
