"""The ambassador's own steps through the journey: invited, consenting (and revoking it), trained,
active or quiet, offboarded or erased; their profile; and how an ambassador is shown.

Revoking consent and offboarding forget the LinkedIn token, so this module uses `linkedin`.
"""

from __future__ import annotations

from typing import Any, Literal, cast
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.models import AmbassadorRecord, ConsentRecord, TrainingRecord
from advocacy_ambassadors.repository import (
    AmbassadorRepository,
    EmployeeRepository,
    InvitationRepository,
    tenant_repository,
)
from advocacy_ambassadors.service.linkedin import disconnected
from advocacy_ambassadors.service.states import TRANSITIONS, existing, locked, move, touch
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
    ConsentChange,
    ConsentHistory,
    ConsentRevoked,
    ConsentState,
    EnablementFormat,
    Erased,
    GrantConsent,
    InviteAmbassador,
    OnboardingState,
    UpdateProfile,
)
from advocacy_shared.contracts.errors import Conflict, Invalid, NotReady
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

OffboardingReason = Literal["left_organisation", "deactivated_in_hr", "left_program"]


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
        external_id=request.external_id or (employee.external_id if employee else None),
        program_id=request.program_id,
        employee_id=employee.id if employee is not None else None,
        state="invited",
        leadership=leads(request.profile) or (employee is not None and bool(employee.leadership)),
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
    record = await locked(ambassadors, request.ambassador_id)
    if record.state == "offboarded":
        raise Conflict("an offboarded ambassador's profile is closed", {"state": record.state})
    record.leadership = leads(request.profile)
    record.profile = stored_profile(request.profile)
    touch(record)
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
            version=record.version,
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
    record = await locked(ambassadors, request.ambassador_id)
    move(record, request.state)
    ambassadors.save(record)
    await outbox.add(
        session,
        AmbassadorActivityChanged(
            ambassador_id=record.id,
            state=request.state,
            changed_at=record.updated_at,
            version=record.version,
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    return await view(ambassadors, record)


async def apply_momentum(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    state: Literal["active", "quiet"],
) -> bool:
    """The metrics service measured that an ambassador went quiet or came back (instead of a
    manager setting it): applied when the journey allows it (trained or quiet -> active, active ->
    quiet); an ambassador unknown here, already there, not trained yet or offboarded is left
    alone. Returns whether the state changed."""
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await ambassadors.locked(ambassador_id)
    if record is None or record.state == state or state not in TRANSITIONS[record.state]:
        return False
    await change_activity(
        session,
        outbox,
        ChangeActivity(organisation_id=organisation_id, ambassador_id=ambassador_id, state=state),
    )
    return True


async def grant_consent(session: AsyncSession, outbox: Outbox, request: GrantConsent) -> Ambassador:
    """Explicit, versioned consent: the text as shown is kept with what it allows. A version the
    organisation published names that text: another text under its number is refused."""
    published = await InvitationRepository(session, request.organisation_id).consent_text(
        request.consent_version
    )
    if published is not None and published.text != request.consent_text:
        raise Invalid(
            f"consent version {request.consent_version} is another text: record the text of "
            "that version exactly as shown, or name the version of the text that was shown",
            {"consent_version": request.consent_version},
        )
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    record = await locked(ambassadors, request.ambassador_id)
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
            recorded_by=request.recorded_by,
        )
    )
    await outbox.add(
        session,
        AmbassadorOnboarded(
            ambassador_id=record.id,
            external_id=record.external_id,
            employee_id=record.employee_id,
            program_id=record.program_id,
            leadership=record.leadership,
            onboarded_at=utc_now(),
            version=record.version,
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    return await view(ambassadors, record)


async def revoke_consent(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    recorded_by: str,
) -> Ambassador:
    """Takes effect at once: the event tells every service to stop posting and collecting."""
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await locked(ambassadors, ambassador_id)
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
            recorded_by=recorded_by,
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
            version=record.version,
        ),
        organisation_id=organisation_id,
        subject=str(record.id),
    )
    if await ambassadors.forget_linkedin(record.id):  # the token goes with the consent
        await disconnected(session, outbox, record, "consent_revoked", now)
    return await view(ambassadors, record)


async def record_training(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    enablement_format: EnablementFormat,
) -> Ambassador:
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await locked(ambassadors, ambassador_id)
    if record.state != "trained":
        move(record, "trained")
    else:
        touch(record)
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
            version=record.version,
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
    linked = (await existing(ambassadors, ambassador_id)).employee_id
    if linked is not None:  # the roster's commands lock the employee first, then the ambassador
        await EmployeeRepository(session, organisation_id).locked(linked)
    record = await locked(ambassadors, ambassador_id)
    employee_id, final_version = record.employee_id, record.version + 1
    await ambassadors.erase(ambassador_id)
    await outbox.forget(session, str(organisation_id), str(ambassador_id))
    if employee_id is not None:
        await EmployeeRepository(session, organisation_id).delete(employee_id)
        await outbox.forget(session, str(organisation_id), str(employee_id))
    erased_at = utc_now()
    await outbox.add(
        session,
        AmbassadorErased(
            ambassador_id=ambassador_id,
            employee_id=employee_id,
            erased_at=erased_at,
            version=final_version,
        ),
        organisation_id=organisation_id,
        subject=str(ambassador_id),
    )
    return Erased(ambassador_id=ambassador_id, erased_at=erased_at)


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


async def offboard(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    reason: OffboardingReason,
) -> Ambassador:
    """A program manager takes someone out of the program (they left it, or the organisation)."""
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await locked(ambassadors, ambassador_id)
    await offboard_record(session, outbox, ambassadors, record, reason)
    return await view(ambassadors, record)


async def offboard_record(
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
        await disconnected(session, outbox, record, "offboarded", utc_now())
    await outbox.add(
        session,
        AmbassadorOffboarded(
            ambassador_id=record.id,
            external_id=record.external_id,
            reason=reason,
            offboarded_at=utc_now(),
            version=record.version,
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )


async def consent_history(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID
) -> ConsentHistory:
    ambassadors = AmbassadorRepository(session, organisation_id)
    record = await existing(ambassadors, ambassador_id)
    return ConsentHistory(
        ambassador_id=record.id,
        changes=[
            ConsentChange(
                action=cast(Literal["granted", "revoked"], change.action),
                consent_version=change.consent_version,
                consent_text=change.consent_text,
                allows_posting=change.allows_posting,
                allows_analytics=change.allows_analytics,
                recorded_by=change.recorded_by,
                at=change.at,
            )
            for change in await ambassadors.consent_changes(record.id)
        ],
    )
