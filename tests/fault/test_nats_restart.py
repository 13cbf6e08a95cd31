"""nats-server stopped and started again on its store while events flow through the real backbone:
a service's outbox and relay publish, a durable consumer applies them with its inbox into a table
that keeps one row per application (so an event applied twice shows as two rows).

The nats-server is this test's own (never the machine's): it is stopped with SIGTERM mid-load and
started again on the same port and store, as a supervisor would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from sqlalchemy import select

from advocacy_devtools.embedded_nats import EmbeddedNats, free_port
from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.batch_consumers import OneAtATimeConsumer
from advocacy_shared.consumers import RetryPolicy
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import ensure_streams
from advocacy_shared.topology import Topology
from tests.fault.conftest import FaultReport
from tests.fault.counts import count
from tests.shared.helpers import eventually
from tests.shared.probe import Probe, applied, organisation_created

pytestmark = pytest.mark.timeout(600)  # processes restarted under load

EVENTS = 150
RETRIES = RetryPolicy(max_attempts=5, backoff=(0.1, 0.5), ack_wait=2.0)


@pytest.fixture
async def own_nats(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedNats]:
    server = EmbeddedNats(store_dir=tmp_path_factory.mktemp("own-nats"), port=free_port())
    server.start()
    yield server
    server.stop()


async def applied_ids(probe: Probe) -> list[str]:
    async with probe.sessions() as session:
        rows = await session.execute(select(applied.c.event_id).order_by(applied.c.row))
        return list(rows.scalars())


@pytest.mark.parametrize("way", ["faststream subscriber", "pull loop"])
async def test_nats_stopped_and_restarted_during_a_load_loses_nothing_and_applies_once(
    own_nats: EmbeddedNats,
    make_database: MakeDatabase,
    namespace: str,
    fault_report: FaultReport,
    way: str,
) -> None:
    """The consumer under FastStream's subscriber, or on the pull loop a service runs its
    ordinary consumers on (`OneAtATimeConsumer`, its pull requests lost with the server)."""
    topology = Topology(namespace)
    probe = await Probe.create(await make_database("probe", None), topology)
    client: NatsClient = await nats.connect(
        own_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1
    )
    broker: NatsBroker | None = None  # FastStream's way only: on the pull loop, an idle
    # connection of its own reconnects after the restart and can fail to drain at the end
    relay_task: asyncio.Task[None] | None = None
    pull_loop: asyncio.Task[None] | None = None
    try:
        js = client.jetstream()
        await ensure_streams(js, topology, ServiceSettings(namespace=namespace))
        consumer = probe.consumer(RETRIES)
        await consumer.ensure(js)
        if way == "pull loop":
            runner = await OneAtATimeConsumer.start(consumer, js)
            pull_loop = asyncio.create_task(runner.run())
        else:
            broker = NatsBroker(own_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=1)
            await broker.connect()
            consumer.attach(broker)
            await broker.start()
        probe.relay.js = js
        relay_task = asyncio.create_task(probe.relay.run())

        sent: list[str] = []

        async def emit(until: int) -> None:
            while len(sent) < until:
                sent.append((await probe.emit(organisation_created())).id)
                probe.relay.wake()
                await asyncio.sleep(0.005)

        async def applied_at_least(n: int) -> bool:
            return len(await applied_ids(probe)) >= n

        await emit(EVENTS // 3)
        await eventually(lambda: applied_at_least(EVENTS // 6), timeout=60)
        own_nats.stop()  # mid-load: part of the first third is still on its way
        await emit(2 * EVENTS // 3)  # while NATS is down: the outbox keeps them
        restarted = time.monotonic()
        own_nats.start()
        await emit(EVENTS)
        await eventually(lambda: applied_at_least(EVENTS), timeout=120)
        recovery = time.monotonic() - restarted

        await eventually(lambda: _settled(client, consumer.stream, consumer.durable), timeout=60)
        counts = count(sent, await applied_ids(probe))
    finally:
        for task in (relay_task, pull_loop):
            if task is not None:
                task.cancel()
        if broker is not None:
            await broker.stop()
        await client.close()
        await probe.engine.dispose()

    fault_report.add(
        f"nats-server stopped and restarted ({way})",
        events=counts.events,
        lost=counts.lost,
        applied_twice=counts.applied_twice,
        out_of_order=counts.out_of_order,
        recovery_seconds=recovery,
    )
    assert counts.events == EVENTS
    assert (counts.lost, counts.applied_twice, counts.out_of_order) == (0, 0, 0)


async def _settled(client: NatsClient, stream: str, durable: str) -> bool:
    """Nothing pending and nothing awaiting an ack: any redelivery has happened by now."""
    info = await client.jetstream().consumer_info(stream, durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)
