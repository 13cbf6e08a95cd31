"""Ambassadors: invitation, consent and training, forwarded to the ambassadors service."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway import service
from advocacy_gateway.access import Permission
from advocacy_gateway.auth import Access
from advocacy_gateway.routes import references
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CONFLICT,
    SERVICE_PROBLEMS,
    Email,
    Page,
    cursor_of,
)
from advocacy_gateway.routes.forward import BY_ID, delete, get, mount, post, put, reference
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
    AmbassadorPage,
    AmbassadorProfile,
    EnablementFormat,
    InviteAmbassador,
)

MANAGE, READ = Permission.AMBASSADORS_MANAGE, Permission.AMBASSADORS_READ
ONE = "/{ambassador_id}"
BY_CALLER = {"recorded_by": reference}


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
    def of(cls, access: Access | None, ambassador: Ambassador) -> AmbassadorView:
        shown = ambassador.model_dump()
        if access is None or not access.principal.may(
            access.organisation.id, Permission.PERSONAL_DATA_READ
        ):
            shown.update(email=None, display_name=None, external_id=None)
        return cls.model_validate(shown)


def _view(reply: Ambassador, access: Access | None, _state: GatewayState) -> AmbassadorView:
    return AmbassadorView.of(access, reply)


def _views(
    reply: AmbassadorPage, access: Access | None, _state: GatewayState
) -> Page[AmbassadorView]:
    return Page(
        items=[AmbassadorView.of(access, a) for a in reply.items],
        next_cursor=cursor_of(reply.next_after),
    )


async def _known_program(request: InviteAmbassador, access: Access, state: GatewayState) -> None:
    await references.check_program(state, access.organisation.id, request.program_id, "program_id")


def _audited(action: str, **detail_of: str) -> Any:
    """An audit entry for a change done on a person's behalf, once the service has made it (ids
    only: the audit log outlives an erasure); `detail_of` names request fields to keep."""

    async def audit(request: Any, _reply: Any, access: Access, state: GatewayState) -> None:
        async with state.transaction() as session:
            service.audit(
                session,
                access.organisation.id,
                access.principal.actor,
                action,
                f"ambassador:{request.ambassador_id}",
                **{name: getattr(request, field) for name, field in detail_of.items()},
            )

    return audit


CONSENT_DETAIL = {
    "consent_version": "consent_version",
    "allows_posting": "allows_posting",
    "allows_analytics": "allows_analytics",
}


class Training(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enablement_format: EnablementFormat


# One route a line (or three): a table reads better unformatted.
# fmt: off
ROUTES = [
    post("", INVITE, MANAGE, "invite", "Invite an employee into the program", body=Invitation,
         status_code=201, location="/api/v1/orgs/{org_id}/ambassadors/{reply.id}",
         check=_known_program),
    get("", LIST, READ, "list_ambassadors",
        "The program's ambassadors; `leadership` filters the leadership track",
        paging=BY_ID, params={"leadership": Annotated[bool | None, Query()]},
        present=_views, response_model=Page[AmbassadorView]),
    get(ONE, GET, READ, "get_ambassador", "One ambassador, with consent and trainings",
        present=_view, response_model=AmbassadorView),
    post(ONE + "/consent", GRANT_CONSENT, MANAGE, "grant_consent",
         "Record the explicit consent an ambassador gave elsewhere (the invitation link is "
         "the usual way)", body=Consent, from_caller=BY_CALLER,
         after=_audited("ambassador.consent_recorded", **CONSENT_DETAIL)),
    get(ONE + "/consents", CONSENT_HISTORY, READ, "consent_history",
        "Every consent change: who recorded it, when, which text, what it allowed"),
    delete(ONE + "/consent", REVOKE_CONSENT, MANAGE, "revoke_consent",
           "Revoke consent: posting and collection stop at once", from_caller=BY_CALLER,
           after=_audited("ambassador.consent_revoked")),
    post(ONE + "/trainings", RECORD_TRAINING, MANAGE, "record_training",
         "Record a training in one of the playbook's enablement formats", body=Training,
         status_code=201),
    post(ONE + "/offboard", OFFBOARD, MANAGE, "offboard",
         "Take the ambassador out of the program (they left it, or the organisation)",
         body=Offboarding),
    delete(ONE, ERASE, MANAGE, "erase",
           "Erase the person (GDPR art. 17): this service's data now, every other service's "
           "from the AmbassadorErased event", after=_audited("ambassador.erased")),
    put(ONE + "/profile", UPDATE_PROFILE, MANAGE, "update_profile",
        "Replace the profile: segments, topics, languages, cadence, the leadership track",
        body=AmbassadorProfile, body_as="profile"),
    post(ONE + "/activity", CHANGE_ACTIVITY, MANAGE, "change_activity",
         "Mark a trained ambassador active, or an active one quiet (and back)", body=Activity),
]
# fmt: on

router = mount(
    APIRouter(
        prefix="/api/v1/orgs/{org_id}/ambassadors",
        tags=["ambassadors"],
        responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS, **CONFLICT},
    ),
    ROUTES,
)
