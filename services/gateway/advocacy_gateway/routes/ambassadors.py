"""Ambassadors: invitation, consent and training, forwarded to the ambassadors service."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway import service
from advocacy_gateway.access import Permission
from advocacy_gateway.auth import Access, AmbassadorsManager, AmbassadorsReader
from advocacy_gateway.routes import references
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CONFLICT,
    SERVICE_PROBLEMS,
    CursorParam,
    Email,
    IdempotencyKey,
    Limit,
    Page,
    State,
    after_id,
    cursor_of,
)
from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.ambassadors import (
    CHANGE_ACTIVITY,
    CONSENT_HISTORY,
    ERASE,
    GET,
    GRANT_CONSENT,
    INVITE,
    LIST,
    OFFBOARD,
    RECORD_TRAINING,
    REVOKE_CONSENT,
    UPDATE_PROFILE,
    Ambassador,
    AmbassadorProfile,
    ChangeActivity,
    ConsentHistory,
    ConsentHistoryRequest,
    EnablementFormat,
    EraseAmbassador,
    Erased,
    GetAmbassador,
    GrantConsent,
    InviteAmbassador,
    ListAmbassadors,
    OffboardAmbassador,
    RecordTraining,
    RevokeConsent,
    UpdateProfile,
)

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}/ambassadors",
    tags=["ambassadors"],
    responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS, **CONFLICT},
)


class Invitation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    display_name: str = Field(min_length=1, max_length=200)
    external_id: str | None = Field(default=None, max_length=200, description="The HR system's id")
    program_id: UUID | None = None
    profile: AmbassadorProfile = Field(default_factory=AmbassadorProfile)


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent_version: str = Field(min_length=1, max_length=40, examples=["2026-11"])
    consent_text: str = Field(min_length=20, max_length=20_000, description="Exactly as shown")
    allows_posting: bool = Field(description="Posting on the ambassador's behalf")
    allows_analytics: bool = Field(description="Collecting the analytics of their posts")


class Activity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["active", "quiet"] = Field(
        description="`active` when a trained ambassador starts sharing; `quiet` when they stop"
    )


class Offboarding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal["left_program", "left_organisation"]


PERSONAL = "null unless the caller may read personal data (`personal_data.read`)"


class AmbassadorView(Ambassador):
    """An ambassador as a reader sees them: who they are only with `personal_data.read`."""

    email: str | None = Field(description=f"The work email; {PERSONAL}")  # type: ignore[assignment]
    display_name: str | None = Field(description=PERSONAL)  # type: ignore[assignment]
    external_id: str | None = Field(description=f"The HR system's id; {PERSONAL}")

    @classmethod
    def of(cls, access: Access, ambassador: Ambassador) -> AmbassadorView:
        shown = ambassador.model_dump()
        if not access.principal.may(access.organisation.id, Permission.PERSONAL_DATA_READ):
            shown.update(email=None, display_name=None, external_id=None)
        return cls.model_validate(shown)


class Training(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enablement_format: EnablementFormat


@router.post("", status_code=201, summary="Invite an employee into the program")
async def invite(
    body: Invitation,
    access: AmbassadorsManager,
    state: State,
    response: Response,
    _idempotency_key: IdempotencyKey = None,
) -> Ambassador:
    await references.check_program(state, access.organisation.id, body.program_id, "program_id")
    ambassador = await state.rpc.call(
        INVITE, InviteAmbassador(organisation_id=access.organisation.id, **body.model_dump())
    )
    response.headers["Location"] = (
        f"/api/v1/orgs/{access.organisation.id}/ambassadors/{ambassador.id}"
    )
    return ambassador


@router.get("", summary="The program's ambassadors; `leadership` filters the leadership track")
async def list_ambassadors(
    access: AmbassadorsReader,
    state: State,
    limit: Limit = 50,
    cursor: CursorParam = None,
    leadership: Annotated[bool | None, Query()] = None,
) -> Page[AmbassadorView]:
    page = await state.rpc.call(
        LIST,
        ListAmbassadors(
            organisation_id=access.organisation.id,
            limit=limit,
            after=after_id(cursor),
            leadership=leadership,
        ),
    )
    return Page(
        items=[AmbassadorView.of(access, a) for a in page.items],
        next_cursor=cursor_of(page.next_after),
    )


@router.get("/{ambassador_id}", summary="One ambassador, with consent and trainings")
async def get_ambassador(
    ambassador_id: UUID, access: AmbassadorsReader, state: State
) -> AmbassadorView:
    ambassador = await state.rpc.call(
        GET, GetAmbassador(organisation_id=access.organisation.id, ambassador_id=ambassador_id)
    )
    return AmbassadorView.of(access, ambassador)


@router.post(
    "/{ambassador_id}/consent",
    summary="Record the explicit consent an ambassador gave elsewhere (the invitation link is "
    "the usual way)",
)
async def grant_consent(
    ambassador_id: UUID, body: Consent, access: AmbassadorsManager, state: State
) -> Ambassador:
    ambassador = await state.rpc.call(
        GRANT_CONSENT,
        GrantConsent(
            organisation_id=access.organisation.id,
            ambassador_id=ambassador_id,
            recorded_by=access.principal.reference,
            **body.model_dump(),
        ),
    )
    await _audit(
        state,
        access,
        "ambassador.consent_recorded",
        ambassador_id,
        consent_version=body.consent_version,
        allows_posting=body.allows_posting,
        allows_analytics=body.allows_analytics,
    )
    return ambassador


@router.get(
    "/{ambassador_id}/consents",
    summary="Every consent change: who recorded it, when, which text, what it allowed",
)
async def consent_history(
    ambassador_id: UUID, access: AmbassadorsReader, state: State
) -> ConsentHistory:
    return await state.rpc.call(
        CONSENT_HISTORY,
        ConsentHistoryRequest(organisation_id=access.organisation.id, ambassador_id=ambassador_id),
    )


@router.delete(
    "/{ambassador_id}/consent",
    summary="Revoke consent: posting and collection stop at once",
)
async def revoke_consent(
    ambassador_id: UUID, access: AmbassadorsManager, state: State
) -> Ambassador:
    ambassador = await state.rpc.call(
        REVOKE_CONSENT,
        RevokeConsent(
            organisation_id=access.organisation.id,
            ambassador_id=ambassador_id,
            recorded_by=access.principal.reference,
        ),
    )
    await _audit(state, access, "ambassador.consent_revoked", ambassador_id)
    return ambassador


@router.post(
    "/{ambassador_id}/trainings",
    status_code=201,
    summary="Record a training in one of the playbook's enablement formats",
)
async def record_training(
    ambassador_id: UUID,
    body: Training,
    access: AmbassadorsManager,
    state: State,
    _idempotency_key: IdempotencyKey = None,
) -> Ambassador:
    return await state.rpc.call(
        RECORD_TRAINING,
        RecordTraining(
            organisation_id=access.organisation.id,
            ambassador_id=ambassador_id,
            enablement_format=body.enablement_format,
        ),
    )


@router.post(
    "/{ambassador_id}/offboard",
    summary="Take the ambassador out of the program (they left it, or the organisation)",
)
async def offboard(
    ambassador_id: UUID, body: Offboarding, access: AmbassadorsManager, state: State
) -> Ambassador:
    return await state.rpc.call(
        OFFBOARD,
        OffboardAmbassador(
            organisation_id=access.organisation.id,
            ambassador_id=ambassador_id,
            reason=body.reason,
        ),
    )


@router.delete(
    "/{ambassador_id}",
    summary="Erase the person (GDPR art. 17): this service's data now, every other service's "
    "from the AmbassadorErased event",
)
async def erase(ambassador_id: UUID, access: AmbassadorsManager, state: State) -> Erased:
    erased = await state.rpc.call(
        ERASE, EraseAmbassador(organisation_id=access.organisation.id, ambassador_id=ambassador_id)
    )
    await _audit(state, access, "ambassador.erased", ambassador_id)
    return erased


async def _audit(
    state: GatewayState, access: Access, action: str, ambassador_id: UUID, **detail: Any
) -> None:
    """An audit entry for a change done on a person's behalf, once the service has made it
    (ids only: the audit log outlives an erasure)."""
    async with state.transaction() as session:
        service.audit(
            session,
            access.organisation.id,
            access.principal.actor,
            action,
            f"ambassador:{ambassador_id}",
            **detail,
        )


@router.put(
    "/{ambassador_id}/profile",
    summary="Replace the profile: segments, topics, languages, cadence, the leadership track",
)
async def update_profile(
    ambassador_id: UUID, body: AmbassadorProfile, access: AmbassadorsManager, state: State
) -> Ambassador:
    return await state.rpc.call(
        UPDATE_PROFILE,
        UpdateProfile(
            organisation_id=access.organisation.id, ambassador_id=ambassador_id, profile=body
        ),
    )


@router.post(
    "/{ambassador_id}/activity",
    summary="Mark a trained ambassador active, or an active one quiet (and back)",
)
async def change_activity(
    ambassador_id: UUID, body: Activity, access: AmbassadorsManager, state: State
) -> Ambassador:
    return await state.rpc.call(
        CHANGE_ACTIVITY,
        ChangeActivity(
            organisation_id=access.organisation.id, ambassador_id=ambassador_id, state=body.state
        ),
    )
