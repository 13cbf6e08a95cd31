"""Fault: two relays publish one outbox and two consumers (replicas of one durable) consume its
stream, while events are written. Every event reaches the stream once and in the order it was
written (the relays take turns: a PostgreSQL advisory lock, an asyncio lock on SQLite), and is
applied exactly once (the inbox).

"Out of order" counts the stream's order against the outbox's: two replicas of one durable may
commit neighbouring events in either order, which is why facts that need order carry per-entity
versions that consumers compare (docs/architecture.md); this test does not count that."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client as NatsClient

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.outbox import OutboxRelay
from advocacy_shared.topology import Topology
from tests.fault.backbone import applied_counts, inversions, probe_service, start_consumer
from tests.fault.conftest import FaultReport
from tests.shared.helpers import eventually, read_all
from tests.shared.probe import organisation_created, tables
from tests.shared.test_consumers import FAST_RETRIES

EVENTS = 150


async def test_two_relays_and_two_consumers_of_one_stream(
    make_database: MakeDatabase,
    topology: Topology,
    nats_client: NatsClient,
    nats_server_url: str,
    fault_report: FaultReport,
) -> None:
    js = nats_client.jetstream()
    async with probe_service(make_database, topology, nats_client) as probe:
        second_engine = create_engine(probe.url)
        relays = [
            probe.relay,
            OutboxRelay(session_factory(second_engine), tables.outbox, interval=0.05),
        ]
        for relay in relays:
            relay.js = js
            relay.batch_size = 10
            relay.interval = 0.05
        consumers = [probe.consumer(FAST_RETRIES), probe.consumer(FAST_RETRIES)]
        brokers = [await start_consumer(c, nats_server_url, nats_client) for c in consumers]
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        written: list[str] = []
        try:
            for n in range(EVENTS):
                written.append((await probe.emit(organisation_created(f"event {n}"))).id)
                if n % 10 == 0:
                    for relay in relays:
                        relay.wake()
            written_at = time.monotonic()

            async def all_applied() -> bool:
                return (await applied_counts(probe, written)).lost == 0

            await eventually(all_applied, timeout=60)
            recovery = time.monotonic() - written_at
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for broker in brokers:
                await broker.stop()
            await second_engine.dispose()

        published = [
            CloudEvent.from_bytes(m.data).id
            for m in await read_all(
                js, topology.stream_name("gateway"), OrganisationCreated.spec.subject(topology)
            )
        ]
        counts = await applied_counts(probe, written)
        stream_twice = len(published) - len(set(published))
        fault_report.add(
            "two relays and two consumers of one stream",
            events=EVENTS,
            lost=counts.lost + len(set(written) - set(published)),
            applied_twice=counts.applied_twice + stream_twice,
            out_of_order=inversions(published, written),
            recovery_seconds=recovery,
        )
        assert published == written
        assert (counts.lost, counts.applied_twice) == (0, 0)
        assert sum(relay.stats.duplicates for relay in relays) == 0
