"""Every service's migrations produce exactly what its models declare, in its own version table."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection

from advocacy_ambassadors.models import metadata as ambassadors
from advocacy_content.models import metadata as content
from advocacy_devtools.testing import MakeDatabase
from advocacy_gateway.models import metadata as gateway
from advocacy_metrics.models import metadata as metrics
from advocacy_planner.models import metadata as planner
from advocacy_shared.db import create_engine

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
