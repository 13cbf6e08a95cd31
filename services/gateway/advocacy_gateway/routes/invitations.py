"""Invitations an employee clicks through, and the consent texts they accept.

Program managers issue an invitation per invited ambassador and publish consent texts. The
employee opens the link, which leads to `/invitation#<token>`: the fragment never reaches a
server log, and the page sends the token in the `Invitation-Token` header to read the invitation
and to accept (with explicit choices) or decline it. No account is needed for that.
"""

from __future__ import annotations

import secrets
from importlib.resources import files
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from advocacy_gateway import service
from advocacy_gateway.access import Permission
from advocacy_gateway.auth import Access, Caller
from advocacy_gateway.problems import ProblemError
from advocacy_gateway.routes.common import COMMON_PROBLEMS, CONFLICT, SERVICE_PROBLEMS, State
from advocacy_gateway.routes.forward import BY_ID, delete, get, mount, post
from advocacy_gateway.routes.linkedin import FLOW_COOKIE, flow_binding
from advocacy_gateway.settings import LINKEDIN_CALLBACK_PATH
from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.invitations import (
    ANSWER_INVITATION,
    CLAIM_INVITATION,
    CONNECT_LINKEDIN,
    ISSUE_INVITATION,
    LIST_CONSENT_TEXTS,
    LIST_INVITATIONS,
    OPEN_INVITATION,
    PUBLISH_CONSENT_TEXT,
    REVOKE_INVITATION,
    ClaimInvitation,
    ConnectLinkedInByInvitation,
    InvitationStatus,
    IssuedInvitation,
)
from advocacy_shared.contracts.linkedin import LinkedInAuthorization
from advocacy_shared.envelope import utc_now

PAGE_PATH = "/invitation"
MANAGE, READ = Permission.AMBASSADORS_MANAGE, Permission.AMBASSADORS_READ
PROBLEMS = {**COMMON_PROBLEMS, **SERVICE_PROBLEMS, **CONFLICT}


class InvitationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ambassador_id: UUID = Field(description="An ambassador in the `invited` state")
    valid_for_days: int = Field(default=14, ge=1, le=90)


class IssuedInvitationOut(IssuedInvitation):
    url: str = Field(description="The link to send to the employee; shown once")


class ConsentTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=40, examples=["2026-12"])
    text: str = Field(min_length=20, max_length=20_000)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent_version: str = Field(
        min_length=1, max_length=40, description="The version of the text the employee read"
    )
    allows_posting: bool = Field(description="Posting on their behalf, each post approved")
    allows_analytics: bool = Field(description="Collecting the analytics of their posts")


InvitationToken = Annotated[
    str,
    Header(
        alias="Invitation-Token",
        min_length=1,
        max_length=200,
        description="The token from the invitation link (after `#`)",
    ),
]


def invitation_url(state: GatewayState, token: str) -> str:
    return f"{state.settings.public_url.rstrip('/')}{PAGE_PATH}#{token}"


def _with_url(
    issued: IssuedInvitation, _access: Access | None, state: GatewayState
) -> IssuedInvitationOut:
    return IssuedInvitationOut(**issued.model_dump(), url=invitation_url(state, issued.token))


TOKEN = {"token": InvitationToken}

# One route a line (or three): a table reads better unformatted.
# fmt: off
ROUTES = [
    post("/invitations", ISSUE_INVITATION, MANAGE, "issue_invitation",
         "Issue an invitation link for an invited ambassador; an earlier pending one is revoked",
         body=InvitationRequest, status_code=201,
         location="/api/v1/orgs/{org_id}/invitations?status=pending",
         present=_with_url, response_model=IssuedInvitationOut),
    get("/invitations", LIST_INVITATIONS, READ, "list_invitations",
        "Invitations and their answers",
        paging=BY_ID, params={"status": Annotated[InvitationStatus | None, Query()]}),
    delete("/invitations/{invitation_id}", REVOKE_INVITATION, MANAGE, "revoke_invitation",
           "Revoke a pending invitation"),
    get("/consent-texts", LIST_CONSENT_TEXTS, READ, "list_consent_texts",
        "Every published consent text; the newest is current"),
    post("/consent-texts", PUBLISH_CONSENT_TEXT, MANAGE, "publish_consent_text",
         "Publish a new consent text version; it becomes current, earlier ones are kept",
         body=ConsentTextIn, status_code=201),
]
# The employee's own routes: the invitation token is the credential.
EMPLOYEE_ROUTES = [
    get("", OPEN_INVITATION, None, "open_invitation",
        "The invitation the employee holds, with the consent text", params=TOKEN),
    post("/accept", ANSWER_INVITATION, None, "accept_invitation",
         "Accept: explicit consent to the text that was shown, exactly as kept",
         body=Answer, params=TOKEN, fixed={"accept": True}),
    post("/decline", ANSWER_INVITATION, None, "decline_invitation", "Decline the invitation",
         params=TOKEN, fixed={"accept": False}),
]
# fmt: on

