"""A minimal service for testing the messaging backbone: one table that records each application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from advocacy_shared.consumers import EventConsumer, EventConsumers, RetryPolicy
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.messaging_tables import MessagingTables, messaging_tables
from advocacy_shared.outbox import Outbox, OutboxRelay
from advocacy_shared.topology import Topology

metadata = MetaData()
tables: MessagingTables = messaging_tables(metadata)
applied = Table(
    "applied",
    metadata,
    Column("row", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("organisation_id", String(64), nullable=False),
)


def organisation_created(name: str = "Probe") -> OrganisationCreated:
    organisation_id = uuid4()
    return OrganisationCreated(
        organisation_id=organisation_id,
        name=name,
        slug=f"probe-{organisation_id.hex[:8]}",
        created_at=utc_now(),
    )


@dataclass
class Probe:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    topology: Topology
    outbox: Outbox
    relay: OutboxRelay
    url: str = ""
    calls: list[str] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    @classmethod
    async def create(cls, url: str, topology: Topology) -> Probe:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        sessions = session_factory(engine)
        return cls(
            engine=engine,
            sessions=sessions,
            topology=topology,
            outbox=Outbox(tables.outbox, topology, source="/advocacy/probe"),
            relay=OutboxRelay(sessions, tables.outbox, interval=0.1, publish_timeout=1.0),
            url=url,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def emit(self, fact: OrganisationCreated) -> CloudEvent:
        async with self.transaction() as session:
            return await self.outbox.add(session, fact, fact.organisation_id)

    async def record(self, session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
        """The handler under test: fails on request, else records one application."""
        self.calls.append(envelope.id)
        if str(fact.organisation_id) in self.failing:
            raise RuntimeError(f"refusing organisation {fact.organisation_id}")
        await session.execute(
            applied.insert().values(event_id=envelope.id, organisation_id=envelope.orgid)
        )

    def consumer(self, policy: RetryPolicy, name: str = "record") -> EventConsumer:
        consumers = EventConsumers("probe")

        async def handler(session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
            await self.record(session, fact, envelope)

        handler.__name__ = name
        consumers.on(OrganisationCreated)(handler)
        (consumer,) = consumers.build(
            self.sessions, tables.inbox, self.topology, policy, after_commit=lambda: None
        )
        return consumer

    async def applications(self, organisation_id: UUID) -> int:
        async with self.sessions() as session:
            query = select(func.count()).where(applied.c.organisation_id == str(organisation_id))
            return int((await session.execute(query)).scalar_one())

    async def unpublished(self) -> int:
        async with self.sessions() as session:
            query = select(func.count()).where(tables.outbox.c.published_at.is_(None))
            return int((await session.execute(query)).scalar_one())
