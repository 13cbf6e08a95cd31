"""Every query of the webhook tables. All but the worker's claim filter by organisation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, exists, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_gateway.repository import Cursor, after_cursor
from advocacy_gateway.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookErasure,
)
from advocacy_shared.db import LeanRead, UtcDateTime

ANY_ENABLED = LeanRead(
    select(
        exists().where(
            col(WebhookEndpoint.organisation_id) == bindparam("organisation_id"),
            col(WebhookEndpoint.enabled).is_(True),
        )
    )
)


class EndpointRepository:
    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    def add(self, endpoint: WebhookEndpoint) -> None:
        assert endpoint.organisation_id == self.organisation_id
        self.session.add(endpoint)

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        query = select(WebhookEndpoint).where(
            WebhookEndpoint.organisation_id == self.organisation_id,
            WebhookEndpoint.id == endpoint_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def fresh(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The row as the database has it now, not as this session last saw it."""
        query = (
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.organisation_id == self.organisation_id,
                WebhookEndpoint.id == endpoint_id,
            )
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def count(self) -> int:
        query = select(func.count()).where(WebhookEndpoint.organisation_id == self.organisation_id)
        return int((await self.session.execute(query)).scalar_one())

    async def page(self, limit: int, after: Cursor | None) -> list[WebhookEndpoint]:
        query = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organisation_id == self.organisation_id)
            .order_by(col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
        )
        if (
            condition := after_cursor(WebhookEndpoint.created_at, WebhookEndpoint.id, after)
        ) is not None:
            query = query.where(condition)
        return list((await self.session.execute(query.limit(limit))).scalars())

    async def any_enabled(self) -> bool:
        """Whether the organisation has an enabled endpoint at all (one prebuilt statement)."""
        return bool(await ANY_ENABLED.scalar(self.session, organisation_id=self.organisation_id))

    async def enabled_for(self, event_type: str) -> list[WebhookEndpoint]:
        """The enabled endpoints that subscribed to this event type (or to every type)."""
        query = select(WebhookEndpoint).where(
            WebhookEndpoint.organisation_id == self.organisation_id,
            col(WebhookEndpoint.enabled).is_(True),
        )
        endpoints = (await self.session.execute(query)).scalars()
        return [endpoint for endpoint in endpoints if endpoint.wants(event_type)]

    async def remove(self, endpoint: WebhookEndpoint) -> None:
        assert endpoint.organisation_id == self.organisation_id
        await self.session.delete(endpoint)

    async def count_failure(self, endpoint_id: UUID, at: datetime) -> None:
        """One more failed attempt in a row; the streak starts now unless it has already."""
        await self._update(
            endpoint_id,
            consecutive_failures=col(WebhookEndpoint.consecutive_failures) + 1,
            failing_since=func.coalesce(
                col(WebhookEndpoint.failing_since), bindparam("at", at, type_=UtcDateTime())
            ),
        )

    async def count_success(self, endpoint_id: UUID) -> None:
        await self._update(endpoint_id, consecutive_failures=0, failing_since=None)

    async def disable(self, endpoint_id: UUID, at: datetime, reason: str) -> bool:
        """Disable an enabled endpoint; False when it was disabled already (or is gone)."""
        return await self._update(
            endpoint_id,
            only_enabled=True,
            enabled=False,
            disabled_at=at,
            disabled_reason=reason,
            updated_at=at,
        )

    async def _update(self, endpoint_id: UUID, only_enabled: bool = False, **values: Any) -> bool:
        statement = update(WebhookEndpoint).where(
            col(WebhookEndpoint.organisation_id) == self.organisation_id,
            col(WebhookEndpoint.id) == endpoint_id,
        )
        if only_enabled:
            statement = statement.where(col(WebhookEndpoint.enabled).is_(True))
        result = await self.session.execute(statement.values(**values))
        return bool(getattr(result, "rowcount", 0))


