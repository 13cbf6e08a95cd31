"""Identity facts the gateway publishes: sign-ins being throttled."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import EventData, event


@event("gateway", "account", "throttled", 1)
class AccountThrottled(EventData):
    """Too many failed sign-ins in a row: the account must wait until `blocked_until`.

    Someone may be guessing the account's password; a security team may want to know."""

    user_id: UUID
    failures: int = Field(ge=1)
    blocked_until: datetime
    throttled_at: datetime
