"""Event intake: every event of every domain but the feeds (`FEED_DOMAINS`) becomes delivery
rows for the matching endpoints.

One durable consumer per domain (`gateway_webhook_intake_<domain>`), each applying its events in
one transaction with the gateway's inbox; the delivery worker is woken after a commit that queued
deliveries. An event that no enabled endpoint of its organisation subscribed to (most events, where
few organisations have webhooks) is acked after one read, with no transaction and no inbox row
(`has_endpoints`): there is nothing to apply, so nothing to apply twice.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_gateway.webhooks import service
from advocacy_shared.consumers import EventConsumers, wake_after_commit
from advocacy_shared.contracts.base import EventData
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.topology import WEBHOOK_DOMAINS

consumers = EventConsumers("gateway")


async def webhook_intake(session: AsyncSession, fact: EventData, envelope: CloudEvent) -> None:
    if await service.queue_deliveries(session, fact, envelope):
        wake_after_commit(session)


async def has_endpoints(session: AsyncSession, fact: EventData, envelope: CloudEvent) -> bool:
    return await service.intake_has_work(session, fact, envelope)


for domain in WEBHOOK_DOMAINS:
    consumers.on_every_event_of(domain, wanted=has_endpoints)(webhook_intake)
