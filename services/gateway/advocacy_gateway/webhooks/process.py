"""The webhook delivery process: the intake consumers and the delivery worker, on the same service
runtime as the domain services, apart from the HTTP replicas.

It shares the gateway's database (the webhook tables, the gateway's inbox and outbox) and settings,
answers `system.ping`/`system.status` as `webhooks`, and runs as many replicas as delivery needs:
the consumers are durable pull consumers and deliveries are claimed with a lease. The gateway
wakes it when an API call makes a delivery due (a core NATS message on `wake_subject`); without
the wake, it still finds due deliveries at its next poll.
"""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

from advocacy_gateway.models import messaging
from advocacy_gateway.settings import GatewaySettings
from advocacy_gateway.webhooks.delivery import DeliveryPolicy, DeliveryWorker
from advocacy_gateway.webhooks.handlers import consumers
from advocacy_shared.crypto import SecretBox
from advocacy_shared.lifecycle import within
from advocacy_shared.rpc import RpcServer
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.topology import Topology

log = logging.getLogger(__name__)

NAME = "webhooks"


class WebhooksSettings(GatewaySettings):
    """The gateway's settings; the process serves no API, so it needs no admin API key."""

    required_secrets: ClassVar[tuple[str, ...]] = ("encryption_keys",)


def wake_subject(topology: Topology) -> str:
    """A core subject (no stream holds `rpc.>`): every replica hears each wake."""
    return topology.rpc_subject(NAME, "wake")


async def wake(nc: NatsClient, topology: Topology) -> None:
    """Tell the delivery processes that a delivery may be due now (fire and forget)."""
    if nc.is_connected:
        await nc.publish(wake_subject(topology))


class WebhooksProcess:
    def __init__(self, settings: GatewaySettings) -> None:
        self.runtime = ServiceRuntime(
            settings,
            messaging,
            consumers,
            RpcServer(NAME),
            name=NAME,
            after_commit=self._wake_worker,
        )
        self.worker = DeliveryWorker(
            self.runtime.sessions,
            DeliveryPolicy.of(settings),
            SecretBox(settings.secret_keys()),
            self.runtime.outbox,
            after_commit=self.runtime.relay.wake,
        )
        self._listen_for_wakes(self.runtime.broker, wake_subject(self.runtime.topology))

    def _wake_worker(self) -> None:
        self.worker.wake()

    def _listen_for_wakes(self, broker: NatsBroker, subject: str) -> None:
        @broker.subscriber(subject)
        async def on_wake(_body: bytes) -> None:
            self.worker.wake()

    @property
    def failed(self) -> asyncio.Event:
        return self.runtime.failed

    async def start(self) -> None:
        await self.runtime.start()
        await self.worker.start()
        self.runtime.watch(self.worker.task)

    async def stop(self) -> None:
        """The pass in progress finishes first (an attempt lasts the webhook timeout at most)."""
        self.runtime.expect_stop()
        await within(self.worker.stop(), 20, "webhook delivery worker")
        await self.runtime.stop()
