"""The ambassadors service's domain logic. No commits and no broker here: the edges own both.

The onboarding journey is an explicit state machine:
invited → consented → connected → trained → active ⇄ quiet → offboarded. Training may be
recorded before the LinkedIn connection; a revoked consent sends the ambassador back to invited.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.models import AmbassadorRecord, ConsentRecord, TrainingRecord
from advocacy_ambassadors.repository import AmbassadorRepository, tenant_repository
from advocacy_shared.contracts.ambassadors import (
    Ambassador,
    AmbassadorErased,
    AmbassadorOnboarded,
    AmbassadorProfile,
    AmbassadorTrained,
    ConsentRevoked,
    ConsentState,
    EnablementFormat,
    Erased,
    GrantConsent,
    InviteAmbassador,
    OnboardingState,
)
from advocacy_shared.contracts.errors import Conflict, NotFound, NotReady
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

TRANSITIONS: dict[str, frozenset[str]] = {
    "invited": frozenset({"consented", "offboarded"}),
    "consented": frozenset({"connected", "trained", "invited", "offboarded"}),
    "connected": frozenset({"trained", "invited", "offboarded"}),
    "trained": frozenset({"active", "invited", "offboarded"}),
    "active": frozenset({"quiet", "invited", "offboarded"}),
    "quiet": frozenset({"active", "invited", "offboarded"}),
    "offboarded": frozenset(),
}


async def provision_organisation(session: AsyncSession, fact: OrganisationCreated) -> None:
    await tenant_repository.record(session, fact)


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
    record = AmbassadorRecord(
        organisation_id=request.organisation_id,
        email=email,
        display_name=request.display_name,
        external_id=request.external_id,
        program_id=request.program_id,
        state="invited",
        leadership=request.profile.leadership or "leadership" in request.profile.segments,
        # The column is the one place the leadership track is kept (lists filter on it).
        profile=request.profile.model_dump(mode="json", exclude={"leadership"}),
    )
    ambassadors.save(record)
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
    await existing(ambassadors, ambassador_id)
    await ambassadors.erase(ambassador_id)
    await outbox.forget_published(session, str(organisation_id), str(ambassador_id))
    erased_at = utc_now()
    await outbox.add(
        session,
        AmbassadorErased(ambassador_id=ambassador_id, erased_at=erased_at),
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
