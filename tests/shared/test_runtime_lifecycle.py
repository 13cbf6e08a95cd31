"""A service's lifecycle: it answers requests only once its consumers run, and stops when a task it
needs ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from nats.aio.client import Client as NatsClient

from advocacy_devtools.testing import MakeDatabase
from advocacy_planner.app import create_runtime
from advocacy_planner.settings import PlannerSettings
from advocacy_shared.contracts.errors import RpcNoResponders
from advocacy_shared.contracts.system import PingRequest, ping
from advocacy_shared.lifecycle import cancel
from advocacy_shared.rpc import RpcClient
from advocacy_shared.runtime import ProcessFailed, ServiceRuntime, serve_until_signalled
from advocacy_shared.service_main import run
from advocacy_shared.telemetry import OutboxSample, Sampler
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


async def test_a_task_that_ignores_its_cancellation_is_named_and_left_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A shutdown step must end: a task that swallows every cancellation is reported with where it
    waits and left running, instead of holding its service's stop (the earlier `cancel` waited
    for it through a second cancellation, which such a task swallows too: forever)."""
    release = asyncio.Event()
    task = asyncio.create_task(stubborn(release), name="stubborn")
    await asyncio.sleep(0)
    try:
        with caplog.at_level(logging.WARNING, logger="advocacy_shared.lifecycle"):
            async with asyncio.timeout(10):
                await cancel(task, seconds=0.2)
        (record,) = [r for r in caplog.records if r.msg == "task did not end when cancelled"]
        assert record.__dict__["task"] == "stubborn"
        assert record.__dict__["where"].startswith("stubborn (")
        assert not task.done()
    finally:
        release.set()
        await task


async def test_cancel_ends_a_task_that_honours_it_and_passes_its_own_cancellation_on() -> None:
    started = asyncio.Event()

    async def sleeper() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(sleeper())
    await started.wait()
    await cancel(task)
    assert task.cancelled()

    release = asyncio.Event()
    held = asyncio.create_task(stubborn(release))
    canceller = asyncio.create_task(cancel(held, seconds=3600))
    await eventually(lambda: asyncio.sleep(0, result=held.cancelling() > 0))  # cancel() waits
    canceller.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await canceller
    finally:
        release.set()
        await held


async def stubborn(release: asyncio.Event) -> None:
    """Swallows every cancellation until released."""
    while not release.is_set():
        try:
            await release.wait()
        except asyncio.CancelledError:
            continue


async def test_a_sampler_whose_cancellation_was_lost_in_a_sample_still_ends() -> None:
    """nats-py's requests wait with `asyncio.wait_for`, which on Python 3.11 loses a cancellation
    that comes as the reply does; a service's sampler (and every loop that runs until cancelled)
    then went on after its service's stop. It ends at its next pause now."""
    samples = 0

    async def lossy_outbox() -> OutboxSample:
        nonlocal samples
        samples += 1
        if samples == 1:
            with contextlib.suppress(asyncio.CancelledError):  # lost, as wait_for loses it
                await asyncio.sleep(3600)
        else:
            await asyncio.sleep(3600)
        return OutboxSample(backlog=0, oldest_seconds=None, parked=0)

    task = asyncio.create_task(Sampler("test", lossy_outbox, None, interval=0.01).run())
    await eventually(lambda: asyncio.sleep(0, result=samples == 1))
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=10)
    assert done, "the sampler went on after its cancellation"
    assert task.cancelled()
    assert samples == 1  # not a second time: it ended at its pause
