"""One domain service's process: database, outbox relay, event consumers, request handlers."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared import tracing
from advocacy_shared.batch_consumers import OneAtATimeConsumer, start_batch_consumer
from advocacy_shared.consumers import EventConsumer, EventConsumers, RetryPolicy
from advocacy_shared.contracts.base import Operation
from advocacy_shared.contracts.system import (
    PingRequest,
    Pong,
    ServiceStatus,
    StatusRequest,
    ping,
    status,
)
from advocacy_shared.db import create_engine, read_session_factory, session_factory
from advocacy_shared.envelope import utc_now
from advocacy_shared.heap import freeze_start_up
from advocacy_shared.idempotency import CommandRecords
from advocacy_shared.lifecycle import cancel, within
from advocacy_shared.messaging_tables import MessagingTables
from advocacy_shared.outbox import Outbox, OutboxRelay, Retention, added_events
from advocacy_shared.rpc import RpcServer, RpcServing
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import ensure_streams
from advocacy_shared.telemetry import OutboxSample, Sampler, listen
from advocacy_shared.topology import Topology

log = logging.getLogger(__name__)

BackgroundTask = Callable[["ServiceRuntime"], Coroutine[Any, Any, None]]
"""Periodic work of a service (an expiry sweep): started after the broker, cancelled on stop."""


class ServiceRuntime:
    """Wires one service's parts together; `app.py` of each service builds one."""

    def __init__(
        self,
        settings: ServiceSettings,
        tables: MessagingTables,
        consumers: EventConsumers,
        rpc: RpcServer,
        background: Sequence[BackgroundTask] = (),
        *,
        name: str | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        """`name` when the process is not the service its settings are of (the gateway's webhook
        delivery); `after_commit` runs, besides waking the relay, after a consumed event's commit
        that asks for it (`consumers.wants_wake`: it added events, or its handler called
        `wake_after_commit`)."""
        self.settings = settings
        self.background = list(background)
        self.name = name or settings.service_name
        self.topology = Topology(settings.namespace)
        self.engine = create_engine(settings.effective_database_url())
        self.sessions = session_factory(self.engine)
        self.read_sessions = read_session_factory(self.engine)
        self.outbox = Outbox(tables.outbox, self.topology, source=f"/advocacy/{self.name}")
        self.relay = OutboxRelay(
            self.sessions,
            tables.outbox,
            interval=settings.relay_interval_seconds,
            batch_size=settings.relay_batch_size,
            retention=Retention.of(settings, tables.inbox),
            name=self.name,
        )
        self._outbox_table = tables.outbox
        self.consumers: list[EventConsumer] = consumers.build(
            self.sessions,
            tables.inbox,
            self.topology,
            RetryPolicy.of(settings),
            after_commit=self._after_commit(after_commit),
        )
        self.rpc = rpc
        self.commands = (
            CommandRecords(tables.rpc_idempotency) if tables.rpc_idempotency is not None else None
        )
        self._add_ping(rpc)
        self._add_status(rpc, tables.outbox)
        self.broker = NatsBroker(
            settings.nats_servers(),
            name=f"advocacy-{self.name}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=settings.nats_reconnect_seconds,  # type: ignore[arg-type]  # typed int, passed on to nats-py, which takes a float
            graceful_timeout=10.0,
            logger=logging.getLogger(f"advocacy.{self.name}.broker"),
            log_level=logging.DEBUG,  # per-message INFO logs cost a quarter of throughput
        )
        self.js: JetStreamContext | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._rpc_serving: RpcServing | None = None
        self._background_tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.failed = asyncio.Event()
        """Set when a task the service cannot run without ended (`watch`)."""

    def watch(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        """Stop serving when `task` (a loop meant to run as long as the service) ends before
        `stop`: with its relay, a batch consumer or a sweep gone, the process would go on
        answering pings while doing part of its work; it exits instead, and its supervisor
        (`advocacy run`, Kubernetes) starts it again."""
        task.add_done_callback(self._ended)
        return task

    def expect_stop(self) -> None:
        """From now on, watched tasks end because the process stops (`stop` calls it first; a
        process built around the runtime calls it before it stops its own watched tasks)."""
        self._stopping = True

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if self._stopping or task.cancelled():
            return
        log.error(
            "a task the service needs ended; the service stops",
            extra={"task": task.get_name()},
            exc_info=task.exception(),
        )
        self.failed.set()

    def _add_ping(self, rpc: RpcServer) -> None:
        """Every service answers the system ping that the gateway's `/readyz` sends."""
        operation = ping(self.name)
        if operation in rpc.operations:
            return
        pong = Pong(service=self.name, version=_package_version(f"advocacy-{self.name}"))

        @rpc.answers(operation)
        async def answer_ping(_request: PingRequest) -> Pong:
            return pong

    def _add_status(self, rpc: RpcServer, outbox: Table) -> None:
        """Every service answers the system status that the gateway's `/status` shows."""
        operation = status(self.name)
        if operation in rpc.operations:
            return
        version = _package_version(f"advocacy-{self.name}")

        @rpc.handles(operation)
        async def answer_status(session: AsyncSession, _request: StatusRequest) -> ServiceStatus:
            backlog, age, parked = await outbox_backlog(session, outbox)
            return ServiceStatus(
                service=self.name,
                version=version,
                outbox_backlog=backlog,
                oldest_unsent_seconds=age,
                outbox_parked=parked,
            )

    def _after_commit(self, extra: Callable[[], None] | None) -> Callable[[], None]:
        if extra is None:
            return self.relay.wake

        def after_commit() -> None:
            self.relay.wake()
            extra()

        return after_commit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, then wakes the relay for any outbox rows."""
        async with self.sessions() as session, session.begin():
            yield session
        if added_events(session):
            self.relay.wake()

    def subject_of(self, operation: Operation[Any, Any]) -> str:
        return operation.subject(self.topology)

    async def start(self) -> None:
        nc = await self.broker.connect()
        self.js = nc.jetstream()
        await ensure_streams(self.js, self.topology, self.settings)
        one_at_a_time: list[OneAtATimeConsumer] = []
        for consumer in self.consumers:
            await consumer.ensure(self.js)
            if consumer.batch_size == 1:
                one_at_a_time.append(await OneAtATimeConsumer.start(consumer, self.js))
        # The consumers before the request handlers: a service that answers (the ping of
        # `/status` and of the tests' readiness checks) has its consumers started, and one whose
        # consumers fail to start exits without having answered.
        await self.broker.start()
        self._background_tasks = [
            self.watch(
                asyncio.create_task(runner.run(), name=f"{runner.consumer.durable}-consumer")
            )
            for runner in one_at_a_time
        ]
        self._rpc_serving = await self.rpc.serve(
            nc,
            self.subject_of,
            queue=self.topology.rpc_queue(self.name),
            transaction=self.transaction,
            max_workers=self.settings.rpc_max_workers,
            outbox=self.outbox,
            read=self.read_sessions,
            commands=self.commands,
        )
        await nc.flush()  # the server knows every subscription before we report started
        self.relay.js = self.js
        self._relay_task = self.watch(
            asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay")
        )
        self._background_tasks += [
            self.watch(task)
            for task in [
                asyncio.create_task(
                    task(self), name=f"{self.name}-{getattr(task, '__name__', 'task')}"
                )
                for task in self.background
            ]
            + [
                start_batch_consumer(consumer, self.js, consumer.batch_size)
                for consumer in self.consumers
                if consumer.batch_size > 1
            ]
        ]
        self._start_metrics()
        freeze_start_up()
        log.info("service started", extra={"consumers": [c.durable for c in self.consumers]})

    def _start_metrics(self) -> None:
        """The metrics listener and the sampler of consumer lag and outbox backlog, when
        `metrics_port` is set; nothing at all otherwise."""
        if self.settings.metrics_port is None:
            return
        listen(self.settings.metrics_host, self.settings.metrics_port)
        sampler = Sampler(
            self.name, self.outbox_sample, self.consumer_lag, self.settings.metrics_interval_seconds
        )
        self._background_tasks.append(
            asyncio.create_task(sampler.run(), name=f"{self.name}-metrics-sampler")
        )

    async def outbox_sample(self) -> OutboxSample:
        async with self.read_sessions() as session:
            return OutboxSample(*await outbox_backlog(session, self._outbox_table))

    async def consumer_lag(self) -> list[tuple[str, int, int, int]]:
        """Each consumer's lag from JetStream: one consumer-info call per consumer per sample."""
        if self.js is None:
            return []
        lag = []
        for consumer in self.consumers:
            info = await self.js.consumer_info(consumer.stream, consumer.durable)
            lag.append(
                (
                    consumer.durable,
                    info.num_pending or 0,
                    info.num_ack_pending or 0,
                    info.num_redelivered or 0,
                )
            )
        return lag

    async def stop(self) -> None:
        self.expect_stop()
        for task in self._background_tasks:
            await cancel(task)
        await cancel(self._relay_task)
        if self._rpc_serving is not None:
            await within(self._rpc_serving.stop(), 15, "request handlers")
        await within(self.broker.stop(), 15, "broker")
        await within(self.engine.dispose(), 10, "database pool")
        tracing.shutdown()
        log.info("service stopped")

    async def serve_until_signalled(self) -> None:
        await serve_until_signalled(self)


class Process(Protocol):
    """What a process's `__main__` runs: a service runtime, or one built around it."""

    @property
    def failed(self) -> asyncio.Event:
        """Set when the process can no longer do all of its work (`ServiceRuntime.watch`)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ProcessFailed(Exception):
    """A process stopped because a task it needs ended (`service_main.run` exits with status 1)."""


async def serve_until_signalled(process: Process) -> None:
    """Start `process`, run until SIGINT or SIGTERM, then stop it; when it fails first, stop it
    and raise `ProcessFailed` (for an exit status of 1, so that its supervisor starts it again)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await process.start()
        try:
            await _first(stop.wait(), process.failed.wait())
        finally:
            await process.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if process.failed.is_set():
        raise ProcessFailed


async def _first(*waits: Coroutine[Any, Any, object]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            await cancel(task)


def _package_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


async def outbox_backlog(session: AsyncSession, outbox: Table) -> tuple[int, float | None, int]:
    """How many events wait in an outbox, the age in seconds of the oldest (None: none), and how
    many the relay parked (never published, not waiting: an operator must act)."""
    backlog, oldest = (
        await session.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(
                outbox.c.published_at.is_(None), outbox.c.parked_at.is_(None)
            )
        )
    ).one()
    parked = (
        await session.execute(select(func.count()).where(outbox.c.parked_at.is_not(None)))
    ).scalar_one()
    age = (utc_now() - oldest).total_seconds() if oldest is not None else None
    return backlog, age, parked
