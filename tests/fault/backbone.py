"""What the backbone's fault tests share: a probe service on a real database and NATS, consumers on
their own connections, and the counts a fault row reports."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import pairwise

from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from sqlalchemy import select

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.consumers import EventConsumer
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import ensure_streams
from advocacy_shared.topology import Topology
from tests.shared.probe import Probe, applied


@asynccontextmanager
async def probe_service(
    make_database: MakeDatabase, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[Probe]:
    """The probe service of `tests.shared.probe` on a fresh database, its streams declared."""
    probe = await Probe.create(await make_database("probe", None), topology)
    js = nats_client.jetstream()
    await ensure_streams(js, topology, ServiceSettings(namespace=topology.namespace))
    probe.relay.js = js
    try:
        yield probe
    finally:
        await probe.engine.dispose()


async def start_consumer(
    consumer: EventConsumer, nats_server_url: str, nats_client: NatsClient
) -> NatsBroker:
    """A consumer on its own connection, as a replica of a service would run it."""
    broker = NatsBroker(nats_server_url, log_level=logging.DEBUG)
    await broker.connect()
    await consumer.ensure(nats_client.jetstream())
    consumer.attach(broker)
    await broker.start()
    return broker


@dataclass(frozen=True)
class Counts:
    lost: int
    applied_twice: int
    out_of_order: int


async def applied_counts(probe: Probe, expected: list[str]) -> Counts:
    """Compare the applications recorded (in commit order) with the events expected (in order)."""
    async with probe.sessions() as session:
        rows = (await session.execute(select(applied.c.event_id).order_by(applied.c.row))).all()
    seen = [row.event_id for row in rows]
    return Counts(
        lost=sum(1 for event_id in expected if event_id not in seen),
        applied_twice=sum(1 for event_id in expected if seen.count(event_id) > 1),
        out_of_order=inversions(seen, expected),
    )


def inversions(seen: list[str], expected: list[str]) -> int:
    """How many neighbours in `seen` are in the opposite order of `expected` (0: in order)."""
    rank = {event_id: n for n, event_id in enumerate(expected)}
    ranks = [rank[event_id] for event_id in seen if event_id in rank]
    return sum(1 for a, b in pairwise(ranks) if a > b)
