"""Facts about the gateway's outbound webhooks, so the organisation is told what it must fix."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import EventData, event


@event("gateway", "webhook_endpoint", "disabled", 1)
class WebhookEndpointDisabled(EventData):
    """Deliveries to an endpoint kept failing, or it answered 410 Gone: it was disabled."""

    endpoint_id: UUID
    url: str = Field(max_length=2048, description="Without query or fragment")
    reason: Literal["failing", "gone"]
    detail: str = Field(max_length=200)
    failing_since: datetime | None
    consecutive_failures: int = Field(ge=0)
    disabled_at: datetime
