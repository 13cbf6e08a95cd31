"""The roster (SCIM Users).

userName is unique per organisation without regard to case; `active` turning false offboards the
linked ambassador (`journey.offboard_record`), and so does deleting the employee.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.models import EmployeeRecord
from advocacy_ambassadors.repository import (
    AmbassadorRepository,
    EmployeeRepository,
    GroupRepository,
    tenant_repository,
)
from advocacy_ambassadors.service.journey import OffboardingReason, offboard_record
from advocacy_ambassadors.service.states import locked
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound, NotReady
from advocacy_shared.contracts.roster import (
    LIST_ATTRIBUTES,
    MAX_GROUP_MEMBERS,
    AttributeChange,
    Employee,
    EmployeeAttributes,
    EmployeeChanged,
    EmployeeDeleted,
    EmployeeGroupRef,
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
    if record.active is False:  # provisioned already deactivated: an invited ambassador is out
        await _offboard_linked(session, outbox, record, "deactivated_in_hr")
    return employee_view(record)


async def get_employee(session: AsyncSession, organisation_id: UUID, employee_id: UUID) -> Employee:
    record = await _existing_employee(EmployeeRepository(session, organisation_id), employee_id)
    (employee,) = await with_groups(session, organisation_id, [employee_view(record)])
    return employee


async def with_groups(
    session: AsyncSession, organisation_id: UUID, employees: list[Employee]
) -> list[Employee]:
    """The employees with the groups they are in (SCIM `groups`). An answer carries at most
    `MAX_GROUP_MEMBERS` groups in all, so that it fits in a message: a list stops at the employee
    who would pass it (at least one is given, with that many of their groups at most)."""
    found = await GroupRepository(session, organisation_id).groups_of([e.id for e in employees])
    shown: list[Employee] = []
    carried = 0
    for employee in employees:
        groups = found.get(employee.id, [])[:MAX_GROUP_MEMBERS]
        carried += len(groups)
        if shown and carried > MAX_GROUP_MEMBERS:
            break
        refs = [EmployeeGroupRef(group_id=g.id, display_name=g.display_name) for g in groups]
        shown.append(employee.model_copy(update={"groups": refs}))
    return shown


async def list_employees(session: AsyncSession, request: ListEmployees) -> EmployeeList:
    employees = EmployeeRepository(session, request.organisation_id)
    total, rows = await employees.page(
        request.filter,
        request.start_index - 1,
        request.count,
        request.sort_by,
        request.descending,
    )
    return EmployeeList(
        total_results=total,
        start_index=request.start_index,
        items=await with_groups(
            session, request.organisation_id, [employee_view(row) for row in rows]
        ),
    )


async def replace_employee(
    session: AsyncSession, outbox: Outbox, request: ReplaceEmployee
) -> Employee:
    employees = EmployeeRepository(session, request.organisation_id)
    record = await _locked_employee(employees, request.employee_id, request.expected_version)
    changed = await _change_employee(session, outbox, employees, record, request.attributes)
    (employee,) = await with_groups(session, request.organisation_id, [changed])
    return employee


async def patch_employee(session: AsyncSession, outbox: Outbox, request: PatchEmployee) -> Employee:
    employees = EmployeeRepository(session, request.organisation_id)
    record = await _locked_employee(employees, request.employee_id, request.expected_version)
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
    changed = await _change_employee(session, outbox, employees, record, attributes)
    (employee,) = await with_groups(session, request.organisation_id, [changed])
    return employee


async def delete_employee(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    employee_id: UUID,
    *,
    expected_version: int | None = None,
) -> EmployeeDeleted:
    """The HR system deleted the employee: the roster row (their personal data) goes, and the
    linked ambassador, if any, is offboarded as having left the organisation. With If-Match, only
    the version named is deleted."""
    employees = EmployeeRepository(session, organisation_id)
    record = await _locked_employee(employees, employee_id, expected_version)
    ambassadors = AmbassadorRepository(session, organisation_id)
    ambassador = await ambassadors.by_employee(employee_id)
    if ambassador is not None:
        ambassador = await locked(ambassadors, ambassador.id)
        if ambassador.state != "offboarded":
            await offboard_record(session, outbox, ambassadors, ambassador, "left_organisation")
        ambassador.employee_id = None
        ambassadors.save(ambassador)
    await GroupRepository(session, organisation_id).forget_employee(employee_id)
    await employees.delete(employee_id)
    await outbox.add(
        session,
        EmployeeLeftRoster(
            employee_id=employee_id,
            external_id=record.external_id,
            left_at=utc_now(),
            version=record.version + 1,
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
    was_active = record.active is not False
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
    if was_active and record.active is False:
        await _offboard_linked(session, outbox, record, "deactivated_in_hr")
    return employee_view(record)


async def _offboard_linked(
    session: AsyncSession, outbox: Outbox, employee: EmployeeRecord, reason: OffboardingReason
) -> None:
    ambassadors = AmbassadorRepository(session, employee.organisation_id)
    ambassador = await ambassadors.by_employee(employee.id)
    if ambassador is not None:
        ambassador = await locked(ambassadors, ambassador.id)
    if ambassador is not None and ambassador.state != "offboarded":
        await offboard_record(session, outbox, ambassadors, ambassador, reason)


async def _link_invited_ambassador(session: AsyncSession, employee: EmployeeRecord) -> None:
    """An ambassador invited before HR provisioned them is linked by their work email."""
    if employee.email is None:
        return
    ambassadors = AmbassadorRepository(session, employee.organisation_id)
    ambassador = await ambassadors.by_email(employee.email)
    if ambassador is not None and ambassador.employee_id is None:
        ambassador.employee_id = employee.id
        ambassador.external_id = ambassador.external_id or employee.external_id
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
    if change.op == "remove":  # unassigned (RFC 7644 §3.5.2.2)
        return None
    return change.value


async def _refuse_taken_user_name(employees: EmployeeRepository, user_name: str) -> None:
    if await employees.by_user_name(user_name) is not None:
        raise Conflict("userName is taken in this organisation", {"attribute": "userName"})


async def _existing_employee(employees: EmployeeRepository, employee_id: UUID) -> EmployeeRecord:
    record = await employees.get(employee_id)
    if record is None:
        raise NotFound(f"no employee {employee_id} in this organisation")
    return record


async def _locked_employee(
    employees: EmployeeRepository, employee_id: UUID, expected_version: int | None = None
) -> EmployeeRecord:
    """The employee, locked for this transaction, so that the If-Match comparison and the
    change it guards are atomic (a second PUT naming the same version waits, then fails)."""
    record = await employees.locked(employee_id)
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
        "active": record.active is not False,  # unassigned: on the roster, so active
        "department": record.department,
        "job_family": record.job_family,
        "hard_to_recruit": bool(record.hard_to_recruit),
        "leadership": bool(record.leadership),
        "languages": list(record.languages),
        "topics": list(record.topics),
        "version": record.version,
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
