from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

from advocacy_devtools.testing import MakeDatabase
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
