"""A service's start order: it answers requests only once its consumers run."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NatsClient

from advocacy_devtools.testing import MakeDatabase
from advocacy_planner.app import create_runtime
from advocacy_planner.settings import PlannerSettings
from advocacy_shared.contracts.errors import RpcNoResponders
from advocacy_shared.contracts.system import PingRequest, ping
from advocacy_shared.rpc import RpcClient
from advocacy_shared.topology import Topology
from tests.conftest import common_settings


class ConsumersCannotStart(Exception):
    """What a JetStream API time-out in the broker's start looks like to the runtime."""


async def test_a_service_whose_consumers_cannot_start_never_answers_a_ping(
    nats_server_url: str,
    topology: Topology,
    make_database: MakeDatabase,
    nats_client: NatsClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ping answer (the readiness checks, `/status`) must mean the whole service runs: were the
    request handlers subscribed before the consumers started, a service whose consumer start
    failed would answer pings until its process exited."""
    runtime = create_runtime(
        PlannerSettings(
            database_url=await make_database("planner", "advocacy_planner"),
            **common_settings(nats_server_url, topology),
        )
    )

    async def fail() -> None:
        raise ConsumersCannotStart

    monkeypatch.setattr(runtime.broker, "start", fail)
    rpc = RpcClient(nats_client, lambda operation: operation.subject(topology), 5.0)
    try:
        with pytest.raises(ConsumersCannotStart):
            await runtime.start()
        with pytest.raises(RpcNoResponders):
            await rpc.call(ping("planner"), PingRequest())
    finally:
        await runtime.stop()
