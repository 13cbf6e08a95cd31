"""The LinkedIn connection.

authorize: a random state (the organisation's id, then 256 random bits), stored hashed, single
use, short-lived. A state started through an invitation is also bound to the employee's browser
(the hash of a nonce in its cookie must come back with the callback) and, once it connects, the
invitation mints no more states. complete (LinkedIn's redirect, through the gateway's public
callback): the state is checked, the code exchanged for a token, the member read from userinfo,
the token sealed and stored, the ambassador moved to connected (a trained, active or quiet one
keeps its state).
The sweep asks for reconnection ahead of expiry (once) and marks the connection expired (once).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.models import (
    AmbassadorRecord,
    LinkedInAuthorizationRecord,
    LinkedInConnectionRecord,
)
from advocacy_ambassadors.repository import (
    AmbassadorRepository,
    InvitationRepository,
    organisation_ids,
)
from advocacy_ambassadors.service.states import existing, locked, move
from advocacy_shared.contracts.errors import Conflict, Invalid, NotReady
from advocacy_shared.contracts.linkedin import (
    CompleteLinkedIn,
    ConnectionStatus,
    DisconnectReason,
    LinkedInAuthorization,
    LinkedInConnected,
    LinkedInConnection,
    LinkedInConnectionExpired,
    LinkedInConnectionExpiring,
    LinkedInDisconnected,
    LinkedInToken,
    TokenPurpose,
)
from advocacy_shared.crypto import SecretBox
from advocacy_shared.envelope import utc_now
from advocacy_shared.linkedin import (
    LinkedInClient,
    LinkedInError,
    LinkedInMember,
    LinkedInRejected,
    TokenGrant,
)
from advocacy_shared.outbox import Outbox


@dataclass(frozen=True)
class LinkedInWiring:
    """What the LinkedIn functions need besides the session: the adapter and the key ring."""

    client: LinkedInClient
    secrets: SecretBox
    state_lifetime: timedelta = timedelta(minutes=10)
    expiring_within: timedelta = timedelta(days=7)


_REFUSED_STATE = "this LinkedIn authorization is unknown, used or expired: start again"
_KEEPS_STATE_ON_CONNECT = frozenset({"connected", "trained", "active", "quiet"})


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _organisation_of(state: str) -> UUID:
    try:
        return UUID(hex=state[:32])
    except ValueError:
        raise Invalid(_REFUSED_STATE) from None


async def authorize_linkedin(
    session: AsyncSession,
    linkedin: LinkedInWiring,
    organisation_id: UUID,
    ambassador_id: UUID,
    now: datetime | None = None,
    *,
    invitation_id: UUID | None = None,
    browser_hash: str | None = None,
) -> LinkedInAuthorization:
    """Start connecting: a single-use authorization link for this ambassador; one started by an
    invitation replaces that invitation's earlier ones and is bound to the browser's nonce."""
    now = now or utc_now()
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    await _require_consent(ambassadors, record)
    if not linkedin.client.configured:
        raise NotReady("no LinkedIn app is configured")
    await ambassadors.drop_stale_linkedin_authorizations(now)
    if invitation_id is not None:
        await ambassadors.drop_invitation_linkedin_authorizations(invitation_id)
    state = organisation_id.hex + secrets.token_urlsafe(32)
    expires_at = now + linkedin.state_lifetime
    ambassadors.save(
        LinkedInAuthorizationRecord(
            state_hash=_state_hash(state),
            organisation_id=organisation_id,
            ambassador_id=record.id,
            invitation_id=invitation_id,
            browser_hash=browser_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return LinkedInAuthorization(
        authorization_url=linkedin.client.authorization_url(state), expires_at=expires_at
    )


@dataclass(frozen=True)
class LinkedInCallback:
    """A callback whose state checked out: whom it connects, and the code to exchange."""

    organisation_id: UUID
    ambassador_id: UUID
    state_hash: str
    code: str
    invitation_id: UUID | None = None


async def check_callback(
    session: AsyncSession, request: CompleteLinkedIn, now: datetime
) -> LinkedInCallback:
    """LinkedIn sent the member back: the state must be one we issued, unused and in time, and
    the ambassador must still consent. Reads only: nothing is claimed yet."""
    organisation_id = _organisation_of(request.state)
    ambassadors = AmbassadorRepository(session, organisation_id)
    state_hash = _state_hash(request.state)
    started = await ambassadors.linkedin_authorization(state_hash)
    if started is None or started.expires_at <= now:
        raise Invalid(_REFUSED_STATE)
    if started.browser_hash is not None and not hmac.compare_digest(
        (request.browser_binding or "").encode(), started.browser_hash.encode()
    ):
        raise Invalid(_REFUSED_STATE)  # started in another browser
    if request.error is not None:
        reason = request.error if re.fullmatch(r"[a-z_]{1,60}", request.error) else "error"
        raise Invalid(f"LinkedIn did not authorize the connection ({reason})", {"error": reason})
    if not request.code:
        raise Invalid("LinkedIn sent no authorization code")
    record = await existing(ambassadors, started.ambassador_id)
    await _require_consent(ambassadors, record)
    return LinkedInCallback(
        organisation_id, record.id, state_hash, request.code, started.invitation_id
    )


async def exchange_code(
    linkedin: LinkedInWiring, callback: LinkedInCallback
) -> tuple[TokenGrant, LinkedInMember]:
    """The code for a token, and the member it belongs to: calls to LinkedIn, no database."""
    try:
        grant = await linkedin.client.exchange_code(callback.code)
        member = await linkedin.client.userinfo(grant.access_token)
    except LinkedInRejected as exc:
        raise Invalid(str(exc), {"status": exc.status, "code": exc.code}) from None
    except LinkedInError as exc:
        raise NotReady(str(exc)) from None
    return grant, member


async def store_connection(
    session: AsyncSession,
    outbox: Outbox,
    linkedin: LinkedInWiring,
    callback: LinkedInCallback,
    grant: TokenGrant,
    member: LinkedInMember,
    now: datetime,
) -> LinkedInConnection:
    """Claim the state (once), keep the token sealed, move the ambassador to connected. Consent
    is checked again: it may have been revoked while LinkedIn answered."""
    ambassadors = AmbassadorRepository(session, callback.organisation_id)
    if not await ambassadors.claim_linkedin_authorization(callback.state_hash):
        raise Invalid(_REFUSED_STATE)  # another callback used it meanwhile
    record = await locked(ambassadors, callback.ambassador_id)
    await _require_consent(ambassadors, record)
    if callback.invitation_id is not None:
        await _spend_invitation(session, callback, now)
    connection = await ambassadors.linkedin_connection(record.id)
    if connection is None:
        connection = LinkedInConnectionRecord(
            organisation_id=callback.organisation_id,
            ambassador_id=record.id,
            member_urn=member.urn,
            scopes=[],
            access_token_sealed="",
            status="connected",
            expires_at=now,
        )
    connection.member_urn = member.urn
    connection.scopes = list(grant.scopes)
    connection.access_token_sealed = linkedin.secrets.seal(grant.access_token)
    connection.status = "connected"
    connection.connected_at = now
    connection.expires_at = now + timedelta(seconds=grant.expires_in)
    connection.expiring_notified_at = None
    connection.expired_at = None
    ambassadors.save(connection)
    if record.state not in _KEEPS_STATE_ON_CONNECT:
        move(record, "connected")
        ambassadors.save(record)
    await outbox.add(
        session,
        LinkedInConnected(
            ambassador_id=record.id, connected_at=now, expires_at=connection.expires_at
        ),
        organisation_id=callback.organisation_id,
        subject=str(record.id),
    )
    return connection_view(callback.organisation_id, record.id, connection, now)


async def _spend_invitation(
    session: AsyncSession, callback: LinkedInCallback, now: datetime
) -> None:
    """The invitation has made its connection: from now on its token mints no more links."""
    invitations = InvitationRepository(session, callback.organisation_id)
    assert callback.invitation_id is not None
    invitation = await invitations.get(callback.invitation_id)
    if invitation is None or invitation.linkedin_connected_at is not None:
        raise Invalid(_REFUSED_STATE)
    invitation.linkedin_connected_at = now
    invitations.save(invitation)


async def linkedin_connection(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID
) -> LinkedInConnection:
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    connection = await ambassadors.linkedin_connection(record.id)
    return connection_view(organisation_id, record.id, connection, utc_now())


async def disconnect_linkedin(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, ambassador_id: UUID
) -> LinkedInConnection:
    """Forget the connection and its token. A connected ambassador is consented again."""
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await locked(ambassadors, ambassador_id)
    if not await ambassadors.forget_linkedin(record.id):
        raise Conflict("the ambassador has no LinkedIn connection")
    if record.state == "connected":
        move(record, "consented")
        ambassadors.save(record)
    await disconnected(session, outbox, record, "disconnected", utc_now())
    return connection_view(organisation_id, record.id, None, utc_now())


async def linkedin_token(
    session: AsyncSession,
    linkedin: LinkedInWiring,
    organisation_id: UUID,
    ambassador_id: UUID,
    purpose: TokenPurpose,
    now: datetime | None = None,
) -> LinkedInToken:
    """A usable token for posting or collecting analytics, if consent and expiry allow it."""
    now = now or utc_now()
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    consent = await ambassadors.latest_consent(record.id)
    allowed = consent is not None and consent.action == "granted"
    if allowed and consent is not None:
        allowed = consent.allows_posting if purpose == "posting" else consent.allows_analytics
    if not allowed or record.state == "offboarded":
        raise Conflict(f"the ambassador's consent does not allow {purpose}", {"purpose": purpose})
    connection = await ambassadors.linkedin_connection(record.id)
    if connection is None:
        raise Conflict("the ambassador has not connected LinkedIn")
    if connection.status != "connected" or connection.expires_at <= now:
        raise Conflict("the ambassador's LinkedIn connection has expired: they must reconnect")
    return LinkedInToken(
        ambassador_id=record.id,
        member_urn=connection.member_urn,
        access_token=linkedin.secrets.open(connection.access_token_sealed),
        scopes=connection.scopes,
        expires_at=connection.expires_at,
    )


async def linkedin_token_rejected(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    now: datetime | None = None,
) -> LinkedInConnection:
    """LinkedIn answered 401 with the ambassador's token: the connection has expired."""
    now = now or utc_now()
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    connection = await ambassadors.linkedin_connection(record.id)
    if connection is None:
        raise Conflict("the ambassador has no LinkedIn connection")
    if connection.status == "connected":
        await _expire(session, outbox, connection, now)
        ambassadors.save(connection)
    return connection_view(organisation_id, record.id, connection, now)