router = mount(
    APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["invitations"], responses=PROBLEMS), ROUTES
)
employee_router = mount(
    APIRouter(prefix="/api/v1/invitation", tags=["invitations"], responses=PROBLEMS),
    EMPLOYEE_ROUTES,
)
page_router = APIRouter()


@employee_router.post(
    "/linkedin",
    operation_id="connect_linkedin",
    summary="After accepting: connect one's own LinkedIn (answers the URL to send the browser to)",
    description="Works for an hour after accepting and until a connection is made; each call "
    "voids the previous link. The flow is bound to this browser by a cookie: LinkedIn's "
    "callback completes only in the browser that called this.",
)
async def connect_linkedin(
    token: InvitationToken, state: State, response: Response
) -> LinkedInAuthorization:
    nonce = secrets.token_urlsafe(32)
    authorization = await state.rpc.call(
        CONNECT_LINKEDIN,
        ConnectLinkedInByInvitation(token=token, browser_binding=flow_binding(nonce)),
    )
    response.set_cookie(
        FLOW_COOKIE,
        nonce,
        max_age=max(1, int((authorization.expires_at - utc_now()).total_seconds())),
        httponly=True,
        secure=state.settings.secure_cookies,
        samesite="lax",  # LinkedIn's redirect back is a cross-site top-level navigation
        path=LINKEDIN_CALLBACK_PATH,
    )
    response.headers["Cache-Control"] = "no-store"
    return authorization


class Linked(BaseModel):
    organisation_id: UUID
    ambassador_id: UUID = Field(description="Your own ambassador record, now linked")


@employee_router.post(
    "/link",
    operation_id="link_ambassador",
    summary="Link the signed-in account to the ambassador record of the invitation it accepted",
    description="Needs a signed-in user of the invitation's organisation (session and CSRF "
    "token) and the accepted invitation's token; the account's address must be the one the "
    "invitation was sent to. Then `/auth/me` names the `ambassador_id` and `/orgs/{org_id}/me/…` "
    "serve that record alone (docs/security.md).",
)
async def link_ambassador(token: InvitationToken, caller: Caller, state: State) -> Linked:
    if caller.kind != "user" or len(caller.roles) != 1:
        raise ProblemError(
            403, "forbidden", "sign in with your own account of the organisation to link it"
        )
    (organisation_id,) = caller.roles
    claimed = await state.rpc.call(
        CLAIM_INVITATION,
        ClaimInvitation(token=token, organisation_id=organisation_id, email=caller.name),
    )
    try:
        async with state.transaction() as session:
            await service.link_ambassador(
                session, organisation_id, UUID(caller.id), claimed.ambassador_id, caller.actor
            )
    except IntegrityError as exc:  # a concurrent link of the same record won
        raise ProblemError(
            409, "conflict", "this ambassador record is already linked to another account"
        ) from exc
    return Linked(organisation_id=organisation_id, ambassador_id=claimed.ambassador_id)


@page_router.get(PAGE_PATH, include_in_schema=False, response_class=HTMLResponse)
async def invitation_page() -> HTMLResponse:
    """The page the employee's link opens: it shows the consent text and the two choices."""
    page = files("advocacy_gateway").joinpath("pages/invitation.html").read_text("utf-8")
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": "default-src 'none'; script-src 'self' 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )
