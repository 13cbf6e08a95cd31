"""The event-fed copies of roster and enrolment facts, and whom to invite next from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.models import EnrolledAmbassador, RosterEmployee
from advocacy_planner.repository import (
    AMBASSADOR,
    EMPLOYEE,
    DepartureRetention,
    GroupRepository,
    PhaseRepository,
    ProgramRepository,
    RosterRepository,
)
from advocacy_planner.service import groups
from advocacy_planner.service.playbook import playbook
from advocacy_planner.service.programs import existing_program
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
)
from advocacy_shared.contracts.base import newer
from advocacy_shared.contracts.invitations import InvitationDeclined, InvitationIssued
from advocacy_shared.contracts.planner import PhaseKind, Proposal
from advocacy_shared.contracts.roster import EmployeeLeftRoster, RosterFacts
from advocacy_shared.envelope import utc_now

EMPLOYER_BRANDING_SEGMENT = "everyone"


# --- Roster and enrolment copies -----------------------------------------------------------------
# Facts may arrive late or twice (a nak'ed message is redelivered after later ones; two replicas
# race). Each copy keeps the version of the newest fact applied and takes only newer ones; a
# person who left or was erased leaves a tombstone (`departures`), and no fact brings them back.


async def keep_roster_facts(
    session: AsyncSession, organisation_id: UUID, fact: RosterFacts
) -> None:
    roster = RosterRepository(session, organisation_id)
    if await roster.departed(EMPLOYEE, fact.employee_id):
        return
    record = await roster.employee(fact.employee_id)
    if record is not None and not newer(record.version, fact.version):
        return
    record = record or RosterEmployee(
        employee_id=fact.employee_id,
        organisation_id=organisation_id,
        active=fact.active,
        hard_to_recruit=fact.hard_to_recruit,
        leadership=fact.leadership,
        languages=[],
        topics=[],
    )
    record.external_id = fact.external_id
    record.active = fact.active
    record.department = fact.department
    record.job_family = fact.job_family
    record.hard_to_recruit = fact.hard_to_recruit
    record.leadership = fact.leadership
    record.languages = list(fact.languages)
    record.topics = [t.strip().lower() for t in fact.topics if t.strip()]
    record.version = fact.version or record.version
    record.updated_at = utc_now()
    roster.save(record)


async def forget_employee(
    session: AsyncSession, organisation_id: UUID, fact: EmployeeLeftRoster
) -> None:
    roster = RosterRepository(session, organisation_id)
    await roster.forget_employee(fact.employee_id)
    await GroupRepository(session, organisation_id).forget_member(fact.employee_id)
    await roster.mark_departed(EMPLOYEE, fact.employee_id, "left_roster")


async def enrol(session: AsyncSession, organisation_id: UUID, fact: AmbassadorOnboarded) -> None:
    roster = RosterRepository(session, organisation_id)
    if await roster.departed(AMBASSADOR, fact.ambassador_id):
        return
    record = await roster.ambassador(fact.ambassador_id)
    if record is not None and not newer(record.version, fact.version):
        return
    record = record or EnrolledAmbassador(
        ambassador_id=fact.ambassador_id,
        organisation_id=organisation_id,
        leadership=fact.leadership,
        status="enrolled",
    )
    record.external_id = fact.external_id
    record.employee_id = fact.employee_id
    record.program_id = fact.program_id
    record.leadership = fact.leadership
    record.status = "enrolled"
    record.version = fact.version or record.version
    record.updated_at = utc_now()
    roster.save(record)


async def invited(session: AsyncSession, organisation_id: UUID, fact: InvitationIssued) -> None:
    """Someone invited (or invited again after declining) is not proposed; an answer follows.
    Invitation facts carry the ambassador's version: an older one than the copy changes nothing
    (a decline redelivered after the next invitation must not undo it, nor the reverse)."""
    roster = RosterRepository(session, organisation_id)
    if await roster.departed(AMBASSADOR, fact.ambassador_id):
        return
    record = await roster.ambassador(fact.ambassador_id) or EnrolledAmbassador(
        ambassador_id=fact.ambassador_id,
        organisation_id=organisation_id,
        leadership=False,
        status="invited",
    )
    if record.status in {"invited", "declined"} and newer(record.version, fact.version):
        record.status = "invited"
        record.external_id = fact.external_id
        record.employee_id = fact.employee_id
        record.version = fact.version or record.version
        record.updated_at = utc_now()
        roster.save(record)


async def declined(session: AsyncSession, organisation_id: UUID, fact: InvitationDeclined) -> None:
    """Someone who said no is not proposed again (only when newer than the copy, as above)."""
    roster = RosterRepository(session, organisation_id)
    record = await roster.ambassador(fact.ambassador_id)
    if record is not None and record.status == "invited" and newer(record.version, fact.version):
        record.status = "declined"
        record.version = fact.version or record.version
        record.updated_at = utc_now()
        roster.save(record)


async def track_leadership(
    session: AsyncSession, organisation_id: UUID, fact: AmbassadorProfileChanged
) -> None:
    """Keep the leadership track of an enrolled ambassador current (the leadership report)."""
    roster = RosterRepository(session, organisation_id)
    record = await roster.ambassador(fact.ambassador_id)
    if record is not None and newer(record.version, fact.version):
        record.leadership = fact.leadership
        record.version = fact.version or record.version
        record.updated_at = utc_now()
        roster.save(record)


async def offboard(
    session: AsyncSession, organisation_id: UUID, fact: AmbassadorOffboarded
) -> None:
    """Someone who stepped out of the program is not proposed again; someone who left the
    organisation (or HR deactivated) is forgotten: only the roster can bring them back.
    Offboarding is final, so an enrolment that arrives after it (redelivered) changes nothing:
    the record (or the tombstone) holds the offboarding's version."""
    roster = RosterRepository(session, organisation_id)
    if fact.reason != "left_program":
        await roster.forget_ambassador(fact.ambassador_id)
        await roster.mark_departed(AMBASSADOR, fact.ambassador_id, fact.reason)
        return
    if await roster.departed(AMBASSADOR, fact.ambassador_id):
        return
    record = await roster.ambassador(fact.ambassador_id) or EnrolledAmbassador(
        ambassador_id=fact.ambassador_id,
        organisation_id=organisation_id,
        external_id=fact.external_id,
        leadership=False,
        status="left_program",
    )
    if newer(record.version, fact.version):
        record.status = "left_program"
        record.version = fact.version or record.version
        record.updated_at = utc_now()
        roster.save(record)


