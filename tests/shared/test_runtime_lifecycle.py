"""A service's lifecycle: it answers requests only once its consumers run, and stops when a task it
needs ends."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NatsClient

from advocacy_devtools.testing import MakeDatabase
from advocacy_planner.app import create_runtime
from advocacy_planner.settings import PlannerSettings
from advocacy_shared.contracts.errors import RpcNoResponders
from advocacy_shared.contracts.system import PingRequest, ping
from advocacy_shared.rpc import RpcClient
from advocacy_shared.runtime import ProcessFailed, ServiceRuntime, serve_until_signalled
from advocacy_shared.service_main import run
from advocacy_shared.topology import Topology
from tests.conftest import common_settings
from tests.shared.helpers import eventually


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


async def test_a_service_whose_relay_or_sweep_dies_stops_and_says_it_failed(
    nats_server_url: str,
    topology: Topology,
    make_database: MakeDatabase,
    nats_client: NatsClient,
) -> None:
    """Without its relay, a batch consumer or a sweep, a process would answer pings while doing
    part of its work; it stops instead and exits with status 1, for its supervisor to start it
    again."""
    runtime = create_runtime(
        PlannerSettings(
            database_url=await make_database("planner", "advocacy_planner"),
            **common_settings(nats_server_url, topology),
        )
    )
    crash = asyncio.Event()

    async def sweep_that_crashes(_runtime: ServiceRuntime) -> None:
        await crash.wait()
        raise RuntimeError("a bug in a sweep")

    runtime.background.append(sweep_that_crashes)
    rpc = RpcClient(nats_client, lambda operation: operation.subject(topology), 5.0)
    serving = asyncio.create_task(serve_until_signalled(runtime))
    await eventually(lambda: _answers(rpc), timeout=60)
    crash.set()
    async with asyncio.timeout(60):
        with pytest.raises(ProcessFailed):
            await serving
    with pytest.raises(RpcNoResponders):
        await rpc.call(ping("planner"), PingRequest())


async def _answers(rpc: RpcClient) -> bool:
    try:
        await rpc.call(ping("planner"), PingRequest())
    except RpcNoResponders:
        return False
    return True


def test_a_failed_process_exits_with_status_1() -> None:
    async def fails() -> None:
        raise ProcessFailed

    with pytest.raises(SystemExit) as exited:
        run(fails())
    assert exited.value.code == 1
