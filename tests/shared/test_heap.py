"""A process leaves its start-up heap out of the collector's full collections once it has
started: the gateway and every service, not only those with a batch consumer (full collections
scanning the start-up heap paused the event loop every few seconds under load,
docs/performance.md "The seventh round")."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from nats.aio.client import Client as NatsClient

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.heap import freeze_start_up
from advocacy_shared.topology import Topology
from tests.conftest import SERVICES, Gateway, common_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Nothing frozen yet, as in a process of its own (the test session may have frozen)."""
    gc.unfreeze()
    freeze_start_up.cache_clear()
    yield
    gc.unfreeze()
    freeze_start_up.cache_clear()


async def test_the_gateway_freezes_its_start_up_heap_once_started(
    unfrozen: None, gateway: Gateway
) -> None:
    assert gc.get_freeze_count() > 0


async def test_a_service_freezes_its_start_up_heap_once_started(
    unfrozen: None,
    nats_server_url: str,
    topology: Topology,
    make_database: MakeDatabase,
    nats_client: NatsClient,  # deletes this test's streams afterwards
) -> None:
    settings_type, create_runtime = SERVICES["planner"]
    runtime = create_runtime(
        settings_type(
            database_url=await make_database("planner", "advocacy_planner"),
            **common_settings(nats_server_url, topology),
        )
    )
    assert gc.get_freeze_count() == 0
    await runtime.start()
    try:
        assert gc.get_freeze_count() > 0
    finally:
        await runtime.stop()
