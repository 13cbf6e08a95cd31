"""Facts about ambassadors, published by the ambassadors service.

They carry ids and facts, never personal data (names, emails): a consumer that needs those asks
the ambassadors service, so that erasure has one place to act.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import EventData, event

EnablementFormat = Literal["workshop", "one_to_one", "guide"]


@event("ambassadors", "ambassador", "onboarded", 1)
class AmbassadorOnboarded(EventData):
    """An employee accepted the invitation and gave consent: they are in the program."""

    ambassador_id: UUID
    external_id: str | None = Field(description="The HR system's id (SCIM externalId)")
    program_id: UUID | None
    leadership: bool
    onboarded_at: datetime


@event("ambassadors", "ambassador", "trained", 1)
class AmbassadorTrained(EventData):
    ambassador_id: UUID
    external_id: str | None
    enablement_format: EnablementFormat
    trained_at: datetime


@event("ambassadors", "consent", "revoked", 1)
class ConsentRevoked(EventData):
    """From now on nothing may be posted on the ambassador's behalf nor collected about them."""

    ambassador_id: UUID
    external_id: str | None
    consent_version: str
    revoked_at: datetime


@event("ambassadors", "ambassador", "offboarded", 1)
class AmbassadorOffboarded(EventData):
    ambassador_id: UUID
    external_id: str | None
    reason: Literal["left_organisation", "deactivated_in_hr", "left_program"]
    offboarded_at: datetime


@event("ambassadors", "ambassador", "erased", 1)
class AmbassadorErased(EventData):
    """Every service deletes or anonymises what it holds about this ambassador (GDPR art. 17)."""

    ambassador_id: UUID
    erased_at: datetime
