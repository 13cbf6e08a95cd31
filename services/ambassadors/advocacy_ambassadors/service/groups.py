"""The roster's groups (SCIM Groups): how an identity provider assigns people to the application.

A group is a named set of employees of the roster ("Sales", "Advocacy pilot"); its name is unique
per organisation without regard to case. Membership is a roster fact: each employee who joins or
leaves a group is an `EmployeeJoinedGroup` / `EmployeeLeftGroup` event (ids and the group's name,
no personal data), so that planning can use a group as a segment and target recruitment at it.
Members are employees of the same organisation; an unknown id is refused, never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.models import EmployeeGroupRecord, EmployeeRecord
from advocacy_ambassadors.repository import GroupRepository, tenant_repository
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound, NotReady
from advocacy_shared.contracts.roster import (
    MAX_GROUP_MEMBERS,
    CreateGroup,
    DeleteGroup,
    EmployeeJoinedGroup,
    EmployeeLeftGroup,
    Group,
    GroupChange,
    GroupDeleted,
    GroupFields,
    GroupList,
    GroupMember,
    ListGroups,
    PatchGroup,
    ReplaceGroup,
    RosterGroupChanged,
    RosterGroupDeleted,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox


async def create_group(session: AsyncSession, outbox: Outbox, request: CreateGroup) -> Group:
    if not await tenant_repository.exists(session, request.organisation_id):
        raise NotReady("the ambassadors service has not provisioned this organisation yet")
    groups = GroupRepository(session, request.organisation_id)
    await _refuse_taken_name(groups, request.fields.display_name)
    record = EmployeeGroupRecord(
        organisation_id=request.organisation_id,
        display_name=request.fields.display_name,
        display_name_key=request.fields.display_name.lower(),
        external_id=request.fields.external_id,
    )
    groups.save(record)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent creation of the same name won the race
        raise _name_taken() from exc
    await _announce(session, outbox, record)
    await _set_members(session, outbox, groups, record, [], request.fields.members, version=1)
    return await group_view(groups, record)


async def get_group(
    session: AsyncSession, organisation_id: UUID, group_id: UUID, with_members: bool = True
) -> Group:
    groups = GroupRepository(session, organisation_id)
    record = await groups.get(group_id)
    if record is None:
        raise NotFound(f"no group {group_id} in this organisation")
    return await group_view(groups, record, with_members)


async def list_groups(session: AsyncSession, request: ListGroups) -> GroupList:
    """A page of groups. With members, a page holds at most `MAX_GROUP_MEMBERS` members in all
    (at least one group), so that the answer stays within what a message carries."""
    groups = GroupRepository(session, request.organisation_id)
    total, rows = await groups.page(
        request.filter,
        request.start_index - 1,
        request.count,
        request.sort_by,
        request.descending,
    )
    if not request.with_members:
        items = [await group_view(groups, row, with_members=False) for row in rows]
    else:
        members = await groups.members([row.id for row in rows])
        items, carried = [], 0
        for row in rows:
            carried += len(members[row.id])
            if items and carried > MAX_GROUP_MEMBERS:
                break
            items.append(_view(row, members[row.id]))
    return GroupList(total_results=total, start_index=request.start_index, items=items)


async def replace_group(session: AsyncSession, outbox: Outbox, request: ReplaceGroup) -> Group:
    groups = GroupRepository(session, request.organisation_id)
    record = await _locked_group(groups, request.group_id, request.expected_version)
    current = await groups.member_ids(record.id)
    return await _change(session, outbox, groups, record, current, request.fields)


async def patch_group(session: AsyncSession, outbox: Outbox, request: PatchGroup) -> Group:
    groups = GroupRepository(session, request.organisation_id)
    record = await _locked_group(groups, request.group_id, request.expected_version)
    current = await groups.member_ids(record.id)
    fields: dict[str, Any] = {
        "display_name": record.display_name,
        "external_id": record.external_id,
        "members": list(current),
    }
    for change in request.changes:
        fields[change.attribute] = _changed(change, fields[change.attribute])
    try:
        wanted = GroupFields.model_validate(fields)
    except ValueError as exc:
        raise Invalid("the patch leaves the group invalid (a name is required)", {}) from exc
    return await _change(session, outbox, groups, record, current, wanted)


async def delete_group(session: AsyncSession, outbox: Outbox, request: DeleteGroup) -> GroupDeleted:
    """The group goes; each member leaves it (`EmployeeLeftGroup`)."""
    groups = GroupRepository(session, request.organisation_id)
    record = await _locked_group(groups, request.group_id, request.expected_version)
    now = utc_now()
    for employee_id in await groups.member_ids(record.id):
        await _left(session, outbox, record, employee_id, now, record.version + 1)
    await groups.delete(record.id)
    await outbox.add(
        session,
        RosterGroupDeleted(group_id=record.id, deleted_at=now, version=record.version + 1),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    return GroupDeleted(group_id=record.id)


def _changed(change: GroupChange, current: Any) -> Any:
    if change.attribute != "members":
        return None if change.op == "remove" else change.value
    given = change.value if isinstance(change.value, list) else []
    members = current if isinstance(current, list) else []
    if change.op == "add":
        return [*members, *(m for m in given if m not in members)]
    if change.op == "remove":
        return [m for m in members if m not in given] if change.value is not None else []
    return list(dict.fromkeys(given))


async def _change(
    session: AsyncSession,
    outbox: Outbox,
    groups: GroupRepository,
    record: EmployeeGroupRecord,
    current: list[UUID],
    wanted: GroupFields,
) -> Group:
    if wanted.display_name.lower() != record.display_name_key:
        await _refuse_taken_name(groups, wanted.display_name)
    renamed = (wanted.display_name, wanted.external_id) != (record.display_name, record.external_id)
    if renamed:
        record.display_name = wanted.display_name
        record.display_name_key = wanted.display_name.lower()
        record.external_id = wanted.external_id
    changed = await _set_members(
        session, outbox, groups, record, current, wanted.members, version=record.version + 1
    )
    if renamed or changed:
        record.version += 1
        record.updated_at = utc_now()
        groups.save(record)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise _name_taken() from exc
    if renamed:
        await _announce(session, outbox, record)
    return await group_view(groups, record)


async def _announce(session: AsyncSession, outbox: Outbox, record: EmployeeGroupRecord) -> None:
    """The group's name and external id at its current version (created or renamed)."""
    await outbox.add(
        session,
        RosterGroupChanged(
            group_id=record.id,
            group_name=record.display_name,
            group_external_id=record.external_id,
            changed_at=record.updated_at,
            version=record.version,
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )


async def _set_members(
    session: AsyncSession,
    outbox: Outbox,
    groups: GroupRepository,
    record: EmployeeGroupRecord,
    current: list[UUID],
    wanted: list[UUID],
    *,
    version: int,
) -> bool:
    """Make the group's members `wanted`; publish who joined and who left, with the group's
    `version` after this change (consumers apply only newer facts). True if any did."""
    wanted = list(dict.fromkeys(wanted))
    joining = [m for m in wanted if m not in current]
    leaving = [m for m in current if m not in wanted]
    unknown = set(joining) - await groups.known_employees(joining)
    if unknown:
        raise Invalid(
            "members must be Users of this organisation: no User "
            + ", ".join(sorted(str(u) for u in unknown)[:5]),
            {"unknown_members": sorted(str(u) for u in unknown)[:20]},
        )
    now = utc_now()
    for employee_id in joining:
        groups.add_member(record.id, employee_id, now)
        await outbox.add(
            session,
            EmployeeJoinedGroup(
                employee_id=employee_id,
                group_id=record.id,
                group_name=record.display_name,
                group_external_id=record.external_id,
                joined_at=now,
                version=version,
            ),
            organisation_id=record.organisation_id,
            subject=str(employee_id),
        )
    await groups.remove_members(record.id, leaving)
    for employee_id in leaving:
        await _left(session, outbox, record, employee_id, now, version)
    return bool(joining or leaving)


async def _left(
    session: AsyncSession,
    outbox: Outbox,
    record: EmployeeGroupRecord,
    employee_id: UUID,
    at: datetime,
    version: int,
) -> None:
    await outbox.add(
        session,
        EmployeeLeftGroup(employee_id=employee_id, group_id=record.id, left_at=at, version=version),
        organisation_id=record.organisation_id,
        subject=str(employee_id),
    )


async def _refuse_taken_name(groups: GroupRepository, display_name: str) -> None:
    if await groups.by_name(display_name) is not None:
        raise _name_taken()


def _name_taken() -> Conflict:
    return Conflict(
        "a group of that displayName exists in this organisation", {"attribute": "displayName"}
    )


async def _locked_group(
    groups: GroupRepository, group_id: UUID, expected_version: int | None
) -> EmployeeGroupRecord:
    record = await groups.locked(group_id)
    if record is None:
        raise NotFound(f"no group {group_id} in this organisation")
    if expected_version is not None and record.version != expected_version:
        raise Conflict(
            "the group changed since that version was read",
            {"precondition": "version", "version": record.version},
        )
    return record


async def group_view(
    groups: GroupRepository, record: EmployeeGroupRecord, with_members: bool = True
) -> Group:
    members = (await groups.members([record.id]))[record.id] if with_members else []
    return _view(record, members)


def _view(record: EmployeeGroupRecord, members: list[EmployeeRecord]) -> Group:
    return Group(
        id=record.id,
        organisation_id=record.organisation_id,
        display_name=record.display_name,
        external_id=record.external_id,
        members=[
            GroupMember(employee_id=m.id, display=m.display_name or m.user_name) for m in members
        ],
        version=record.version,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