async def erase(session: AsyncSession, organisation_id: UUID, fact: AmbassadorErased) -> None:
    """Delete every copy of the erased person: enrolment, roster facts, cohort membership."""
    roster = RosterRepository(session, organisation_id)
    await roster.forget_ambassador(fact.ambassador_id)
    await roster.mark_departed(AMBASSADOR, fact.ambassador_id, "erased")
    if fact.employee_id is not None:
        await roster.forget_employee(fact.employee_id)
        await GroupRepository(session, organisation_id).forget_member(fact.employee_id)
        await roster.mark_departed(EMPLOYEE, fact.employee_id, "erased")
    erased = str(fact.ambassador_id)
    phases_repository = PhaseRepository(session, organisation_id)
    for program in await ProgramRepository(session, organisation_id).all():
        for phase in await phases_repository.of_program(program.id):
            ids = phase.cohort.get("ambassador_ids", [])
            if erased in ids:
                phase.cohort = {**phase.cohort, "ambassador_ids": [i for i in ids if i != erased]}
                phases_repository.save(phase)


async def prune_departures(session: AsyncSession, now: datetime, retention: timedelta) -> int:
    """Delete the tombstones older than `retention`: by then no fact about the person can still
    arrive (see `PlannerSettings.departures_retention_seconds`)."""
    return await DepartureRetention(session).prune_before(now - retention)