@dataclass
class SweepResult:
    expiring: int = 0
    expired: int = 0


async def sweep_linkedin(
    session: AsyncSession,
    outbox: Outbox,
    expiring_within: timedelta,
    now: datetime | None = None,
) -> SweepResult:
    """Ask for reconnection once ahead of expiry, and mark connections expired once, per tenant."""
    now = now or utc_now()
    result = SweepResult()
    for organisation_id in await organisation_ids(session):
        ambassadors = AmbassadorRepository(session, organisation_id)
        await ambassadors.drop_stale_linkedin_authorizations(now)
        for connection in await ambassadors.linkedin_connections_due(now + expiring_within):
            if connection.expires_at <= now:
                await _expire(session, outbox, connection, now)
                result.expired += 1
            elif connection.expiring_notified_at is None:
                connection.expiring_notified_at = now
                await outbox.add(
                    session,
                    LinkedInConnectionExpiring(
                        ambassador_id=connection.ambassador_id,
                        expires_at=connection.expires_at,
                        noticed_at=now,
                    ),
                    organisation_id=organisation_id,
                    subject=str(connection.ambassador_id),
                )
                result.expiring += 1
            else:
                continue
            ambassadors.save(connection)
    return result


async def _expire(
    session: AsyncSession, outbox: Outbox, connection: LinkedInConnectionRecord, now: datetime
) -> None:
    connection.status = "expired"
    connection.expired_at = now
    connection.access_token_sealed = ""  # an expired token is of no use: keep nothing
    await outbox.add(
        session,
        LinkedInConnectionExpired(ambassador_id=connection.ambassador_id, expired_at=now),
        organisation_id=connection.organisation_id,
        subject=str(connection.ambassador_id),
    )


