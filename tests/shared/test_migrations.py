"""Every service's migrations produce exactly what its models declare, in its own version table."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection

from advocacy_ambassadors.models import metadata as ambassadors
from advocacy_content.models import metadata as content
from advocacy_devtools.database_templates import run_script, schema_url
from advocacy_devtools.testing import MakeDatabase
from advocacy_gateway.models import metadata as gateway
from advocacy_metrics.models import metadata as metrics
from advocacy_planner.models import metadata as planner
from advocacy_shared.db import create_engine
from advocacy_shared.migrations import upgrade

METADATA = {
    "planner": planner,
    "ambassadors": ambassadors,
    "content": content,
    "metrics": metrics,
    "gateway": gateway,
}


@pytest.mark.parametrize("service", list(METADATA))
async def test_migrations_match_the_models(make_database: MakeDatabase, service: str) -> None:
    url = await make_database(service, f"advocacy_{service}")
    metadata = METADATA[service]
    engine = create_engine(url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"version_table": f"alembic_version_{service}"}
        )
        return list(compare_metadata(context, metadata))

    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
        assert await connection.run_sync(tables) == {
            *metadata.tables,
            f"alembic_version_{service}",
        }
    await engine.dispose()


def test_each_service_has_its_own_metadata() -> None:
    assert len({id(m) for m in METADATA.values()}) == len(METADATA)
    assert all(isinstance(m, MetaData) for m in METADATA.values())


async def test_a_schema_named_in_the_url_is_created_by_the_migration(
    postgres_url: str | None,
) -> None:
    """Issue 12: `?schema=name` failed at start ("no schema has been selected to create in")
    unless the schema was created by hand."""
    if postgres_url is None:
        pytest.skip("PostgreSQL only: SQLite has no schemas")
    schema = f"fresh_{uuid4().hex[:12]}"
    url = schema_url(postgres_url, schema)
    try:
        await asyncio.to_thread(upgrade, "advocacy_planner", url, "planner")
        engine = create_engine(postgres_url)
        async with engine.connect() as connection:
            tables = await connection.run_sync(
                lambda sync: set(inspect(sync).get_table_names(schema=schema))
            )
        await engine.dispose()
        assert {*planner.tables, "alembic_version_planner"} <= tables
    finally:
        await run_script(postgres_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
