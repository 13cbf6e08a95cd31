"""The ambassadors service's domain logic. No commits and no broker here: the edges own both.

The onboarding journey is an explicit state machine:
invited → consented → connected → trained → active ⇄ quiet → offboarded. Training may be
recorded before the LinkedIn connection; a revoked consent sends the ambassador back to invited.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.models import (
    AmbassadorRecord,
    ConsentRecord,
    ConsentTextRecord,
    EmployeeRecord,
    InvitationRecord,
    LinkedInAuthorizationRecord,
    LinkedInConnectionRecord,
    TrainingRecord,
)
from advocacy_ambassadors.repository import (
    AmbassadorRepository,
    EmployeeRepository,
    InvitationRepository,
    organisation_ids,
    tenant_repository,
)
from advocacy_shared.contracts.ambassadors import (
    Ambassador,
    AmbassadorActivityChanged,
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
    AmbassadorProfile,
    AmbassadorProfileChanged,
    AmbassadorTrained,
    ChangeActivity,
    ConsentRevoked,
    ConsentState,
    EnablementFormat,
    Erased,
    GrantConsent,
    InviteAmbassador,
    OnboardingState,
    UpdateProfile,
)
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound, NotReady
from advocacy_shared.contracts.invitations import (
    AnswerInvitation,
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
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.roster import (
    LIST_ATTRIBUTES,
    AttributeChange,
    Employee,
    EmployeeAttributes,
    EmployeeChanged,
    EmployeeDeleted,
    EmployeeJoinedRoster,
    EmployeeLeftRoster,
    EmployeeList,
    ListEmployees,
    PatchEmployee,
    ProvisionEmployee,
    ReplaceEmployee,
)
from advocacy_shared.crypto import SecretBox
from advocacy_shared.envelope import utc_now
from advocacy_shared.linkedin import (
    LinkedInClient,
    LinkedInError,
    LinkedInRejected,
)
from advocacy_shared.outbox import Outbox

TRANSITIONS: dict[str, frozenset[str]] = {
    "invited": frozenset({"consented", "offboarded"}),
    "consented": frozenset({"connected", "trained", "invited", "offboarded"}),
    "connected": frozenset({"trained", "consented", "invited", "offboarded"}),
    "trained": frozenset({"active", "invited", "offboarded"}),
    "active": frozenset({"quiet", "invited", "offboarded"}),
    "quiet": frozenset({"active", "invited", "offboarded"}),
    "offboarded": frozenset(),
}

OffboardingReason = Literal["left_organisation", "deactivated_in_hr", "left_program"]


async def provision_organisation(session: AsyncSession, fact: OrganisationCreated) -> None:
    await tenant_repository.record(session, fact)
    await seed_consent_text(session, fact.organisation_id)


def move(ambassador: AmbassadorRecord, to: OnboardingState) -> None:
    """Change the onboarding state, or refuse an impossible transition with a clear reason."""
    if to not in TRANSITIONS[ambassador.state]:
        allowed = ", ".join(sorted(TRANSITIONS[ambassador.state])) or "none"
        raise Conflict(
            f"an ambassador who is {ambassador.state} cannot become {to} (allowed: {allowed})",
            {"state": ambassador.state, "requested": to},
        )
    ambassador.state = to
    ambassador.updated_at = utc_now()


async def invite(session: AsyncSession, request: InviteAmbassador) -> Ambassador:
    if not await tenant_repository.exists(session, request.organisation_id):
        raise NotReady("the ambassadors service has not provisioned this organisation yet")
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    email = request.email.strip().lower()
    if await ambassadors.by_email(email) is not None:
        raise Conflict(f"{email} is invited already", {"email": email})
    employee = await EmployeeRepository(session, request.organisation_id).by_email(email)
    record = AmbassadorRecord(
        organisation_id=request.organisation_id,
        email=email,
        display_name=request.display_name,
        external_id=request.external_id,
        program_id=request.program_id,
        employee_id=employee.id if employee is not None else None,
        state="invited",
        leadership=leads(request.profile) or (employee is not None and employee.leadership),
        profile=stored_profile(request.profile),
    )
    ambassadors.save(record)
    return await view(ambassadors, record)


def leads(profile: AmbassadorProfile) -> bool:
    """On the leadership track: a leader by flag or by segment."""
    return profile.leadership or "leadership" in profile.segments


def stored_profile(profile: AmbassadorProfile) -> dict[str, Any]:
    """The `leadership` column is the one place the leadership track is kept (lists filter on
    it), so the stored profile leaves it out."""
    return profile.model_dump(mode="json", exclude={"leadership"})


async def update_profile(
    session: AsyncSession, outbox: Outbox, request: UpdateProfile
) -> Ambassador:
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    record = await existing(ambassadors, request.ambassador_id)
    if record.state == "offboarded":
        raise Conflict("an offboarded ambassador's profile is closed", {"state": record.state})
    record.leadership = leads(request.profile)
    record.profile = stored_profile(request.profile)
    record.updated_at = utc_now()
    ambassadors.save(record)
    await outbox.add(
        session,
        AmbassadorProfileChanged(
            ambassador_id=record.id,
            leadership=record.leadership,
            segments=request.profile.segments,
            topics=request.profile.topics,
            languages=request.profile.languages,
            posts_per_week=request.profile.posts_per_week,
            changed_at=record.updated_at,
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    return await view(ambassadors, record)


async def change_activity(
    session: AsyncSession, outbox: Outbox, request: ChangeActivity
) -> Ambassador:
    """trained → active when they start sharing; active ⇄ quiet as momentum comes and goes."""
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    record = await existing(ambassadors, request.ambassador_id)
    move(record, request.state)
    ambassadors.save(record)
    await outbox.add(
        session,
        AmbassadorActivityChanged(
            ambassador_id=record.id, state=request.state, changed_at=record.updated_at
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    return await view(ambassadors, record)


async def grant_consent(session: AsyncSession, outbox: Outbox, request: GrantConsent) -> Ambassador:
    """Explicit, versioned consent: the text as shown is kept with what it allows."""
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    record = await existing(ambassadors, request.ambassador_id)
    move(record, "consented")
    ambassadors.save(record)
    ambassadors.save(
        ConsentRecord(
            organisation_id=record.organisation_id,
            ambassador_id=record.id,
            action="granted",
            consent_version=request.consent_version,
            consent_text=request.consent_text,
            allows_posting=request.allows_posting,
            allows_analytics=request.allows_analytics,
        )
    )
    await outbox.add(
        session,
        AmbassadorOnboarded(
            ambassador_id=record.id,
            external_id=record.external_id,
            program_id=record.program_id,
            leadership=record.leadership,
            onboarded_at=utc_now(),
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    return await view(ambassadors, record)


async def revoke_consent(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, ambassador_id: UUID
) -> Ambassador:
    """Takes effect at once: the event tells every service to stop posting and collecting."""
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    latest = await ambassadors.latest_consent(record.id)
    if latest is None or latest.action != "granted":
        raise Conflict("there is no consent to revoke")
    move(record, "invited")
    ambassadors.save(record)
    now = utc_now()
    ambassadors.save(
        ConsentRecord(
            organisation_id=organisation_id,
            ambassador_id=record.id,
            action="revoked",
            consent_version=latest.consent_version,
            consent_text=latest.consent_text,
            allows_posting=False,
            allows_analytics=False,
            at=now,
        )
    )
    await outbox.add(
        session,
        ConsentRevoked(
            ambassador_id=record.id,
            external_id=record.external_id,
            consent_version=latest.consent_version,
            revoked_at=now,
        ),
        organisation_id=organisation_id,
        subject=str(record.id),
    )
    if await ambassadors.forget_linkedin(record.id):  # the token goes with the consent
        await _disconnected(session, outbox, record, "consent_revoked", now)
    return await view(ambassadors, record)


async def record_training(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    enablement_format: EnablementFormat,
) -> Ambassador:
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    if record.state != "trained":
        move(record, "trained")
    ambassadors.save(record)
    now = utc_now()
    ambassadors.save(
        TrainingRecord(
            organisation_id=organisation_id,
            ambassador_id=record.id,
            enablement_format=enablement_format,
            at=now,
        )
    )
    await outbox.add(
        session,
        AmbassadorTrained(
            ambassador_id=record.id,
            external_id=record.external_id,
            enablement_format=enablement_format,
            trained_at=now,
        ),
        organisation_id=organisation_id,
        subject=str(record.id),
    )
    return await view(ambassadors, record)


async def erase(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, ambassador_id: UUID
) -> Erased:
    """Erase everything this service holds about the person, and tell every other service to do
    the same with AmbassadorErased (ids only), in the same transaction."""
    ambassadors = AmbassadorRepository(session, organisation_id)
    employee_id = (await existing(ambassadors, ambassador_id)).employee_id
    await ambassadors.erase(ambassador_id)
    await outbox.forget_published(session, str(organisation_id), str(ambassador_id))
    if employee_id is not None:
        await EmployeeRepository(session, organisation_id).delete(employee_id)
        await outbox.forget_published(session, str(organisation_id), str(employee_id))
    erased_at = utc_now()
    await outbox.add(
        session,
        AmbassadorErased(ambassador_id=ambassador_id, employee_id=employee_id, erased_at=erased_at),
        organisation_id=organisation_id,
        subject=str(ambassador_id),
    )
    return Erased(ambassador_id=ambassador_id, erased_at=erased_at)


async def existing(ambassadors: AmbassadorRepository, ambassador_id: UUID) -> AmbassadorRecord:
    record = await ambassadors.get(ambassador_id)
    if record is None:
        raise NotFound(f"no ambassador {ambassador_id} in this organisation")
    return record


async def view(ambassadors: AmbassadorRepository, record: AmbassadorRecord) -> Ambassador:
    latest = await ambassadors.latest_consent(record.id)
    consent = (
        ConsentState(
            consent_version=latest.consent_version,
            allows_posting=latest.allows_posting,
            allows_analytics=latest.allows_analytics,
            granted_at=latest.at,
        )
        if latest is not None and latest.action == "granted"
        else None
    )
    return Ambassador(
        id=record.id,
        organisation_id=record.organisation_id,
        email=record.email,
        display_name=record.display_name,
        external_id=record.external_id,
        program_id=record.program_id,
        state=cast(OnboardingState, record.state),
        profile=AmbassadorProfile.model_validate(
            {**record.profile, "leadership": record.leadership}
        ),
        consent=consent,
        trainings=[
            cast(EnablementFormat, t.enablement_format)
            for t in await ambassadors.trainings(record.id)
        ],
        created_at=record.created_at,
    )


DEFAULT_CONSENT_VERSION = "1"
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
    ambassador = await existing(ambassadors, request.ambassador_id)
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
    await outbox.add(
        session,
        InvitationIssued(
            invitation_id=record.id, ambassador_id=ambassador.id, expires_at=record.expires_at
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
            ),
        )
        invitation.status = "accepted"
    else:
        invitation.status = "declined"
        await outbox.add(
            session,
            InvitationDeclined(
                invitation_id=invitation.id,
                ambassador_id=invitation.ambassador_id,
                declined_at=now,
            ),
            organisation_id=organisation_id,
            subject=str(invitation.ambassador_id),
        )
    invitation.responded_at = now
    invitations.save(invitation)
    return invitation_view(invitation)


async def invitation_by_token(session: AsyncSession, token: str) -> tuple[UUID, InvitationRecord]:
    """The token's prefix names the organisation; an unknown or malformed token is not found,
    the same way, so that the answer tells nothing about which tokens exist."""
    organisation_id = organisation_of_token(token)
    invitation = (
        await InvitationRepository(session, organisation_id).by_token_hash(token_hash(token))
        if organisation_id is not None
        else None
    )
    if organisation_id is None or invitation is None:
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


# --- The LinkedIn connection -----------------------------------------------------------------
#
# authorize: a random state (the organisation's id, then 256 random bits), stored hashed, single
# use, short-lived. complete (LinkedIn's redirect, through the gateway's public callback): the
# state is checked, the code exchanged for a token, the member read from userinfo, the token sealed
# and stored, the ambassador moved to connected (a trained, active or quiet one keeps its state).
# The sweep asks for reconnection ahead of expiry (once) and marks the connection expired (once).


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
) -> LinkedInAuthorization:
    """Start connecting: a single-use authorization link for this ambassador."""
    now = now or utc_now()
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    await _require_consent(ambassadors, record)
    if not linkedin.client.configured:
        raise NotReady("no LinkedIn app is configured")
    await ambassadors.drop_stale_linkedin_authorizations(now)
    state = organisation_id.hex + secrets.token_urlsafe(32)
    expires_at = now + linkedin.state_lifetime
    ambassadors.save(
        LinkedInAuthorizationRecord(
            state_hash=_state_hash(state),
            organisation_id=organisation_id,
            ambassador_id=record.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return LinkedInAuthorization(
        authorization_url=linkedin.client.authorization_url(state), expires_at=expires_at
    )


async def complete_linkedin(
    session: AsyncSession,
    outbox: Outbox,
    linkedin: LinkedInWiring,
    request: CompleteLinkedIn,
    now: datetime | None = None,
) -> LinkedInConnection:
    """LinkedIn sent the member back: check the state, exchange the code, keep the token sealed."""
    now = now or utc_now()
    organisation_id = _organisation_of(request.state)
    ambassadors = AmbassadorRepository(session, organisation_id)
    state_hash = _state_hash(request.state)
    started = await ambassadors.linkedin_authorization(state_hash)
    if started is None or started.expires_at <= now:
        raise Invalid(_REFUSED_STATE)
    if request.error is not None:
        reason = request.error if re.fullmatch(r"[a-z_]{1,60}", request.error) else "error"
        raise Invalid(f"LinkedIn did not authorize the connection ({reason})", {"error": reason})
    if not request.code:
        raise Invalid("LinkedIn sent no authorization code")
    record = await existing(ambassadors, started.ambassador_id)
    await _require_consent(ambassadors, record)
    try:
        grant = await linkedin.client.exchange_code(request.code)
        member = await linkedin.client.userinfo(grant.access_token)
    except LinkedInRejected as exc:
        raise Invalid(str(exc), {"status": exc.status, "code": exc.code}) from None
    except LinkedInError as exc:
        raise NotReady(str(exc)) from None
    if not await ambassadors.claim_linkedin_authorization(state_hash):
        raise Invalid(_REFUSED_STATE)  # another callback used it meanwhile
    connection = await ambassadors.linkedin_connection(record.id)
    if connection is None:
        connection = LinkedInConnectionRecord(
            organisation_id=organisation_id,
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
        organisation_id=organisation_id,
        subject=str(record.id),
    )
    return connection_view(organisation_id, record.id, connection, now)


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
    record = await existing(ambassadors, ambassador_id)
    if not await ambassadors.forget_linkedin(record.id):
        raise Conflict("the ambassador has no LinkedIn connection")
    if record.state == "connected":
        move(record, "consented")
        ambassadors.save(record)
    await _disconnected(session, outbox, record, "disconnected", utc_now())
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


async def _disconnected(
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


async def offboard(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    reason: OffboardingReason,
) -> Ambassador:
    """A program manager takes someone out of the program (they left it, or the organisation)."""
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    await _offboard(session, outbox, ambassadors, record, reason)
    return await view(ambassadors, record)


async def _offboard(
    session: AsyncSession,
    outbox: Outbox,
    ambassadors: AmbassadorRepository,
    record: AmbassadorRecord,
    reason: OffboardingReason,
) -> None:
    """Out of the program: nothing more is posted or collected, so the LinkedIn token goes."""
    move(record, "offboarded")
    ambassadors.save(record)
    if await ambassadors.forget_linkedin(record.id):
        await _disconnected(session, outbox, record, "offboarded", utc_now())
    await outbox.add(
        session,
        AmbassadorOffboarded(
            ambassador_id=record.id,
            external_id=record.external_id,
            reason=reason,
            offboarded_at=utc_now(),
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )


# The roster (SCIM Users). userName is unique per organisation without regard to case; `active`
# turning false offboards the linked ambassador, and so does deleting the employee.


async def provision_employee(
    session: AsyncSession, outbox: Outbox, request: ProvisionEmployee
) -> Employee:
    if not await tenant_repository.exists(session, request.organisation_id):
        raise NotReady("the ambassadors service has not provisioned this organisation yet")
    employees = EmployeeRepository(session, request.organisation_id)
    await _refuse_taken_user_name(employees, request.attributes.user_name)
    record = EmployeeRecord(organisation_id=request.organisation_id, user_name="", user_name_key="")
    _apply(record, request.attributes)
    employees.save(record)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent provisioning of the same userName won the race
        raise Conflict("userName is taken in this organisation", {"attribute": "userName"}) from exc
    await _link_invited_ambassador(session, record)
    await outbox.add(
        session,
        EmployeeJoinedRoster(**_roster_facts(record), joined_at=record.created_at),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    if not record.active:  # provisioned already deactivated: an invited ambassador is out
        await _offboard_linked(session, outbox, record, "deactivated_in_hr")
    return employee_view(record)


async def get_employee(session: AsyncSession, organisation_id: UUID, employee_id: UUID) -> Employee:
    return employee_view(
        await _existing_employee(EmployeeRepository(session, organisation_id), employee_id)
    )


async def list_employees(session: AsyncSession, request: ListEmployees) -> EmployeeList:
    employees = EmployeeRepository(session, request.organisation_id)
    total, rows = await employees.page(request.filter, request.start_index - 1, request.count)
    return EmployeeList(
        total_results=total,
        start_index=request.start_index,
        items=[employee_view(row) for row in rows],
    )


async def replace_employee(
    session: AsyncSession, outbox: Outbox, request: ReplaceEmployee
) -> Employee:
    employees = EmployeeRepository(session, request.organisation_id)
    record = await _existing_employee(employees, request.employee_id, request.expected_version)
    return await _change_employee(session, outbox, employees, record, request.attributes)


async def patch_employee(session: AsyncSession, outbox: Outbox, request: PatchEmployee) -> Employee:
    employees = EmployeeRepository(session, request.organisation_id)
    record = await _existing_employee(employees, request.employee_id, request.expected_version)
    current = employee_view(record).attributes.model_dump()
    for change in request.changes:
        current[change.attribute] = _changed_value(change, current[change.attribute])
    try:
        attributes = EmployeeAttributes.model_validate(current)
    except ValidationError as exc:
        fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        raise Invalid(
            f"the patch leaves invalid values in {', '.join(fields)}", {"attributes": fields}
        ) from exc
    return await _change_employee(session, outbox, employees, record, attributes)


async def delete_employee(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, employee_id: UUID
) -> EmployeeDeleted:
    """The HR system deleted the employee: the roster row (their personal data) goes, and the
    linked ambassador, if any, is offboarded as having left the organisation."""
    employees = EmployeeRepository(session, organisation_id)
    record = await _existing_employee(employees, employee_id)
    ambassadors = AmbassadorRepository(session, organisation_id)
    ambassador = await ambassadors.by_employee(employee_id)
    if ambassador is not None:
        if ambassador.state != "offboarded":
            await _offboard(session, outbox, ambassadors, ambassador, "left_organisation")
        ambassador.employee_id = None
        ambassadors.save(ambassador)
    await employees.delete(employee_id)
    await outbox.add(
        session,
        EmployeeLeftRoster(
            employee_id=employee_id, external_id=record.external_id, left_at=utc_now()
        ),
        organisation_id=organisation_id,
        subject=str(employee_id),
    )
    return EmployeeDeleted(
        employee_id=employee_id,
        offboarded_ambassador_id=ambassador.id if ambassador is not None else None,
    )


async def _change_employee(
    session: AsyncSession,
    outbox: Outbox,
    employees: EmployeeRepository,
    record: EmployeeRecord,
    attributes: EmployeeAttributes,
) -> Employee:
    """Replace the record's attributes; publish EmployeeChanged when something changed, and
    offboard the linked ambassador when `active` turned false."""
    before = employee_view(record).attributes
    if attributes.user_name.lower() != record.user_name_key:
        await _refuse_taken_user_name(employees, attributes.user_name)
    was_active = record.active
    _apply(record, attributes)
    if employee_view(record).attributes == before:
        return employee_view(record)
    record.version += 1
    record.updated_at = utc_now()
    employees.save(record)
    await outbox.add(
        session,
        EmployeeChanged(**_roster_facts(record), changed_at=record.updated_at),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    if was_active and not record.active:
        await _offboard_linked(session, outbox, record, "deactivated_in_hr")
    return employee_view(record)


async def _offboard_linked(
    session: AsyncSession, outbox: Outbox, employee: EmployeeRecord, reason: OffboardingReason
) -> None:
    ambassadors = AmbassadorRepository(session, employee.organisation_id)
    ambassador = await ambassadors.by_employee(employee.id)
    if ambassador is not None and ambassador.state != "offboarded":
        await _offboard(session, outbox, ambassadors, ambassador, reason)


async def _link_invited_ambassador(session: AsyncSession, employee: EmployeeRecord) -> None:
    """An ambassador invited before HR provisioned them is linked by their work email."""
    if employee.email is None:
        return
    ambassadors = AmbassadorRepository(session, employee.organisation_id)
    ambassador = await ambassadors.by_email(employee.email)
    if ambassador is not None and ambassador.employee_id is None:
        ambassador.employee_id = employee.id
        ambassadors.save(ambassador)


def _changed_value(change: AttributeChange, current: Any) -> Any:
    if change.attribute in LIST_ATTRIBUTES:
        items = change.value if isinstance(change.value, list) else [change.value]
        given = [str(item) for item in items if item is not None]
        if change.op == "add":
            return [*current, *(item for item in given if item not in current)]
        if change.op == "remove":
            return [item for item in current if item not in given] if given else []
        return given
    if change.op == "remove":
        return EmployeeAttributes.model_fields[change.attribute].get_default(
            call_default_factory=True
        )
    return change.value


async def _refuse_taken_user_name(employees: EmployeeRepository, user_name: str) -> None:
    if await employees.by_user_name(user_name) is not None:
        raise Conflict("userName is taken in this organisation", {"attribute": "userName"})


async def _existing_employee(
    employees: EmployeeRepository, employee_id: UUID, expected_version: int | None = None
) -> EmployeeRecord:
    record = await employees.get(employee_id)
    if record is None:
        raise NotFound(f"no employee {employee_id} in this organisation")
    if expected_version is not None and record.version != expected_version:
        raise Conflict(
            "the employee changed since that version was read",
            {"precondition": "version", "version": record.version},
        )
    return record


def _apply(record: EmployeeRecord, attributes: EmployeeAttributes) -> None:
    for name, value in attributes.model_dump().items():
        setattr(record, name, value)
    record.user_name_key = attributes.user_name.lower()
    record.email = attributes.email.strip().lower() if attributes.email else None


def _roster_facts(record: EmployeeRecord) -> dict[str, Any]:
    """What roster events may say: ids and planning facts, never personal data."""
    return {
        "employee_id": record.id,
        "external_id": record.external_id,
        "active": record.active,
        "department": record.department,
        "job_family": record.job_family,
        "hard_to_recruit": record.hard_to_recruit,
        "leadership": record.leadership,
        "languages": list(record.languages),
        "topics": list(record.topics),
    }


def employee_view(record: EmployeeRecord) -> Employee:
    return Employee(
        id=record.id,
        organisation_id=record.organisation_id,
        attributes=EmployeeAttributes.model_validate(
            {name: getattr(record, name) for name in EmployeeAttributes.model_fields}
        ),
        version=record.version,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
