"""Fault: oversized and malformed messages among good ones. Every good event is applied once and in
order; each oversized row is parked in the outbox, each malformed message dead-lettered, and
neither holds up what follows. Real nats-server, real database."""

from __future__ import annotations

import time

from nats.aio.client import Client as NatsClient

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.deadletters import DeadLetters
from advocacy_shared.outbox_records import parked_events
from advocacy_shared.topology import Topology
from tests.fault.backbone import applied_counts, probe_service, start_consumer
from tests.fault.conftest import FaultReport
from tests.shared.helpers import eventually
from tests.shared.probe import organisation_created, tables
from tests.shared.test_consumers import FAST_RETRIES
from tests.shared.test_outbox_relay import write_row

ROUNDS = 6
GOOD_PER_ROUND = 10
MALFORMED = [
    b"{not json at all",
    b'{"specversion":"1.0","id":"bad-data","source":"/x","type":"advocacy.gateway.organisation.'
    b'created.v1","data":{"name":""},"orgid":"o","correlationid":"c"}',
]


async def test_oversized_and_malformed_messages_among_good_ones(
    make_database: MakeDatabase,
    topology: Topology,
    nats_client: NatsClient,
    nats_server_url: str,
    fault_report: FaultReport,
) -> None:
    js = nats_client.jetstream()
    subject = OrganisationCreated.spec.subject(topology)
    async with probe_service(make_database, topology, nats_client) as probe:
        good: list[str] = []
        oversized: list[str] = []
        for round_ in range(ROUNDS):
            for n in range(GOOD_PER_ROUND):
                good.append((await probe.emit(organisation_created(f"{round_}.{n}"))).id)
                if n == GOOD_PER_ROUND // 2:
                    oversized.append(await write_row(probe, "x" * (nats_client.max_payload + 1)))
            await probe.relay.publish_pending()
            for payload in MALFORMED:
                await js.publish(subject, payload)
        assert await probe.unpublished() == len(oversized)  # parked rows, nothing else behind

        started = time.monotonic()
        consumer = probe.consumer(FAST_RETRIES)
        broker = await start_consumer(consumer, nats_server_url, nats_client)
        letters = DeadLetters(js, topology)
        malformed = len(MALFORMED) * ROUNDS
        try:

            async def settled() -> bool:
                counts = await applied_counts(probe, good)
                return counts.lost == 0 and len(await letters.list()) == malformed

            await eventually(settled, timeout=60)
            recovery = time.monotonic() - started
        finally:
            await broker.stop()

        counts = await applied_counts(probe, good)
        parked = await parked_events(probe.sessions, tables.outbox)
        fault_report.add(
            "oversized and malformed among good ones",
            events=len(good) + len(oversized) + malformed,
            lost=counts.lost,
            applied_twice=counts.applied_twice,
            out_of_order=counts.out_of_order,
            recovery_seconds=recovery,
        )
        assert (counts.lost, counts.applied_twice, counts.out_of_order) == (0, 0, 0)
        assert sorted(p.id for p in parked) == sorted(oversized)
        assert all(str(p.reason).startswith("MaxPayloadError") for p in parked)
        assert len(await letters.list()) == malformed
