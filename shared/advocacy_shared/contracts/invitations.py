"""Invitations an employee clicks through, and the consent texts they accept.

The invitation token is a bearer secret: it is returned once, when the invitation is issued, and
is kept only as a hash. It starts with the organisation's id, so that even the lookup by token
filters by organisation. Events about invitations carry ids and dates, never the token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import (
    EntityVersion,
    EventData,
    Operation,
    RpcReply,
    RpcRequest,
    event,
)
from advocacy_shared.contracts.limits import ExternalId
from advocacy_shared.contracts.linkedin import LinkedInAuthorization

InvitationStatus = Literal["pending", "accepted", "declined", "revoked", "expired"]


@event("ambassadors", "invitation", "issued", 1)
class InvitationIssued(EventData):
    invitation_id: UUID
    ambassador_id: UUID
    external_id: ExternalId | None = Field(default=None, description="The HR system's id, if known")
    employee_id: UUID | None = Field(default=None, description="Their roster record, if any")
    expires_at: datetime
    version: EntityVersion = Field(
        default=None,
        description="The ambassador's version after this fact (invitation facts are in the "
        "sequence of the ambassador's own facts): a consumer applies it only when newer",
    )


@event("ambassadors", "invitation", "declined", 1)
class InvitationDeclined(EventData):
    """The employee said no: recruitment should not propose them again soon."""

    invitation_id: UUID
    ambassador_id: UUID
    external_id: ExternalId | None = Field(default=None, description="The HR system's id, if known")
    employee_id: UUID | None = Field(default=None, description="Their roster record, if any")
    declined_at: datetime
    version: EntityVersion = Field(
        default=None, description="The ambassador's version after this fact (see InvitationIssued)"
    )


class PublishConsentText(RpcRequest):
    organisation_id: UUID
    version: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=20, max_length=20_000)


class ListConsentTexts(RpcRequest):
    organisation_id: UUID


class ConsentText(RpcReply):
    version: str
    text: str
    published_at: datetime
    current: bool


class ConsentTexts(RpcReply):
    items: list[ConsentText]


class IssueInvitation(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    valid_for_days: int = Field(default=14, ge=1, le=90)


class Invitation(RpcReply):
    id: UUID
    ambassador_id: UUID
    status: InvitationStatus
    expires_at: datetime
    created_at: datetime
    responded_at: datetime | None


class IssuedInvitation(Invitation):
    token: str = Field(description="Shown once: the employee's link carries it")


class ListInvitations(RpcRequest):
    organisation_id: UUID
    limit: int = Field(default=50, ge=1, le=200)
    after: UUID | None = None
    status: InvitationStatus | None = None


class InvitationPage(RpcReply):
    items: list[Invitation]
    next_after: UUID | None


class RevokeInvitation(RpcRequest):
    organisation_id: UUID
    invitation_id: UUID


class OpenInvitation(RpcRequest):
    token: str = Field(min_length=1, max_length=200)


class InvitationForEmployee(RpcReply):
    """What the employee sees: who invites them and the consent text, exactly as it is kept."""

    organisation_id: UUID
    organisation_name: str
    display_name: str
    status: InvitationStatus
    expires_at: datetime
    consent: ConsentText


class AnswerInvitation(RpcRequest):
    token: str = Field(min_length=1, max_length=200)
    accept: bool
    consent_version: str | None = Field(default=None, max_length=40)
    allows_posting: bool = False
    allows_analytics: bool = False


class ConnectLinkedInByInvitation(RpcRequest):
    """The employee, holding an accepted invitation's token, connects their own LinkedIn.

    `browser_binding` is the SHA-256 (hex) of a nonce the gateway set as a cookie in the
    employee's browser: only a callback from that browser completes the flow."""

    token: str = Field(min_length=1, max_length=200)
    browser_binding: str = Field(pattern=r"^[0-9a-f]{64}$", max_length=64)


class ClaimInvitation(RpcRequest):
    """A signed-in account of the organisation claims the ambassador record of an accepted
    invitation (docs/security.md, "An account and its ambassador record"): the token proves the
    mailbox the invitation went to, and the account's address must be the ambassador's."""

    token: str = Field(min_length=1, max_length=200)
    organisation_id: UUID = Field(description="The signed-in account's organisation")
    email: str = Field(min_length=3, max_length=320, description="The signed-in account's address")


class ClaimedInvitation(RpcReply):
    ambassador_id: UUID


PUBLISH_CONSENT_TEXT: Operation[PublishConsentText, ConsentText] = Operation(
    "ambassadors", "consent_text.publish", PublishConsentText, ConsentText
)
LIST_CONSENT_TEXTS: Operation[ListConsentTexts, ConsentTexts] = Operation(
    "ambassadors", "consent_text.list", ListConsentTexts, ConsentTexts
)
ISSUE_INVITATION: Operation[IssueInvitation, IssuedInvitation] = Operation(
    "ambassadors", "invitation.issue", IssueInvitation, IssuedInvitation
)
LIST_INVITATIONS: Operation[ListInvitations, InvitationPage] = Operation(
    "ambassadors", "invitation.list", ListInvitations, InvitationPage
)
REVOKE_INVITATION: Operation[RevokeInvitation, Invitation] = Operation(
    "ambassadors", "invitation.revoke", RevokeInvitation, Invitation
)
OPEN_INVITATION: Operation[OpenInvitation, InvitationForEmployee] = Operation(
    "ambassadors", "invitation.open", OpenInvitation, InvitationForEmployee
)
ANSWER_INVITATION: Operation[AnswerInvitation, Invitation] = Operation(
    "ambassadors", "invitation.answer", AnswerInvitation, Invitation
)
CONNECT_LINKEDIN: Operation[ConnectLinkedInByInvitation, LinkedInAuthorization] = Operation(
    "ambassadors", "invitation.connect_linkedin", ConnectLinkedInByInvitation, LinkedInAuthorization
)
CLAIM_INVITATION: Operation[ClaimInvitation, ClaimedInvitation] = Operation(
    "ambassadors", "invitation.claim", ClaimInvitation, ClaimedInvitation
)