async def disconnected(
    session: AsyncSession,
    outbox: Outbox,
    record: AmbassadorRecord,
    reason: DisconnectReason,
    now: datetime,
) -> None:
    await outbox.add(
        session,
        LinkedInDisconnected(ambassador_id=record.id, reason=reason, disconnected_at=now),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )


async def _require_consent(ambassadors: AmbassadorRepository, record: AmbassadorRecord) -> None:
    latest = await ambassadors.latest_consent(record.id)
    if latest is None or latest.action != "granted" or record.state in {"invited", "offboarded"}:
        raise Conflict("the ambassador must consent before connecting LinkedIn")


def connection_view(
    organisation_id: UUID,
    ambassador_id: UUID,
    connection: LinkedInConnectionRecord | None,
    now: datetime,
) -> LinkedInConnection:
    if connection is None:
        return LinkedInConnection(
            organisation_id=organisation_id, ambassador_id=ambassador_id, status="not_connected"
        )
    status: ConnectionStatus = (
        "connected"
        if connection.status == "connected" and connection.expires_at > now
        else "expired"
    )
    return LinkedInConnection(
        organisation_id=organisation_id,
        ambassador_id=ambassador_id,
        status=status,
        member_urn=connection.member_urn,
        scopes=connection.scopes,
        connected_at=connection.connected_at,
        expires_at=connection.expires_at,
        expiring_notified_at=connection.expiring_notified_at,
    )
