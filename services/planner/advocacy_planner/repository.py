"""Every query of the planner. Each one filters by organisation."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, any_, bindparam, delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_planner.models import (
    ActualsRecord,
    Departure,
    EnrolledAmbassador,
    PhaseRecord,
    PlaybookEntry,
    ProgramRecord,
    ReadinessRecord,
    RosterEmployee,
    RosterGroup,
    RosterGroupMember,
    TransitionRecord,
    tenants,
)
from advocacy_shared.db import CoalescedRead, LeanRead
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)

EVERY_STATUS = frozenset({"invited", "declined", "enrolled", "left_program"})
"""An ambassador record in any of these means: already asked, never propose again."""
IN_OR_PAST_PROGRAM = frozenset({"enrolled", "left_program"})
EMPLOYEE, AMBASSADOR = "employee", "ambassador"
"""The kinds of tombstone (`Departure.kind`)."""


LATEST_VERSION: CoalescedRead[UUID, int] = CoalescedRead(
    select(PlaybookEntry.organisation_id, func.max(PlaybookEntry.version))
    .where(PlaybookEntry.organisation_id == any_(bindparam("organisation_ids")))
    .group_by(col(PlaybookEntry.organisation_id)),
    LeanRead(
        select(func.max(PlaybookEntry.version)).where(
            PlaybookEntry.organisation_id == bindparam("organisation_id")
        )
    ),
    key="organisation_id",
)
"""Asked on every read of the playbook: under many reads at once, they share statements."""


class PlaybookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest_version(self, organisation_id: UUID) -> int | None:
        """Asked on every read of the playbook (whose versions the service keeps): lean."""
        return await LATEST_VERSION.get(self.session, organisation_id)

    async def entries(self, organisation_id: UUID, version: int) -> list[PlaybookEntry]:
        query = (
            select(PlaybookEntry)
            .where(PlaybookEntry.organisation_id == organisation_id)
            .where(PlaybookEntry.version == version)
            .order_by(col(PlaybookEntry.position))
        )
        return list((await self.session.execute(query)).scalars())

    def add_all(self, entries: list[PlaybookEntry]) -> None:
        self.session.add_all(entries)


class _Scoped:
    """A repository bound to one organisation: every query it makes filters by it."""

    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    def save(self, row: Any) -> None:
        assert row.organisation_id == self.organisation_id
        self.session.add(row)


PROGRAMS = ProgramRecord.__table__  # type: ignore[attr-defined]
PHASES = PhaseRecord.__table__  # type: ignore[attr-defined]


class ProgramRepository(_Scoped):
    async def create(self, program: dict[str, Any], phases: list[dict[str, Any]]) -> None:
        """A new program and its phases, as two Core inserts (the phases in one round trip, the
        driver's executemany of one prepared statement): the same round trips as the ORM's flush
        for a fraction of its CPU (no instances, no unit of work; docs/performance.md). Not one
        statement of several VALUES rows: SQLAlchemy compiles those again on every call."""
        rows = [program, *phases]
        assert all(row["organisation_id"] == self.organisation_id for row in rows)
        await self.session.execute(PROGRAMS.insert(), program)
        await self.session.execute(PHASES.insert(), phases)

    async def get(self, program_id: UUID, *, for_update: bool = False) -> ProgramRecord | None:
        query = select(ProgramRecord).where(
            ProgramRecord.organisation_id == self.organisation_id,
            ProgramRecord.id == program_id,
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def page(self, limit: int, after: UUID | None) -> list[ProgramRecord]:
        query = (
            select(ProgramRecord)
            .where(ProgramRecord.organisation_id == self.organisation_id)
            .order_by(col(ProgramRecord.id))
        )
        if after is not None:
            query = query.where(col(ProgramRecord.id) > after)
        return list((await self.session.execute(query.limit(limit + 1))).scalars())

    async def all(self) -> list[ProgramRecord]:
        query = select(ProgramRecord).where(ProgramRecord.organisation_id == self.organisation_id)
        return list((await self.session.execute(query)).scalars())


class ReadinessRepository(_Scoped):
    async def latest(self, program_id: UUID) -> ReadinessRecord | None:
        rows = await self.page(program_id, 1, None)
        return rows[0] if rows else None

    async def page(self, program_id: UUID, limit: int, before: int | None) -> list[ReadinessRecord]:
        """Newest first."""
        query = (
            select(ReadinessRecord)
            .where(
                ReadinessRecord.organisation_id == self.organisation_id,
                ReadinessRecord.program_id == program_id,
            )
            .order_by(col(ReadinessRecord.number).desc())
        )
        if before is not None:
            query = query.where(col(ReadinessRecord.number) < before)
        return list((await self.session.execute(query.limit(limit))).scalars())


class PhaseRepository(_Scoped):
    async def of_program(self, program_id: UUID) -> list[PhaseRecord]:
        query = select(PhaseRecord).where(
            PhaseRecord.organisation_id == self.organisation_id,
            PhaseRecord.program_id == program_id,
        )
        return list((await self.session.execute(query)).scalars())

    async def transitions(
        self, program_id: UUID, limit: int, after: int | None
    ) -> list[TransitionRecord]:
        """Oldest first."""
        query = (
            select(TransitionRecord)
            .where(
                TransitionRecord.organisation_id == self.organisation_id,
                TransitionRecord.program_id == program_id,
            )
            .order_by(col(TransitionRecord.number))
        )
        if after is not None:
            query = query.where(col(TransitionRecord.number) > after)
        return list((await self.session.execute(query.limit(limit))).scalars())

    async def transition_count(self, program_id: UUID) -> int:
        query = select(func.count()).where(
            col(TransitionRecord.organisation_id) == self.organisation_id,
            col(TransitionRecord.program_id) == program_id,
        )
        return int((await self.session.execute(query)).scalar_one())

    async def latest_actuals(self, program_id: UUID, phase: str) -> ActualsRecord | None:
        query = (
            select(ActualsRecord)
            .where(
                ActualsRecord.organisation_id == self.organisation_id,
                ActualsRecord.program_id == program_id,
                ActualsRecord.phase == phase,
            )
            .order_by(col(ActualsRecord.period_end).desc(), col(ActualsRecord.measured_at).desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()


class RosterRepository(_Scoped):
    async def employee(self, employee_id: UUID) -> RosterEmployee | None:
        query = select(RosterEmployee).where(
            RosterEmployee.organisation_id == self.organisation_id,
            RosterEmployee.employee_id == employee_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def forget_employee(self, employee_id: UUID) -> None:
        await self.session.execute(
            delete(RosterEmployee).where(
                col(RosterEmployee.organisation_id) == self.organisation_id,
                col(RosterEmployee.employee_id) == employee_id,
            )
        )

    def _without_ambassador_record(self, statuses: frozenset[str]) -> ColumnElement[bool]:
        """Roster employees with no ambassador record in one of `statuses`, matched by their
        roster id or, for ambassadors invited before the roster knew them, the HR system's id."""
        records = (
            col(EnrolledAmbassador.organisation_id) == self.organisation_id,
            col(EnrolledAmbassador.status).in_(statuses),
        )
        by_hr_id = select(EnrolledAmbassador.external_id).where(
            *records, col(EnrolledAmbassador.external_id).is_not(None)
        )
        by_employee = select(EnrolledAmbassador.employee_id).where(
            *records, col(EnrolledAmbassador.employee_id).is_not(None)
        )
        return and_(
            col(RosterEmployee.external_id).is_(None)
            | col(RosterEmployee.external_id).not_in(by_hr_id),
            col(RosterEmployee.employee_id).not_in(by_employee),
        )

    async def candidates(
        self, limit: int, after: UUID | None, among: ColumnElement[bool] | None = None
    ) -> list[RosterEmployee]:
        """Active employees never invited into the program, in id order (only those `among`
        selects, when given: the members of targeted groups)."""
        query = (
            select(RosterEmployee)
            .where(
                RosterEmployee.organisation_id == self.organisation_id,
                RosterEmployee.active == True,  # noqa: E712 (SQL expression)
                self._without_ambassador_record(EVERY_STATUS),
            )
            .order_by(col(RosterEmployee.employee_id))
        )
        if among is not None:
            query = query.where(among)
        if after is not None:
            query = query.where(col(RosterEmployee.employee_id) > after)
        return list((await self.session.execute(query.limit(limit))).scalars())

    async def count_leaders_not_enrolled(self) -> int:
        query = select(func.count()).where(
            col(RosterEmployee.organisation_id) == self.organisation_id,
            col(RosterEmployee.active) == True,  # noqa: E712
            col(RosterEmployee.leadership) == True,  # noqa: E712
            self._without_ambassador_record(IN_OR_PAST_PROGRAM),
        )
        return int((await self.session.execute(query)).scalar_one())

    async def ambassador(self, ambassador_id: UUID) -> EnrolledAmbassador | None:
        query = select(EnrolledAmbassador).where(
            EnrolledAmbassador.organisation_id == self.organisation_id,
            EnrolledAmbassador.ambassador_id == ambassador_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def forget_ambassador(self, ambassador_id: UUID) -> None:
        await self.session.execute(
            delete(EnrolledAmbassador).where(
                col(EnrolledAmbassador.organisation_id) == self.organisation_id,
                col(EnrolledAmbassador.ambassador_id) == ambassador_id,
            )
        )

    async def departed(self, kind: str, entity_id: UUID) -> bool:
        key = (self.organisation_id, kind, _hashed(entity_id))
        return (await self.session.get(Departure, key)) is not None

    async def mark_departed(self, kind: str, entity_id: UUID, reason: str) -> None:
        if not await self.departed(kind, entity_id):
            self.session.add(
                Departure(
                    organisation_id=self.organisation_id,
                    kind=kind,
                    entity_hash=_hashed(entity_id),
                    reason=reason,
                )
            )

    async def count_leaders_enrolled(self, program_id: UUID) -> int:
        query = select(func.count()).where(
            col(EnrolledAmbassador.organisation_id) == self.organisation_id,
            col(EnrolledAmbassador.leadership) == True,  # noqa: E712
            col(EnrolledAmbassador.status) == "enrolled",
            col(EnrolledAmbassador.program_id) == program_id,
        )
        return int((await self.session.execute(query)).scalar_one())


class GroupRepository(_Scoped):
    """The copies of the roster's groups and of who is in them."""

    async def group(self, group_id: UUID) -> RosterGroup | None:
        query = select(RosterGroup).where(
            RosterGroup.organisation_id == self.organisation_id, RosterGroup.group_id == group_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def groups(self, group_ids: list[UUID]) -> list[RosterGroup]:
        query = select(RosterGroup).where(
            RosterGroup.organisation_id == self.organisation_id,
            col(RosterGroup.group_id).in_(group_ids),
        )
        return list((await self.session.execute(query)).scalars())

    async def by_name(self, display_name: str) -> RosterGroup | None:
        """The live group of that name (names are unique per organisation in HR)."""
        query = select(RosterGroup).where(
            RosterGroup.organisation_id == self.organisation_id,
            RosterGroup.display_name_key == display_name.lower(),
            RosterGroup.deleted == False,  # noqa: E712 (SQL expression)
        )
        return (await self.session.execute(query.limit(1))).scalar_one_or_none()

    async def membership(self, group_id: UUID, employee_id: UUID) -> RosterGroupMember | None:
        query = select(RosterGroupMember).where(
            RosterGroupMember.organisation_id == self.organisation_id,
            RosterGroupMember.group_id == group_id,
            RosterGroupMember.employee_id == employee_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def forget_member(self, employee_id: UUID) -> None:
        """The employee left the roster or was erased: no copy says which groups they were in."""
        await self.session.execute(
            delete(RosterGroupMember).where(
                col(RosterGroupMember.organisation_id) == self.organisation_id,
                col(RosterGroupMember.employee_id) == employee_id,
            )
        )

    async def leave_all(self, group_id: UUID, version: int | None) -> None:
        """The group was deleted: nobody is in it any more (rows kept with the version)."""
        query = select(RosterGroupMember).where(
            RosterGroupMember.organisation_id == self.organisation_id,
            RosterGroupMember.group_id == group_id,
        )
        for row in (await self.session.execute(query)).scalars():
            row.member = False
            row.version = version if version is not None else row.version
            self.session.add(row)

    def in_groups(self, group_ids: list[UUID]) -> ColumnElement[bool]:
        """Active roster employees in one of the live groups `group_ids`."""
        members = (
            select(RosterGroupMember.employee_id)
            .join(
                RosterGroup,
                and_(
                    col(RosterGroup.group_id) == col(RosterGroupMember.group_id),
                    col(RosterGroup.organisation_id) == self.organisation_id,
                    col(RosterGroup.deleted) == False,  # noqa: E712
                ),
            )
            .where(
                col(RosterGroupMember.organisation_id) == self.organisation_id,
                col(RosterGroupMember.group_id).in_(group_ids),
                col(RosterGroupMember.member) == True,  # noqa: E712
            )
        )
        return and_(
            col(RosterEmployee.organisation_id) == self.organisation_id,
            col(RosterEmployee.active) == True,  # noqa: E712
            col(RosterEmployee.employee_id).in_(members),
        )

    async def targeted(
        self, group_ids: list[UUID], limit: int, after: UUID | None
    ) -> list[RosterEmployee]:
        """The targeted employees, in id order."""
        query = select(RosterEmployee).where(self.in_groups(group_ids))
        if after is not None:
            query = query.where(col(RosterEmployee.employee_id) > after)
        query = query.order_by(col(RosterEmployee.employee_id)).limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def count_targeted(self, group_ids: list[UUID]) -> int:
        query = select(func.count()).where(self.in_groups(group_ids))
        return int((await self.session.execute(query)).scalar_one())

    async def groups_of(
        self, employee_ids: list[UUID], group_ids: list[UUID]
    ) -> dict[UUID, list[UUID]]:
        """Which of `group_ids` each employee is in now."""
        query = (
            select(RosterGroupMember.employee_id, RosterGroupMember.group_id)
            .where(
                col(RosterGroupMember.organisation_id) == self.organisation_id,
                col(RosterGroupMember.employee_id).in_(employee_ids),
                col(RosterGroupMember.group_id).in_(group_ids),
                col(RosterGroupMember.member) == True,  # noqa: E712
            )
            .order_by(col(RosterGroupMember.group_id))
        )
        found: dict[UUID, list[UUID]] = {employee_id: [] for employee_id in employee_ids}
        for employee_id, group_id in (await self.session.execute(query)).all():
            found[employee_id].append(group_id)
        return found

    async def asked(self, employees: list[RosterEmployee]) -> dict[UUID, str]:
        """The ambassador status of each employee the program has asked, by roster id or the HR
        system's id (as `RosterRepository.candidates` matches them)."""
        ids = [e.employee_id for e in employees]
        external = {e.external_id: e.employee_id for e in employees if e.external_id}
        query = select(EnrolledAmbassador).where(
            col(EnrolledAmbassador.organisation_id) == self.organisation_id,
            col(EnrolledAmbassador.employee_id).in_(ids)
            | col(EnrolledAmbassador.external_id).in_(list(external)),
        )
        status: dict[UUID, str] = {}
        for record in (await self.session.execute(query)).scalars():
            employee_id = record.employee_id if record.employee_id in ids else None
            employee_id = employee_id or external.get(record.external_id or "")
            if employee_id is not None:
                status[employee_id] = record.status
        return status


class DepartureRetention:
    """The one query across organisations: tombstones past their retention, whoever's they are
    (a system sweep, not a tenant's request)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def prune_before(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(Departure).where(col(Departure.departed_at) < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _hashed(entity_id: UUID) -> str:
    return hashlib.sha256(entity_id.bytes).hexdigest()
