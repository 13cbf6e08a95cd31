"""The ambassadors service's domain logic. No commits and no broker here: the edges own both.

The onboarding journey is an explicit state machine:
invited → consented → connected → trained → active ⇄ quiet → offboarded. Training may be
recorded before the LinkedIn connection; a revoked consent sends the ambassador back to invited.
"""

from __future__ import annotations

from typing import Any, Literal, cast
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.models import (
    AmbassadorRecord,
    ConsentRecord,
    EmployeeRecord,
    TrainingRecord,
)
from advocacy_ambassadors.repository import (
    AmbassadorRepository,
    EmployeeRepository,
    tenant_repository,
)
from advocacy_shared.contracts.ambassadors import (
    Ambassador,
    AmbassadorErased,
    AmbassadorOffboarded,
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
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound, NotReady
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

OffboardingReason = Literal["left_organisation", "deactivated_in_hr", "left_program"]


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
    employee = await EmployeeRepository(session, request.organisation_id).by_email(email)
    record = AmbassadorRecord(
        organisation_id=request.organisation_id,
        email=email,
        display_name=request.display_name,
        external_id=request.external_id,
        program_id=request.program_id,
        employee_id=employee.id if employee is not None else None,
        state="invited",
        leadership=request.profile.leadership
        or "leadership" in request.profile.segments
        or (employee is not None and employee.leadership),
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
    move(record, "offboarded")
    ambassadors.save(record)
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
