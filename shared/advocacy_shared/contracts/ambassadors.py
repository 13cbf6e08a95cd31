"""Facts about ambassadors, published by the ambassadors service.

They carry ids and facts, never personal data (names, emails): a consumer that needs those asks
the ambassadors service, so that erasure has one place to act. Every fact that changes an
ambassador carries the ambassador's `version` after the change (one sequence per ambassador, for
all these facts): a consumer applies only newer facts. Offboarding for leaving the organisation
and erasure are final: a consumer keeps a tombstone so nothing older brings the person back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from advocacy_shared.contracts.base import (
    EntityVersion,
    EventData,
    Operation,
    RpcReply,
    RpcRequest,
    event,
)
from advocacy_shared.contracts.limits import ExternalId, Language, Topic

EnablementFormat = Literal["workshop", "one_to_one", "guide"]


@event("ambassadors", "ambassador", "onboarded", 1)
class AmbassadorOnboarded(EventData):
    """An employee accepted the invitation and gave consent: they are in the program."""

    ambassador_id: UUID
    external_id: ExternalId | None = Field(description="The HR system's id (SCIM externalId)")
    employee_id: UUID | None = Field(default=None, description="Their roster record, if any")
    program_id: UUID | None
    leadership: bool
    onboarded_at: datetime
    version: EntityVersion = None


@event("ambassadors", "ambassador", "trained", 1)
class AmbassadorTrained(EventData):
    ambassador_id: UUID
    external_id: ExternalId | None
    enablement_format: EnablementFormat
    trained_at: datetime
    version: EntityVersion = None


@event("ambassadors", "consent", "revoked", 1)
class ConsentRevoked(EventData):
    """From now on nothing may be posted on the ambassador's behalf nor collected about them."""

    ambassador_id: UUID
    external_id: ExternalId | None
    consent_version: str = Field(max_length=40)
    revoked_at: datetime
    version: EntityVersion = None


@event("ambassadors", "ambassador", "offboarded", 1)
class AmbassadorOffboarded(EventData):
    ambassador_id: UUID
    external_id: ExternalId | None
    reason: Literal["left_organisation", "deactivated_in_hr", "left_program"]
    offboarded_at: datetime
    version: EntityVersion = None


@event("ambassadors", "ambassador", "erased", 1)
class AmbassadorErased(EventData):
    """Every service deletes or anonymises what it holds about this ambassador (GDPR art. 17)."""

    ambassador_id: UUID
    employee_id: UUID | None = Field(
        default=None, description="The roster record erased with them, when there was one"
    )
    erased_at: datetime
    version: EntityVersion = None


Segment = Literal["sales_marketing", "specialist", "leadership", "everyone"]


@event("ambassadors", "ambassador", "profile_changed", 1)
class AmbassadorProfileChanged(EventData):
    """What content suggestions and planning read of an ambassador changed; `leadership` is the
    leadership track, which every service reports apart."""

    ambassador_id: UUID
    leadership: bool
    segments: list[Segment] = Field(max_length=4)
    topics: list[Topic] = Field(max_length=30)
    languages: list[Language] = Field(max_length=10)
    posts_per_week: float
    changed_at: datetime
    version: EntityVersion = None


@event("ambassadors", "ambassador", "activity_changed", 1)
class AmbassadorActivityChanged(EventData):
    """A trained ambassador started sharing (`active`), went quiet, or picked up again."""

    ambassador_id: UUID
    state: Literal["active", "quiet"]
    changed_at: datetime
    version: EntityVersion = None


OnboardingState = Literal[
    "invited", "consented", "connected", "trained", "active", "quiet", "offboarded"
]


def _everyone() -> list[Segment]:
    return ["everyone"]


