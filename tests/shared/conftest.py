from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.batch_consumers import OneAtATimeConsumer
from advocacy_shared.consumers import EventConsumer
from advocacy_shared.lifecycle import cancel
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import ensure_streams
from advocacy_shared.topology import Topology
from tests.shared.probe import Probe


@pytest.fixture
async def probe(
    make_database: MakeDatabase, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[Probe]:
    probe = await Probe.create(await make_database("probe", None), topology)
    js = nats_client.jetstream()
    await ensure_streams(js, topology, ServiceSettings(namespace=topology.namespace))
    probe.relay.js = js
    yield probe
    await probe.engine.dispose()


@pytest.fixture
async def broker(nats_server_url: str) -> AsyncIterator[NatsBroker]:
    broker = NatsBroker(nats_server_url, log_level=logging.DEBUG)
    await broker.connect()
    yield broker
    await broker.stop()


Start = Callable[[EventConsumer], Awaitable[None]]


@pytest.fixture(params=["faststream subscriber", "pull loop"])
async def start(
    request: pytest.FixtureRequest, broker: NatsBroker, nats_client: NatsClient
) -> AsyncIterator[Start]:
    """Starts a consumer one way or the other; a pull loop is cancelled after the test."""
    loops: list[asyncio.Task[None]] = []

    async def starting(consumer: EventConsumer) -> None:
        js = nats_client.jetstream()
        await consumer.ensure(js)
        if request.param == "pull loop":
            runner = await OneAtATimeConsumer.start(consumer, js)
            loops.append(asyncio.create_task(runner.run()))
        else:
            consumer.attach(broker)
            await broker.start()

    yield starting
    for loop in loops:
        await cancel(loop)
