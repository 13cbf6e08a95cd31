"""An ambassador's LinkedIn connection, owned by the ambassadors service.

The events carry ids and dates only: never a token, a code, a member id or a name. Services that
act on LinkedIn for an ambassador (posting, analytics) ask for a usable token with `TOKEN` at the
moment they need one; it is refused when consent does not allow the purpose or the connection has
expired, and they report a 401 from LinkedIn with `TOKEN_REJECTED`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import EventData, Operation, RpcReply, RpcRequest, event

ConnectionStatus = Literal["not_connected", "connected", "expired"]
DisconnectReason = Literal["disconnected", "consent_revoked", "replaced", "offboarded"]
TokenPurpose = Literal["posting", "analytics"]


@event("ambassadors", "linkedin_connection", "connected", 1)
class LinkedInConnected(EventData):
    """The ambassador connected (or reconnected) their LinkedIn profile."""

    ambassador_id: UUID
    connected_at: datetime
    expires_at: datetime


@event("ambassadors", "linkedin_connection", "expiring", 1)
class LinkedInConnectionExpiring(EventData):
    """The connection expires soon: the ambassador is asked to reconnect ahead of it."""

    ambassador_id: UUID
    expires_at: datetime
    noticed_at: datetime


@event("ambassadors", "linkedin_connection", "expired", 1)
class LinkedInConnectionExpired(EventData):
    """The token expired or LinkedIn refused it: nothing can be posted or collected until the
    ambassador reconnects."""

    ambassador_id: UUID
    expired_at: datetime


@event("ambassadors", "linkedin_connection", "disconnected", 1)
class LinkedInDisconnected(EventData):
    """The connection and its token are gone (disconnected, or consent revoked)."""

    ambassador_id: UUID
    reason: DisconnectReason
    disconnected_at: datetime


class AuthorizeLinkedIn(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID


class LinkedInAuthorization(RpcReply):
    authorization_url: str = Field(description="Send the ambassador's browser here")
    expires_at: datetime = Field(description="The link works once, until then")


class CompleteLinkedIn(RpcRequest):
    """What LinkedIn sent back to the callback. The state names the organisation and ambassador."""

    state: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=2000, repr=False)
    error: str | None = Field(default=None, max_length=200)
    browser_binding: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        max_length=64,
        description="SHA-256 of the flow cookie the callback's browser sent, if any",
    )


class LinkedInConnectionRequest(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID


class LinkedInConnection(RpcReply):
    """The connection's status: never the token."""

    ambassador_id: UUID
    organisation_id: UUID
    status: ConnectionStatus
    member_urn: str | None = None
    scopes: list[str] = Field(default_factory=list)
    connected_at: datetime | None = None
    expires_at: datetime | None = None
    expiring_notified_at: datetime | None = None


class GetLinkedInToken(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    purpose: TokenPurpose


class LinkedInToken(RpcReply):
    """A usable access token, decrypted for the caller. Never log it, never store it."""

    ambassador_id: UUID
    member_urn: str
    access_token: str = Field(repr=False)
    scopes: list[str]
    expires_at: datetime


class LinkedInTokenRejected(RpcRequest):
    """LinkedIn answered 401 to a call with the ambassador's token: mark the connection expired."""

    organisation_id: UUID
    ambassador_id: UUID


AUTHORIZE: Operation[AuthorizeLinkedIn, LinkedInAuthorization] = Operation(
    "ambassadors", "linkedin.authorize", AuthorizeLinkedIn, LinkedInAuthorization
)
COMPLETE: Operation[CompleteLinkedIn, LinkedInConnection] = Operation(
    "ambassadors", "linkedin.complete", CompleteLinkedIn, LinkedInConnection
)
GET_CONNECTION: Operation[LinkedInConnectionRequest, LinkedInConnection] = Operation(
    "ambassadors", "linkedin.get", LinkedInConnectionRequest, LinkedInConnection
)
DISCONNECT: Operation[LinkedInConnectionRequest, LinkedInConnection] = Operation(
    "ambassadors", "linkedin.disconnect", LinkedInConnectionRequest, LinkedInConnection
)
TOKEN: Operation[GetLinkedInToken, LinkedInToken] = Operation(
    "ambassadors", "linkedin.token", GetLinkedInToken, LinkedInToken
)
TOKEN_REJECTED: Operation[LinkedInTokenRejected, LinkedInConnection] = Operation(
    "ambassadors", "linkedin.token_rejected", LinkedInTokenRejected, LinkedInConnection
)
