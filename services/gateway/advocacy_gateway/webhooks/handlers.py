"""Event intake: every event of every domain but the feeds (`FEED_DOMAINS`) becomes delivery
rows for the matching endpoints.

One durable consumer per domain (`gateway_webhook_intake_<domain>`), each applying its events in
one transaction with the gateway's inbox; the delivery worker is woken after each commit.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_gateway.webhooks import service
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.base import EventData
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.topology import WEBHOOK_DOMAINS

consumers = EventConsumers("gateway")


async def webhook_intake(session: AsyncSession, fact: EventData, envelope: CloudEvent) -> None:
    await service.queue_deliveries(session, fact, envelope)


for domain in WEBHOOK_DOMAINS:
    consumers.on_every_event_of(domain)(webhook_intake)
