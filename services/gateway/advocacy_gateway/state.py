"""What the gateway holds while it runs: database, outbox relay, NATS connection, RPC client.

Webhook delivery runs in its own process (advocacy_gateway.webhooks.process); the gateway only
wakes it when an API call makes a delivery due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from advocacy_gateway.lookups import Lookups
from advocacy_gateway.models import messaging
from advocacy_gateway.oidc import OidcClient
from advocacy_gateway.ratelimit import RateLimiter
from advocacy_gateway.retention import RetentionSweeper
from advocacy_gateway.settings import GatewaySettings
from advocacy_gateway.webhooks.process import wake
from advocacy_gateway.webhooks.targets import policy_of
from advocacy_shared import outbound, tracing
from advocacy_shared.contracts.base import Operation
from advocacy_shared.crypto import SecretBox
from advocacy_shared.db import create_engine, read_session_factory, session_factory
from advocacy_shared.lifecycle import cancel, within
from advocacy_shared.outbox import Outbox, OutboxRelay, Retention, added_events
from advocacy_shared.rpc import RpcClient
from advocacy_shared.runtime import outbox_backlog
from advocacy_shared.streams import ensure_streams
from advocacy_shared.telemetry import OutboxSample, Sampler, listen
from advocacy_shared.topology import Topology

log = logging.getLogger(__name__)


class GatewayState:
    def __init__(self, settings: GatewaySettings, admin_api_key: str) -> None:
        self.settings = settings
        self.admin_api_key = admin_api_key
        self.topology = Topology(settings.namespace)
        self.engine = create_engine(settings.effective_database_url())
        # A session class of this state's own, so that its listeners evict only its lookups.
        session_class = type("GatewaySession", (Session,), {})
        self.lookups = Lookups(settings.auth_cache_seconds)
        self.lookups.watch(session_class)
        self.sessions = session_factory(self.engine, session_class)
        self.read_sessions = read_session_factory(self.engine)
        self.outbox = Outbox(messaging.outbox, self.topology, source="/advocacy/gateway")
        self.relay = OutboxRelay(
            self.sessions,
            messaging.outbox,
            interval=settings.relay_interval_seconds,
            batch_size=settings.relay_batch_size,
            retention=Retention.of(settings, messaging.inbox),
            name="gateway",
        )
        self.secrets = SecretBox(settings.secret_keys())
        self.rate_limiter = RateLimiter(
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            trusted_proxies=settings.trusted_proxies,
        )
        self.oidc = OidcClient(outbound.guarded_client(10.0), policy_of(settings))
        self.retention = RetentionSweeper(
            self.sessions,
            settings.retention_interval_seconds,
            timedelta(hours=settings.idempotency_hours),
        )
        self.nc: NatsClient | None = None
        self._rpc: RpcClient | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._sampler_task: asyncio.Task[None] | None = None

    @property
    def rpc(self) -> RpcClient:
        if self._rpc is None:
            raise RuntimeError("the gateway is not connected to NATS")
        return self._rpc

    def subject_of(self, operation: Operation[Any, Any]) -> str:
        return operation.subject(self.topology)

    async def wake_webhooks(self) -> None:
        """A delivery may be due now (a replay, an endpoint enabled): wake the delivery process."""
        if self.nc is not None:
            await wake(self.nc, self.topology)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session
        if added_events(session):
            self.relay.wake()

    async def start(self) -> None:
        self.nc = await nats.connect(
            servers=self.settings.nats_servers(),
            name="advocacy-gateway",
            max_reconnect_attempts=-1,
            reconnect_time_wait=self.settings.nats_reconnect_seconds,
            allow_reconnect=True,
        )
        js = self.nc.jetstream()
        await ensure_streams(js, self.topology, self.settings)
        self._rpc = RpcClient(self.nc, self.subject_of, self.settings.rpc_timeout_seconds)
        self.relay.js = js
        self._relay_task = asyncio.create_task(self.relay.run(), name="gateway-outbox-relay")
        self.retention.start()
        self._start_metrics()

    def _start_metrics(self) -> None:
        """The metrics listener and the outbox's sampler, when `metrics_port` is set."""
        if self.settings.metrics_port is None:
            return
        listen(self.settings.metrics_host, self.settings.metrics_port)
        sampler = Sampler(
            "gateway", self._outbox_sample, None, self.settings.metrics_interval_seconds
        )
        self._sampler_task = asyncio.create_task(sampler.run(), name="gateway-metrics-sampler")

    async def _outbox_sample(self) -> OutboxSample:
        async with self.read_sessions() as session:
            return OutboxSample(*await outbox_backlog(session, messaging.outbox))

    async def stop(self) -> None:
        await cancel(self._sampler_task)
        await within(self.oidc.http.aclose(), 5, "identity provider client")
        await within(self.retention.stop(), 5, "retention sweeper")
        await cancel(self._relay_task)
        if self.nc is not None:
            await within(self.nc.drain(), 10, "NATS connection")
        await within(self.engine.dispose(), 10, "database pool")
        tracing.shutdown()
