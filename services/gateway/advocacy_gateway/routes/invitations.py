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

from advocacy_gateway.auth import AmbassadorsManager, AmbassadorsReader
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CONFLICT,
    SERVICE_PROBLEMS,
    CursorParam,
    IdempotencyKey,
    Limit,
    Page,
    State,
    after_id,
    cursor_of,
)
from advocacy_gateway.routes.linkedin import CALLBACK_PATH, FLOW_COOKIE, flow_binding
from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.invitations import (
    ANSWER_INVITATION,
    CONNECT_LINKEDIN,
    ISSUE_INVITATION,
    LIST_CONSENT_TEXTS,
    LIST_INVITATIONS,
    OPEN_INVITATION,
    PUBLISH_CONSENT_TEXT,
    REVOKE_INVITATION,
    AnswerInvitation,
    ConnectLinkedInByInvitation,
    ConsentText,
    ConsentTexts,
    Invitation,
    InvitationForEmployee,
    InvitationStatus,
    IssuedInvitation,
    IssueInvitation,
    ListConsentTexts,
    ListInvitations,
    OpenInvitation,
    PublishConsentText,
    RevokeInvitation,
)
from advocacy_shared.contracts.linkedin import LinkedInAuthorization
from advocacy_shared.envelope import utc_now

PAGE_PATH = "/invitation"

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}",
    tags=["invitations"],
    responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS, **CONFLICT},
)
employee_router = APIRouter(
    prefix="/api/v1/invitation",
    tags=["invitations"],
    responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS, **CONFLICT},
)
page_router = APIRouter()


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


@router.post(
    "/invitations",
    status_code=201,
    summary="Issue an invitation link for an invited ambassador; an earlier pending one is revoked",
)
async def issue_invitation(
    body: InvitationRequest,
    access: AmbassadorsManager,
    state: State,
    response: Response,
    _idempotency_key: IdempotencyKey = None,
) -> IssuedInvitationOut:
    issued = await state.rpc.call(
        ISSUE_INVITATION,
        IssueInvitation(organisation_id=access.organisation.id, **body.model_dump()),
    )
    response.headers["Location"] = (
        f"/api/v1/orgs/{access.organisation.id}/invitations?status=pending"
    )
    return IssuedInvitationOut(**issued.model_dump(), url=invitation_url(state, issued.token))


@router.get("/invitations", summary="Invitations and their answers")
async def list_invitations(
    access: AmbassadorsReader,
    state: State,
    limit: Limit = 50,
    cursor: CursorParam = None,
    status: Annotated[InvitationStatus | None, Query()] = None,
) -> Page[Invitation]:
    page = await state.rpc.call(
        LIST_INVITATIONS,
        ListInvitations(
            organisation_id=access.organisation.id,
            limit=limit,
            after=after_id(cursor),
            status=status,
        ),
    )
    return Page(items=page.items, next_cursor=cursor_of(page.next_after))


@router.delete("/invitations/{invitation_id}", summary="Revoke a pending invitation")
async def revoke_invitation(
    invitation_id: UUID, access: AmbassadorsManager, state: State
) -> Invitation:
    return await state.rpc.call(
        REVOKE_INVITATION,
        RevokeInvitation(organisation_id=access.organisation.id, invitation_id=invitation_id),
    )


@router.get("/consent-texts", summary="Every published consent text; the newest is current")
async def list_consent_texts(access: AmbassadorsReader, state: State) -> ConsentTexts:
    return await state.rpc.call(
        LIST_CONSENT_TEXTS, ListConsentTexts(organisation_id=access.organisation.id)
    )


@router.post(
    "/consent-texts",
    status_code=201,
    summary="Publish a new consent text version; it becomes current, earlier ones are kept",
)
async def publish_consent_text(
    body: ConsentTextIn,
    access: AmbassadorsManager,
    state: State,
    _idempotency_key: IdempotencyKey = None,
) -> ConsentText:
    return await state.rpc.call(
        PUBLISH_CONSENT_TEXT,
        PublishConsentText(organisation_id=access.organisation.id, **body.model_dump()),
    )


@employee_router.get("", summary="The invitation the employee holds, with the consent text")
async def open_invitation(token: InvitationToken, state: State) -> InvitationForEmployee:
    return await state.rpc.call(OPEN_INVITATION, OpenInvitation(token=token))


@employee_router.post(
    "/accept", summary="Accept: explicit consent to the text that was shown, exactly as kept"
)
async def accept_invitation(token: InvitationToken, body: Answer, state: State) -> Invitation:
    return await state.rpc.call(
        ANSWER_INVITATION, AnswerInvitation(token=token, accept=True, **body.model_dump())
    )


@employee_router.post(
    "/linkedin",
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
        path=CALLBACK_PATH,
    )
    response.headers["Cache-Control"] = "no-store"
    return authorization


@employee_router.post("/decline", summary="Decline the invitation")
async def decline_invitation(token: InvitationToken, state: State) -> Invitation:
    return await state.rpc.call(ANSWER_INVITATION, AnswerInvitation(token=token, accept=False))


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
