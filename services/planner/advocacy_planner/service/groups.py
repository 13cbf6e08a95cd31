"""HR groups (SCIM Groups) as recruitment targets: "everyone in Sales".

The planner keeps a copy of the roster's groups and of who is in each, fed by the ambassadors
service's group facts (`RosterGroupChanged`, `RosterGroupDeleted`, `EmployeeJoinedGroup`,
`EmployeeLeftGroup`), ordered as the other roster copies are: every fact carries the group's
version, a membership takes only facts newer than the one it holds (a leave keeps its row, so a
late older join does not bring the employee back), a deleted group stays as a tombstone, and an
employee who left the roster or was erased is never put back in a group.

The targeted-recruitment phase names groups (by id or by name, resolved to ids when set); its
target is the active employees in those groups now, so it follows the HR system as people join
and leave them.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.models import RosterEmployee, RosterGroup, RosterGroupMember
from advocacy_planner.repository import EMPLOYEE, GroupRepository, PhaseRepository, RosterRepository
from advocacy_planner.service.ordering import not_older
from advocacy_planner.service.phases import existing_phase
from advocacy_planner.service.programs import existing_program
from advocacy_shared.contracts.base import newer
from advocacy_shared.contracts.errors import Conflict, Invalid
from advocacy_shared.contracts.planner import (
    GetRecruitmentTarget,
    PhaseStatus,
    RecruitmentTarget,
    SetTargetGroups,
    TargetEmployee,
    TargetGroup,
    TargetGroups,
    TargetStatus,
)
from advocacy_shared.contracts.roster import (
    EmployeeJoinedGroup,
    EmployeeLeftGroup,
    RosterGroupChanged,
    RosterGroupDeleted,
)
from advocacy_shared.envelope import utc_now

TARGETED = "targeted_recruitment"


# --- The copies ----------------------------------------------------------------------------------


async def keep_group(
    session: AsyncSession, organisation_id: UUID, fact: RosterGroupChanged
) -> None:
    await _name_group(
        GroupRepository(session, organisation_id),
        organisation_id,
        fact.group_id,
        fact.group_name,
        fact.group_external_id,
        fact.version,
    )


async def _name_group(
    groups: GroupRepository,
    organisation_id: UUID,
    group_id: UUID,
    name: str,
    external_id: str | None,
    version: int | None,
) -> RosterGroup | None:
    """The group's copy with this name, unless it was deleted or the copy is newer. None when the
    group was deleted: no fact brings it back."""
    record = await groups.group(group_id)
    if record is not None and record.deleted:
        return None
    if record is not None and not not_older(record.version, version):
        return record
    record = record or RosterGroup(
        group_id=group_id, organisation_id=organisation_id, display_name=name, display_name_key=""
    )
    record.display_name, record.display_name_key = name, name.lower()
    record.external_id = external_id
    record.version = max(record.version or 0, version or 0) or None
    record.updated_at = utc_now()
    groups.save(record)
    return record


async def group_deleted(
    session: AsyncSession, organisation_id: UUID, fact: RosterGroupDeleted
) -> None:
    groups = GroupRepository(session, organisation_id)
    record = await groups.group(fact.group_id) or RosterGroup(
        group_id=fact.group_id,
        organisation_id=organisation_id,
        display_name="(deleted)",
        display_name_key="",
    )
    record.deleted = True
    record.display_name_key = ""  # the name may be taken by a new group
    record.version = fact.version or record.version
    record.updated_at = utc_now()
    groups.save(record)
    await groups.leave_all(fact.group_id, fact.version)


async def joined_group(
    session: AsyncSession, organisation_id: UUID, fact: EmployeeJoinedGroup
) -> None:
    if await RosterRepository(session, organisation_id).departed(EMPLOYEE, fact.employee_id):
        return
    groups = GroupRepository(session, organisation_id)
    group = await _name_group(
        groups,
        organisation_id,
        fact.group_id,
        fact.group_name,
        fact.group_external_id,
        fact.version,
    )
    if group is not None:
        await _set_membership(groups, organisation_id, fact.group_id, fact, member=True)


async def left_group(session: AsyncSession, organisation_id: UUID, fact: EmployeeLeftGroup) -> None:
    groups = GroupRepository(session, organisation_id)
    await _set_membership(groups, organisation_id, fact.group_id, fact, member=False)


async def _set_membership(
    groups: GroupRepository,
    organisation_id: UUID,
    group_id: UUID,
    fact: EmployeeJoinedGroup | EmployeeLeftGroup,
    *,
    member: bool,
) -> None:
    row = await groups.membership(group_id, fact.employee_id)
    if row is not None and not newer(row.version, fact.version):
        return
    row = row or RosterGroupMember(
        group_id=group_id,
        employee_id=fact.employee_id,
        organisation_id=organisation_id,
        member=member,
    )
    row.member = member
    row.version = fact.version or row.version
    row.updated_at = utc_now()
    groups.save(row)


# --- The targeted-recruitment phase's groups ----------------------------------------------------


async def set_target_groups(session: AsyncSession, request: SetTargetGroups) -> TargetGroups:
    """Target the phase at these groups (ids or names of this organisation's live groups)."""
    organisation_id, program_id = request.organisation_id, request.program_id
    await existing_program(session, organisation_id, program_id, for_update=True)
    phase = await existing_phase(session, organisation_id, program_id, TARGETED)
    if phase.status == "graduated":
        raise Conflict("the targeted_recruitment phase has graduated: its target is history")
    groups = GroupRepository(session, organisation_id)
    resolved: list[UUID] = []
    unknown: list[str] = []
    for reference in request.groups:
        record = await _resolve(groups, reference)
        if record is None:
            unknown.append(reference)
        elif record.group_id not in resolved:
            resolved.append(record.group_id)
    if unknown:
        raise Invalid(
            "no group "
            + ", ".join(repr(u) for u in unknown[:5])
            + " in this organisation (by SCIM id or displayName; a group created a moment ago "
            "may not have arrived yet)",
            {"unknown_groups": unknown[:20]},
        )
    phase.target_group_ids = [str(group_id) for group_id in resolved]
    PhaseRepository(session, organisation_id).save(phase)
    return TargetGroups(
        program_id=program_id,
        phase_status=_status(phase.status),
        groups=await _group_views(groups, resolved),
    )


async def _resolve(groups: GroupRepository, reference: str) -> RosterGroup | None:
    try:
        group_id = UUID(reference)
    except ValueError:
        return await groups.by_name(reference)
    record = await groups.group(group_id)
    return record if record is not None and not record.deleted else None


async def target_group_ids(
    session: AsyncSession, organisation_id: UUID, program_id: UUID
) -> list[UUID]:
    phase = await existing_phase(session, organisation_id, program_id, TARGETED)
    return [UUID(group_id) for group_id in phase.target_group_ids or []]


async def recruitment_target(
    session: AsyncSession, request: GetRecruitmentTarget
) -> RecruitmentTarget:
    """The employees targeted recruitment aims at now, in id order, with their status."""
    organisation_id, program_id = request.organisation_id, request.program_id
    await existing_program(session, organisation_id, program_id)
    phase = await existing_phase(session, organisation_id, program_id, TARGETED)
    group_ids = [UUID(group_id) for group_id in phase.target_group_ids or []]
    groups = GroupRepository(session, organisation_id)
    employees = await groups.targeted(group_ids, request.limit, request.after) if group_ids else []
    in_groups = await groups.groups_of([e.employee_id for e in employees], group_ids)
    asked = await groups.asked(employees)
    return RecruitmentTarget(
        program_id=program_id,
        phase_status=_status(phase.status),
        groups=await _group_views(groups, group_ids),
        total=await groups.count_targeted(group_ids) if group_ids else 0,
        items=[_target_view(e, in_groups[e.employee_id], asked) for e in employees],
        next_after=employees[-1].employee_id if len(employees) == request.limit else None,
    )


def _target_view(
    employee: RosterEmployee, group_ids: list[UUID], asked: dict[UUID, str]
) -> TargetEmployee:
    status = asked.get(employee.employee_id, "not_asked")
    return TargetEmployee(
        employee_id=employee.employee_id,
        external_id=employee.external_id,
        department=employee.department,
        job_family=employee.job_family,
        group_ids=group_ids,
        status=_target_status(status),
    )


def _target_status(status: str) -> TargetStatus:
    known: tuple[TargetStatus, ...] = ("invited", "declined", "enrolled", "left_program")
    return next((s for s in known if s == status), "not_asked")


def _status(status: str) -> PhaseStatus:
    known: tuple[PhaseStatus, ...] = ("planned", "active", "graduated")
    return next(s for s in known if s == status)


async def group_names(
    session: AsyncSession, organisation_id: UUID, group_ids: list[UUID]
) -> dict[UUID, str]:
    records = await GroupRepository(session, organisation_id).groups(group_ids)
    return {record.group_id: record.display_name for record in records}


async def _group_views(groups: GroupRepository, group_ids: list[UUID]) -> list[TargetGroup]:
    records = {record.group_id: record for record in await groups.groups(group_ids)}
    views = []
    for group_id in group_ids:
        record = records.get(group_id)
        views.append(
            TargetGroup(
                group_id=group_id,
                display_name=record.display_name if record else "(unknown)",
                external_id=record.external_id if record else None,
                deleted=record is None or record.deleted,
                members=await groups.count_targeted([group_id]),
            )
        )
    return views
