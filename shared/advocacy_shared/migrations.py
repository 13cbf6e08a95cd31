"""Alembic for every service: its own history, its own version table, async drivers.

Each service keeps a `migrations/` folder whose env.py calls `run_env` with that service's metadata.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection

from advocacy_shared.db import (
    UtcDateTime,
    async_url,
    create_engine,
    ensure_sqlite_folder,
    split_schema,
)

URL_ATTRIBUTE = "database_url"
VERSION_TABLE_ATTRIBUTE = "version_table"


def alembic_config(package: str, database_url: str, service: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    config.attributes[URL_ATTRIBUTE] = async_url(database_url)
    config.attributes[VERSION_TABLE_ATTRIBUTE] = f"alembic_version_{service}"
    return config


def upgrade(package: str, database_url: str, service: str, revision: str = "head") -> None:
    """Bring a service's database to `revision`. Synchronous: call it off the event loop."""
    ensure_sqlite_folder(database_url)
    command.upgrade(alembic_config(package, database_url, service), revision)


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    """Migrations spell our column types in plain SQLAlchemy: they must not import our code."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    config = context.config
    url = config.attributes.get(URL_ATTRIBUTE) or os.environ["ADVOCACY_MIGRATION_URL"]
    version_table = config.attributes[VERSION_TABLE_ATTRIBUTE]
    options = {
        "target_metadata": metadata,
        "version_table": version_table,
        "render_as_batch": True,
        "compare_type": True,
        "render_item": _render_item,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            _, schema = split_schema(url)
            if schema is not None:
                # `?schema=name` names where the service lives: make it, as a fresh database has
                # none but `public` (split_schema allows only a plain identifier).
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await connection.commit()
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run())
