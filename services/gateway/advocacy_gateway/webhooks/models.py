"""The webhook tables: endpoints (subscriptions) and deliveries (one message to one endpoint)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from sqlalchemy import JSON, Index, Text
from sqlmodel import Field

from advocacy_gateway.models import GatewayModel
from advocacy_shared.crypto import SecretBox
from advocacy_shared.db import UtcDateTime
from advocacy_shared.envelope import utc_now

WILDCARD = "*"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpoint(GatewayModel, table=True):
    """A URL an organisation subscribed to some event types, with its signing secrets.

    The secrets are sealed (`SecretBox`), not hashed: every delivery is signed with them.
    """

    __tablename__ = "webhook_endpoints"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(foreign_key="organisations.id", index=True)
    url: str = Field(max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] = Field(sa_type=JSON)
    enabled: bool = True
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    disabled_reason: str | None = Field(default=None, max_length=200)
    secret: str = Field(max_length=512)
    previous_secret: str | None = Field(default=None, max_length=512)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    consecutive_failures: int = 0
    failing_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)

    def wants(self, event_type: str) -> bool:
        return WILDCARD in self.event_types or event_type in self.event_types

    def signing_secrets(self, now: datetime, box: SecretBox) -> list[str]:
        """The current secret, and the previous one while its overlap lasts, opened."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and expires > now:
            return [box.open(self.secret), box.open(self.previous_secret)]
        return [box.open(self.secret)]


class WebhookDelivery(GatewayModel, table=True):
    """One message to one endpoint: its exact body, and where its attempts stand.

    `message_id` is the event id, sent as `webhook-id`: the same for every attempt and replay.
    While an attempt is in flight, `next_attempt_at` is the end of its lease: should the sending
    replica die, another one retries after it.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "organisation_id", "endpoint_id", "created_at"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID
    endpoint_id: UUID = Field(foreign_key="webhook_endpoints.id")
    message_id: str = Field(max_length=64)
    event_type: str = Field(max_length=255)
    payload: str = Field(sa_type=Text)
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_response_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    replay_of: UUID | None = None
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    traceparent: str | None = Field(default=None, max_length=55)
    """The trace of the intake that queued it (W3C trace context; none while not tracing): the
    attempts continue it, and send it on to the receiver."""


class WebhookErasure(GatewayModel, table=True):
    """A tombstone: this person (an ambassador's or an employee's id) was erased. An event about
    them that arrives later (redelivered, replayed from the dead letters) queues no delivery, so
    the erasure that removed their deliveries is not undone. Only the id's SHA-256 is kept."""

    __tablename__ = "webhook_erasures"

    organisation_id: UUID = Field(primary_key=True)
    entity_hash: str = Field(primary_key=True, max_length=64)
    erased_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, index=True)