class DeliveryRepository:
    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    def add(self, delivery: WebhookDelivery) -> None:
        assert delivery.organisation_id == self.organisation_id
        self.session.add(delivery)

    async def forget_mentioning(self, mention: str) -> None:
        """Delete every delivery whose payload names `mention` (an erased person's id)."""
        await self.session.execute(
            delete(WebhookDelivery).where(
                col(WebhookDelivery.organisation_id) == self.organisation_id,
                col(WebhookDelivery.payload).contains(mention, autoescape=True),
            )
        )

    async def get(self, endpoint_id: UUID, delivery_id: UUID) -> WebhookDelivery | None:
        query = select(WebhookDelivery).where(
            WebhookDelivery.organisation_id == self.organisation_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.id == delivery_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def page(
        self,
        endpoint_id: UUID,
        limit: int,
        after: Cursor | None,
        status: DeliveryStatus | None = None,
    ) -> list[WebhookDelivery]:
        query = (
            select(WebhookDelivery)
            .where(
                WebhookDelivery.organisation_id == self.organisation_id,
                WebhookDelivery.endpoint_id == endpoint_id,
            )
            .order_by(col(WebhookDelivery.created_at), col(WebhookDelivery.id))
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status.value)
        if (
            condition := after_cursor(WebhookDelivery.created_at, WebhookDelivery.id, after)
        ) is not None:
            query = query.where(condition)
        return list((await self.session.execute(query.limit(limit))).scalars())

    async def remove_all_of(self, endpoint_id: UUID) -> None:
        await self.session.execute(
            delete(WebhookDelivery).where(
                col(WebhookDelivery.organisation_id) == self.organisation_id,
                col(WebhookDelivery.endpoint_id) == endpoint_id,
            )
        )

    async def resume_pending_of(self, endpoint_id: UUID, at: datetime) -> None:
        """Make the endpoint's pending deliveries due now (it was re-enabled)."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.organisation_id) == self.organisation_id,
                col(WebhookDelivery.endpoint_id) == endpoint_id,
                col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
            )
            .values(next_attempt_at=at)
        )

    async def record(self, delivery_id: UUID, **values: Any) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.organisation_id) == self.organisation_id,
                col(WebhookDelivery.id) == delivery_id,
            )
            .values(**values)
        )


class DeliveryQueue:
    """The delivery worker's view: due deliveries of every organisation, shared by replicas."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
        """Take up to `limit` due deliveries of enabled endpoints and lease them until a time.

        `SKIP LOCKED` lets replicas claim at once without taking the same rows (PostgreSQL;
        SQLite, with one writer at a time, ignores it). The lease is the row's next attempt time:
        the claim commits at once, and the row is due again only if its attempt never reports.
        """
        query = (
            select(WebhookDelivery, WebhookEndpoint)
            .join(
                WebhookEndpoint,
                (col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
                & (col(WebhookEndpoint.organisation_id) == col(WebhookDelivery.organisation_id)),
            )
            .where(
                col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookEndpoint.enabled).is_(True),
            )
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        rows = [(delivery, endpoint) for delivery, endpoint in (await self.session.execute(query))]
        if rows:
            await self.session.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id).in_([delivery.id for delivery, _ in rows]))
                .values(next_attempt_at=lease_until)
            )
        return rows


class ErasureRepository:
    """The webhook intake's tombstones of erased people, by the SHA-256 of their ids."""

    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    async def record(self, entity_id: UUID, at: datetime) -> None:
        key = (self.organisation_id, _hashed(entity_id))
        if await self.session.get(WebhookErasure, key) is None:
            self.session.add(
                WebhookErasure(organisation_id=key[0], entity_hash=key[1], erased_at=at)
            )

    async def any_erased(self, entity_ids: Iterable[UUID]) -> bool:
        hashes = {_hashed(entity_id) for entity_id in entity_ids}
        if not hashes:
            return False
        query = select(func.count()).where(
            col(WebhookErasure.organisation_id) == self.organisation_id,
            col(WebhookErasure.entity_hash).in_(hashes),
        )
        return int((await self.session.execute(query)).scalar_one()) > 0


async def purge_erasures_before(session: AsyncSession, moment: datetime) -> int:
    """Tombstones older than `moment`, in every organisation (the retention sweep)."""
    result = await session.execute(
        delete(WebhookErasure).where(col(WebhookErasure.erased_at) < moment)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _hashed(entity_id: UUID) -> str:
    return hashlib.sha256(entity_id.bytes).hexdigest()
