"""Fault: the gateway's outbox has two relays, the HTTP process's and the webhook delivery
process's (both run beside each other, as `advocacy run` and deploy/ start them). Events written
while both are woken reach the stream once each and in the order they were written: the relays
take turns (a PostgreSQL advisory lock; on SQLite, one process's asyncio lock)."""

from __future__ import annotations

import time

from nats.aio.client import Client as NatsClient

from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.topology import Topology
from tests.conftest import Gateway
from tests.fault.backbone import inversions
from tests.fault.conftest import FaultReport
from tests.shared.helpers import eventually, read_all
from tests.shared.probe import organisation_created

EVENTS = 120


async def test_the_gateway_http_and_webhook_processes_relay_one_outbox_in_turn(
    gateway: Gateway, topology: Topology, nats_client: NatsClient, fault_report: FaultReport
) -> None:
    state: GatewayState = gateway.app.state.gateway
    relays = [state.relay, gateway.webhooks.runtime.relay]
    for relay in relays:
        relay.batch_size = 10  # many short passes, so that the two relays interleave
    js = nats_client.jetstream()
    subject = OrganisationCreated.spec.subject(topology)
    stream = topology.stream_name("gateway")
    written: list[str] = []
    for n in range(EVENTS):
        fact = organisation_created(f"event {n}")
        async with state.sessions() as session, session.begin():
            envelope = await state.outbox.add(session, fact, organisation_id=fact.organisation_id)
        written.append(envelope.id)
        relays[n % 2].wake()
    written_at = time.monotonic()

    async def published_ids() -> list[str]:
        return [CloudEvent.from_bytes(m.data).id for m in await read_all(js, stream, subject)]

    async def all_published() -> bool:
        return set(written) <= set(await published_ids())

    await eventually(all_published, timeout=60)
    recovery = time.monotonic() - written_at
    published = await published_ids()
    fault_report.add(
        "two relays of the gateway's outbox (HTTP and webhooks)",
        events=EVENTS,
        lost=len(set(written) - set(published)),
        applied_twice=len(published) - len(set(published)),
        out_of_order=inversions(published, written),
        recovery_seconds=recovery,
    )
    assert published == written
    assert sum(relay.stats.duplicates for relay in relays) == 0
    assert sum(relay.stats.published for relay in relays) == EVENTS