# --- Targeted recruitment -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wanted:
    """What the program seeks, by discipline, for recruitment proposals."""

    employer_branding: bool
    thought_leadership: bool
    leadership_track: bool
    awareness_topics: frozenset[str]


async def proposals(
    session: AsyncSession, organisation_id: UUID, program_id: UUID, limit: int, after: UUID | None
) -> tuple[PhaseKind, list[Proposal], UUID | None]:
    """Whom to invite next, each with the reasons; people with an ambassador record are skipped.
    When the targeted-recruitment phase targets HR groups, only their members are proposed, each
    with the groups they are in as a reason.

    Scans the roster in id order and keeps those with at least one reason, so a page may be
    shorter than `limit` while more follow (`next_after` says so).
    """
    record = await existing_program(session, organisation_id, program_id)
    rows = (await playbook(session, organisation_id, record.playbook_version)).rows
    chosen = [row for row in rows if row.key in record.disciplines]
    wanted = _Wanted(
        employer_branding=any(EMPLOYER_BRANDING_SEGMENT in r.segments for r in chosen),
        thought_leadership=any("specialist" in r.segments for r in chosen),
        leadership_track=any("leadership" in r.segments for r in chosen),
        awareness_topics=frozenset(record.awareness_topics),
    )
    keys = {
        "employer_branding": next(
            (r.key for r in chosen if EMPLOYER_BRANDING_SEGMENT in r.segments), None
        ),
        "thought_leadership": next((r.key for r in chosen if "specialist" in r.segments), None),
    }
    targeted = await groups.target_group_ids(session, organisation_id, program_id)
    group_copies = GroupRepository(session, organisation_id)
    among = group_copies.in_groups(targeted) if targeted else None
    batch = await RosterRepository(session, organisation_id).candidates(limit, after, among)
    in_groups = await group_copies.groups_of([e.employee_id for e in batch], targeted)
    names = await groups.group_names(session, organisation_id, targeted)
    found = [
        p
        for p in (
            _proposal(e, wanted, keys, [names[g] for g in in_groups[e.employee_id] if g in names])
            for e in batch
        )
        if p is not None
    ]
    next_after = batch[-1].employee_id if len(batch) == limit else None
    return cast(PhaseKind, record.phase), found, next_after


def _proposal(
    employee: RosterEmployee, wanted: _Wanted, keys: dict[str, str | None], in_groups: list[str]
) -> Proposal | None:
    reasons: list[str] = []
    disciplines: list[str] = []
    if in_groups:
        reasons.append(
            f"Targeted recruitment: in the HR group {', '.join(in_groups)}, which the targeted "
            "recruitment phase recruits from."
        )
    if wanted.employer_branding and employee.hard_to_recruit:
        reasons.append(
            f"Employer branding: {employee.job_family or 'their job family'} is hard to recruit; "
            "a colleague's voice is what candidates trust."
        )
        disciplines.append(keys["employer_branding"] or "employer_branding")
    matching = sorted(wanted.awareness_topics & set(employee.topics))
    if wanted.thought_leadership and matching:
        reasons.append(
            f"Thought leadership: specialist in {', '.join(matching)}, topics whose awareness "
            "must rise."
        )
        disciplines.append(keys["thought_leadership"] or "thought_leadership")
    if wanted.leadership_track and employee.leadership:
        reasons.append("Leadership track: a leader's visibility is worth gold inside and outside.")
        if keys["thought_leadership"] and keys["thought_leadership"] not in disciplines:
            disciplines.append(keys["thought_leadership"] or "thought_leadership")
    if not reasons:
        return None
    return Proposal(
        employee_id=employee.employee_id,
        external_id=employee.external_id,
        department=employee.department,
        job_family=employee.job_family,
        leadership=employee.leadership,
        topics=employee.topics,
        disciplines=disciplines,
        reasons=reasons,
    )