class AmbassadorProfile(BaseModel):
    """What the program knows of an ambassador beyond the roster: how and what they post about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segments: list[Segment] = Field(default_factory=_everyone, min_length=1, max_length=4)
    topics: list[Topic] = Field(default_factory=list, max_length=30)
    languages: list[Language] = Field(default_factory=lambda: ["da"], min_length=1, max_length=10)
    leadership: bool = False
    posts_per_week: float = Field(default=1.0, ge=0, le=21)


RECORDED_BY = (
    "Who recorded the change: `employee:invitation:<id>` when the employee answered their "
    "invitation, else the user or API key (`user:<id>`, `api_key:<id>`, `bootstrap:admin`)"
)


class InviteAmbassador(RpcRequest):
    organisation_id: UUID
    email: str = Field(min_length=3, max_length=320)
    display_name: str = Field(min_length=1, max_length=200)
    external_id: str | None = Field(default=None, max_length=200)
    program_id: UUID | None = None
    profile: AmbassadorProfile = Field(default_factory=AmbassadorProfile)


class GrantConsent(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    consent_version: str = Field(min_length=1, max_length=40)
    consent_text: str = Field(min_length=20, max_length=20_000, description="Exactly as shown")
    allows_posting: bool
    allows_analytics: bool
    recorded_by: str = Field(min_length=1, max_length=200, description=RECORDED_BY)


class RevokeConsent(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    recorded_by: str = Field(min_length=1, max_length=200, description=RECORDED_BY)


class ConsentHistoryRequest(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID


class ConsentChange(RpcReply):
    """One consent change, as it was recorded: who, when, which text, what it allowed."""

    action: Literal["granted", "revoked"]
    consent_version: str
    consent_text: str
    allows_posting: bool
    allows_analytics: bool
    recorded_by: str
    at: datetime


class ConsentHistory(RpcReply):
    ambassador_id: UUID
    changes: list[ConsentChange] = Field(description="Oldest first")


class RecordTraining(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    enablement_format: EnablementFormat


class UpdateProfile(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    profile: AmbassadorProfile


class ChangeActivity(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    state: Literal["active", "quiet"]


class GetAmbassador(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID


class FindUnknownAmbassadors(RpcRequest):
    """Which of these ids name no ambassador of the organisation (references from elsewhere)."""

    organisation_id: UUID
    ambassador_ids: list[UUID] = Field(max_length=10_000)


class UnknownAmbassadors(RpcReply):
    ambassador_ids: list[UUID]


class ListAmbassadors(RpcRequest):
    organisation_id: UUID
    limit: int = Field(default=50, ge=1, le=200)
    after: UUID | None = None
    leadership: bool | None = None


class ConsentState(RpcReply):
    consent_version: str
    allows_posting: bool
    allows_analytics: bool
    granted_at: datetime


class Ambassador(RpcReply):
    id: UUID
    organisation_id: UUID
    email: str
    display_name: str
    external_id: str | None
    program_id: UUID | None
    state: OnboardingState
    profile: AmbassadorProfile
    consent: ConsentState | None
    trainings: list[EnablementFormat]
    created_at: datetime


class AmbassadorPage(RpcReply):
    items: list[Ambassador]
    next_after: UUID | None


INVITE: Operation[InviteAmbassador, Ambassador] = Operation(
    "ambassadors", "ambassador.invite", InviteAmbassador, Ambassador
)
GET: Operation[GetAmbassador, Ambassador] = Operation(
    "ambassadors", "ambassador.get", GetAmbassador, Ambassador
)
FIND_UNKNOWN: Operation[FindUnknownAmbassadors, UnknownAmbassadors] = Operation(
    "ambassadors", "ambassador.find_unknown", FindUnknownAmbassadors, UnknownAmbassadors
)
LIST: Operation[ListAmbassadors, AmbassadorPage] = Operation(
    "ambassadors", "ambassador.list", ListAmbassadors, AmbassadorPage
)
GRANT_CONSENT: Operation[GrantConsent, Ambassador] = Operation(
    "ambassadors", "consent.grant", GrantConsent, Ambassador
)
REVOKE_CONSENT: Operation[RevokeConsent, Ambassador] = Operation(
    "ambassadors", "consent.revoke", RevokeConsent, Ambassador
)
RECORD_TRAINING: Operation[RecordTraining, Ambassador] = Operation(
    "ambassadors", "training.record", RecordTraining, Ambassador
)
CONSENT_HISTORY: Operation[ConsentHistoryRequest, ConsentHistory] = Operation(
    "ambassadors", "consent.history", ConsentHistoryRequest, ConsentHistory
)
UPDATE_PROFILE: Operation[UpdateProfile, Ambassador] = Operation(
    "ambassadors", "profile.update", UpdateProfile, Ambassador
)
CHANGE_ACTIVITY: Operation[ChangeActivity, Ambassador] = Operation(
    "ambassadors", "activity.change", ChangeActivity, Ambassador
)


class EraseAmbassador(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID


class Erased(RpcReply):
    ambassador_id: UUID
    erased_at: datetime


ERASE: Operation[EraseAmbassador, Erased] = Operation(
    "ambassadors", "ambassador.erase", EraseAmbassador, Erased
)


class OffboardAmbassador(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    reason: Literal["left_program", "left_organisation"]


OFFBOARD: Operation[OffboardAmbassador, Ambassador] = Operation(
    "ambassadors", "ambassador.offboard", OffboardAmbassador, Ambassador
)
