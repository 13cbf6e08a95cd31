"""Invitations, and the versioned consent texts they show.

An invitation is a link the employee clicks through: accepting it grants consent
(`journey.grant_consent`) to the current text, exactly as kept; declining is recorded.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import cast
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.models import ConsentTextRecord, InvitationRecord
from advocacy_ambassadors.repository import (
    AmbassadorRepository,
    InvitationRepository,
    tenant_repository,
)
from advocacy_ambassadors.service.journey import grant_consent
from advocacy_ambassadors.service.linkedin import LinkedInWiring, authorize_linkedin
from advocacy_ambassadors.service.states import existing, locked, touch
from advocacy_shared.contracts.ambassadors import GrantConsent
from advocacy_shared.contracts.errors import Conflict, NotFound, NotReady
from advocacy_shared.contracts.invitations import (
    AnswerInvitation,
    ClaimedInvitation,
    ClaimInvitation,
    ConsentText,
    ConsentTexts,
    Invitation,
    InvitationDeclined,
    InvitationForEmployee,
    InvitationIssued,
    InvitationStatus,
    IssuedInvitation,
    IssueInvitation,
    PublishConsentText,
)
from advocacy_shared.contracts.linkedin import LinkedInAuthorization
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

DEFAULT_CONSENT_VERSION = "1"
CONNECT_WINDOW = timedelta(hours=1)  # after accepting, to connect LinkedIn with the same link
DEFAULT_CONSENT_TEXT = (
    "I want to take part in my employer's advocacy program. I allow the program to publish, "
    "on my LinkedIn profile and only after I approve each post, content I have chosen "
    "(if I tick 'posting'), and to collect the impressions and engagement of the posts I "
    "share through the program (if I tick 'analytics'). My personal data is used for the "
    "program only. I can withdraw this consent at any time; from then on nothing is posted "
    "on my behalf and nothing more is collected about me. I can ask for my data to be erased."
)


async def seed_consent_text(session: AsyncSession, organisation_id: UUID) -> ConsentTextRecord:
    """A new organisation starts with a sensible consent text, which it may replace by
    publishing a newer version. Organisations older than consent texts get it on first use."""
    invitations = InvitationRepository(session, organisation_id)
    texts = await invitations.consent_texts()
    if texts:
        return texts[0]
    record = ConsentTextRecord(
        organisation_id=organisation_id,
        version=DEFAULT_CONSENT_VERSION,
        text=DEFAULT_CONSENT_TEXT,
    )
    invitations.save(record)
    return record


async def publish_consent_text(session: AsyncSession, request: PublishConsentText) -> ConsentText:
    """A new version becomes current; earlier versions stay, so every consent names its text."""
    await current_consent_text(session, request.organisation_id)
    invitations = InvitationRepository(session, request.organisation_id)
    if await invitations.consent_text(request.version) is not None:
        raise Conflict(
            f"consent text version {request.version} exists already: texts are immutable, "
            "publish a new version",
            {"version": request.version},
        )
    record = ConsentTextRecord(
        organisation_id=request.organisation_id, version=request.version, text=request.text
    )
    invitations.save(record)
    return consent_text_view(record, current=True)


async def consent_texts(session: AsyncSession, organisation_id: UUID) -> ConsentTexts:
    await current_consent_text(session, organisation_id)
    records = await InvitationRepository(session, organisation_id).consent_texts()
    return ConsentTexts(items=[consent_text_view(r, current=i == 0) for i, r in enumerate(records)])


async def current_consent_text(session: AsyncSession, organisation_id: UUID) -> ConsentTextRecord:
    if not await tenant_repository.exists(session, organisation_id):
        raise NotReady("the ambassadors service has not provisioned this organisation yet")
    return await seed_consent_text(session, organisation_id)


async def issue_invitation(
    session: AsyncSession, outbox: Outbox, request: IssueInvitation
) -> IssuedInvitation:
    """A link for the employee to click through; it replaces any earlier pending one."""
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    invitations = InvitationRepository(session, request.organisation_id)
    ambassador = await locked(ambassadors, request.ambassador_id)
    if ambassador.state != "invited":
        raise Conflict(
            f"an ambassador who is {ambassador.state} has answered already; "
            "only an invited one gets an invitation",
            {"state": ambassador.state},
        )
    await current_consent_text(session, request.organisation_id)
    now = utc_now()
    for earlier in await invitations.pending_for(ambassador.id):
        earlier.status = "revoked"
        earlier.responded_at = now
        invitations.save(earlier)
    token = invitation_token(request.organisation_id)
    record = InvitationRecord(
        organisation_id=request.organisation_id,
        ambassador_id=ambassador.id,
        token_hash=token_hash(token),
        status="pending",
        expires_at=now + timedelta(days=request.valid_for_days),
        created_at=now,
    )
    invitations.save(record)
    touch(ambassador)
    ambassadors.save(ambassador)
    await outbox.add(
        session,
        InvitationIssued(
            invitation_id=record.id,
            ambassador_id=ambassador.id,
            external_id=ambassador.external_id,
            employee_id=ambassador.employee_id,
            expires_at=record.expires_at,
            version=ambassador.version,
        ),
        organisation_id=request.organisation_id,
        subject=str(ambassador.id),
    )
    return IssuedInvitation(**invitation_view(record).model_dump(), token=token)


async def revoke_invitation(
    session: AsyncSession, organisation_id: UUID, invitation_id: UUID
) -> Invitation:
    invitations = InvitationRepository(session, organisation_id)
    record = await invitations.get(invitation_id)
    if record is None:
        raise NotFound(f"no invitation {invitation_id} in this organisation")
    require_open(record)
    record.status = "revoked"
    record.responded_at = utc_now()
    invitations.save(record)
    return invitation_view(record)


async def open_invitation(session: AsyncSession, token: str) -> InvitationForEmployee:
    organisation_id, invitation = await invitation_by_token(session, token)
    ambassador = await existing(
        AmbassadorRepository(session, organisation_id), invitation.ambassador_id
    )
    return InvitationForEmployee(
        organisation_id=organisation_id,
        organisation_name=await tenant_repository.name(session, organisation_id) or "",
        display_name=ambassador.display_name,
        status=invitation_status(invitation),
        expires_at=invitation.expires_at,
        consent=consent_text_view(
            await current_consent_text(session, organisation_id), current=True
        ),
    )


async def answer_invitation(
    session: AsyncSession, outbox: Outbox, request: AnswerInvitation
) -> Invitation:
    """Accepting grants consent to the current text, exactly as kept; declining is recorded."""
    organisation_id, invitation = await invitation_by_token(session, request.token)
    invitations = InvitationRepository(session, organisation_id)
    require_open(invitation)
    now = utc_now()
    if request.accept:
        text = await current_consent_text(session, organisation_id)
        if request.consent_version != text.version:
            raise Conflict(
                "the consent text changed since it was shown: show the current version "
                f"({text.version}) and ask again",
                {"current_version": text.version, "answered_version": request.consent_version},
            )
        await grant_consent(
            session,
            outbox,
            GrantConsent(
                organisation_id=organisation_id,
                ambassador_id=invitation.ambassador_id,
                consent_version=text.version,
                consent_text=text.text,
                allows_posting=request.allows_posting,
                allows_analytics=request.allows_analytics,
                recorded_by=f"employee:invitation:{invitation.id}",
            ),
        )
        invitation.status = "accepted"
    else:
        invitation.status = "declined"
        ambassadors = AmbassadorRepository(session, organisation_id)
        ambassador = await locked(ambassadors, invitation.ambassador_id)
        touch(ambassador)
        ambassadors.save(ambassador)
        await outbox.add(
            session,
            InvitationDeclined(
                invitation_id=invitation.id,
                ambassador_id=invitation.ambassador_id,
                external_id=ambassador.external_id,
                employee_id=ambassador.employee_id,
                declined_at=now,
                version=ambassador.version,
            ),
            organisation_id=organisation_id,
            subject=str(invitation.ambassador_id),
        )
    invitation.responded_at = now
    invitations.save(invitation)
    return invitation_view(invitation)


async def connect_linkedin(
    session: AsyncSession, linkedin: LinkedInWiring, token: str, browser_binding: str
) -> LinkedInAuthorization:
    """The employee connects their own LinkedIn with the link they accepted: no account needed,
    and nobody else holds their LinkedIn session.

    The accepted link is not a lasting credential: it starts connection flows only for
    `CONNECT_WINDOW` after the acceptance, only one at a time (each start voids the previous
    state), each bound to the browser that started it, and none once a connection is made."""
    organisation_id, invitation = await invitation_by_token(session, token)
    status = invitation_status(invitation)
    if status == "expired":
        raise Conflict(
            "this invitation link has expired: it can no longer be accepted, ask the program "
            "for a new link",
            {"status": status},
        )
    if status != "accepted":
        raise Conflict(
            f"this invitation is {status}: accept it before connecting LinkedIn",
            {"status": status},
        )
    now = utc_now()
    if invitation.linkedin_connected_at is not None:
        raise Conflict("this invitation has connected LinkedIn already: it is used up")
    accepted_at = invitation.responded_at or now
    if invitation.expires_at <= now or accepted_at + CONNECT_WINDOW <= now:
        raise Conflict("this invitation link has expired: ask the program for a new link")
    return await authorize_linkedin(
        session,
        linkedin,
        organisation_id,
        invitation.ambassador_id,
        now,
        invitation_id=invitation.id,
        browser_hash=browser_binding,
    )


async def claim_invitation(session: AsyncSession, request: ClaimInvitation) -> ClaimedInvitation:
    """Which ambassador record a signed-in account may be linked to: the one whose accepted
    invitation it holds, in its own organisation, under its own address. Another organisation's
    link is not found (as an unknown one); a pending or declined one, or another address, is
    refused (the holder of the link learns nothing it could not read on the invitation page)."""
    organisation_id, invitation = await invitation_by_token(session, request.token)
    if organisation_id != request.organisation_id:
        raise NotFound("no such invitation: the link may be mistyped, or a newer one was sent")
    status = invitation_status(invitation)
    if status != "accepted":
        raise Conflict(
            f"this invitation is {status}: accept it before linking your account",
            {"status": status, "rule": "invitation_accepted"},
        )
    ambassador = await existing(
        AmbassadorRepository(session, organisation_id), invitation.ambassador_id
    )
    if ambassador.email.casefold() != request.email.strip().casefold():
        raise Conflict(
            "this invitation was sent to another address than the signed-in account's: sign in "
            "with the account of the address that received it",
            {"rule": "same_address"},
        )
    return ClaimedInvitation(ambassador_id=ambassador.id)


async def invitation_by_token(session: AsyncSession, token: str) -> tuple[UUID, InvitationRecord]:
    """The token's prefix names the organisation; an unknown, malformed or revoked (replaced by a
    newer link, or withdrawn) token is not found, the same way, so that the answer tells nothing
    about which tokens exist nor whose a dead link was."""
    organisation_id = organisation_of_token(token)
    invitation = (
        await InvitationRepository(session, organisation_id).by_token_hash(token_hash(token))
        if organisation_id is not None
        else None
    )
    if organisation_id is None or invitation is None or invitation.status == "revoked":
        raise NotFound("no such invitation: the link may be mistyped, or a newer one was sent")
    return organisation_id, invitation


def require_open(invitation: InvitationRecord) -> None:
    status = invitation_status(invitation)
    if status != "pending":
        raise Conflict(f"this invitation is {status}", {"status": status})


def invitation_token(organisation_id: UUID) -> str:
    return f"{organisation_id.hex}.{secrets.token_urlsafe(32)}"


def organisation_of_token(token: str) -> UUID | None:
    prefix, _, secret = token.partition(".")
    try:
        return UUID(hex=prefix) if secret else None
    except ValueError:
        return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_status(invitation: InvitationRecord) -> InvitationStatus:
    if invitation.status == "pending" and invitation.expires_at <= utc_now():
        return "expired"
    return cast(InvitationStatus, invitation.status)


def invitation_view(record: InvitationRecord) -> Invitation:
    return Invitation(
        id=record.id,
        ambassador_id=record.ambassador_id,
        status=invitation_status(record),
        expires_at=record.expires_at,
        created_at=record.created_at,
        responded_at=record.responded_at,
    )


def consent_text_view(record: ConsentTextRecord, *, current: bool) -> ConsentText:
    return ConsentText(
        version=record.version, text=record.text, published_at=record.published_at, current=current
    )
