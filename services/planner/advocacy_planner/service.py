"""The planner's domain logic. No commits and no broker here: the edges own both.

Playbooks are versioned: every edit writes a whole new version, so a program keeps reading the
version it was planned with. A program grows pilot → targeted recruitment → organisation-wide,
one step at a time; a step needs the current phase's targets met by the latest actuals, or an
override with a reason, and each step is kept in the program's audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner import fit
from advocacy_planner.models import (
    ActualsRecord,
    EnrolledAmbassador,
    PhaseRecord,
    PlaybookEntry,
    ProgramRecord,
    ReadinessRecord,
    RosterEmployee,
    TransitionRecord,
)
from advocacy_planner.repository import (
    PhaseRepository,
    PlaybookRepository,
    ProgramRepository,
    ReadinessRepository,
    RosterRepository,
    tenant_repository,
)
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
    EnablementFormat,
    Segment,
)
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound, NotReady
from advocacy_shared.contracts.metrics import CohortActualsMeasured
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import (
    PHASE_ORDER,
    ActualsView,
    AdvancePhase,
    Capacity,
    Cohort,
    CostModel,
    GraduationCheck,
    LeadershipReport,
    Phase,
    PhaseAdvanced,
    PhaseFields,
    PhaseKind,
    PhaseTargets,
    PhaseTargetsSet,
    PhaseTransition,
    Plan,
    Playbook,
    PlaybookRevised,
    PlaybookRow,
    PlaybookRowChanges,
    PlaybookRowInput,
    Program,
    ProgramCreated,
    ProgramFields,
    Proposal,
    ReadinessAssessed,
    ReadinessAssessment,
    ReadinessFields,
    TargetResult,
)
from advocacy_shared.contracts.roster import EmployeeLeftRoster, RosterFacts
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

DEFAULT_MATRIX: tuple[PlaybookRowInput, ...] = (
    PlaybookRowInput(
        key="social_selling",
        challenge="Sales & lead generation",
        discipline="Social selling",
        colleagues="Sales & marketing",
        content="Customer challenges, industry themes, cases",
        enablement_format="Onboarding, guide and an ongoing roll-out",
        segments=["sales_marketing"],
        formats=["workshop", "guide"],
        angle_prompts=[
            "Talk about the customer problems you solve",
            "Share what you learnt from a recent case",
        ],
    ),
    PlaybookRowInput(
        key="thought_leadership",
        challenge="Awareness & differentiation",
        discipline="Thought leadership & CxO visibility",
        colleagues="Specialists & leadership",
        content="Professional hobby-horses, industry agendas, visions",
        enablement_format="Hand-held effort, 1:1 and guide",
        segments=["specialist", "leadership"],
        formats=["one_to_one", "guide"],
        angle_prompts=[
            "Take a stand on an industry agenda",
            "Share the professional hobby-horse you never tire of",
        ],
    ),
    PlaybookRowInput(
        key="employer_branding",
        challenge="Qualified applicants",
        discipline="Employee advocacy as employer branding",
        colleagues="Everyone / profile representatives",
        content="The workplace, development, collegiality",
        enablement_format="Broad training, guide + hand-held effort",
        segments=["everyone"],
        formats=["workshop", "guide", "one_to_one"],
        angle_prompts=["Show a normal day at work", "Tell how you have developed here"],
    ),
)
"""The article's prioritisation matrix: every organisation's playbook starts from it."""

EMPLOYER_BRANDING_SEGMENT = "everyone"
TARGET_METRICS: tuple[str, ...] = (
    "active_rate",
    "posts_per_ambassador_per_week",
    "reach",
    "engagement_rate",
)
LEADERSHIP_METRIC = "leadership_participation"


# --- Tenants and the playbook --------------------------------------------------------------------


async def provision_organisation(session: AsyncSession, fact: OrganisationCreated) -> None:
    """Record the tenant and seed its playbook (version 1) from the default matrix."""
    if not await tenant_repository.record(session, fact):
        return
    PlaybookRepository(session).add_all(_entries(fact.organisation_id, 1, list(DEFAULT_MATRIX)))


def _entries(
    organisation_id: UUID, version: int, rows: list[PlaybookRowInput]
) -> list[PlaybookEntry]:
    return [
        PlaybookEntry(
            organisation_id=organisation_id,
            version=version,
            position=position,
            key=row.key,
            challenge=row.challenge,
            discipline=row.discipline,
            colleagues=row.colleagues,
            content=row.content,
            enablement_format=row.enablement_format,
            segments=list(row.segments),
            formats=list(row.formats),
            angle_prompts=list(row.angle_prompts),
        )
        for position, row in enumerate(rows, start=1)
    ]


async def playbook(
    session: AsyncSession, organisation_id: UUID, version: int | None = None
) -> Playbook:
    playbooks = PlaybookRepository(session)
    latest = await _latest_version(playbooks, organisation_id)
    wanted = latest if version is None else version
    if wanted > latest:
        raise NotFound(f"there is no playbook version {wanted} (the latest is {latest})")
    rows = await playbooks.entries(organisation_id, wanted)
    return Playbook(
        organisation_id=organisation_id,
        version=wanted,
        latest=wanted == latest,
        rows=[_row(entry) for entry in rows],
    )


async def _latest_version(playbooks: PlaybookRepository, organisation_id: UUID) -> int:
    version = await playbooks.latest_version(organisation_id)
    if version is None:
        raise NotReady(
            "the planner has not provisioned this organisation yet",
            {"organisation_id": str(organisation_id)},
        )
    return version


def _row(entry: PlaybookEntry) -> PlaybookRow:
    return PlaybookRow(
        id=entry.id,
        key=entry.key,
        position=entry.position,
        challenge=entry.challenge,
        discipline=entry.discipline,
        colleagues=entry.colleagues,
        content=entry.content,
        enablement_format=entry.enablement_format,
        segments=[cast(Segment, s) for s in entry.segments],
        formats=[cast(EnablementFormat, f) for f in entry.formats],
        angle_prompts=list(entry.angle_prompts),
    )


def _as_input(row: PlaybookRow) -> PlaybookRowInput:
    return PlaybookRowInput.model_validate(row.model_dump(exclude={"id", "position"}))


async def add_playbook_row(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, row: PlaybookRowInput
) -> Playbook:
    current = await playbook(session, organisation_id)
    if any(existing.key == row.key for existing in current.rows):
        raise Conflict(f"the playbook has a discipline {row.key} already", {"key": row.key})
    rows = [_as_input(existing) for existing in current.rows] + [row]
    return await _revise(session, outbox, organisation_id, current.version, rows, "added", row.key)


async def edit_playbook_row(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    key: str,
    changes: PlaybookRowChanges,
) -> Playbook:
    current = await playbook(session, organisation_id)
    _known_key(current, key)
    update = changes.model_dump(exclude_none=True)
    try:
        rows = [
            PlaybookRowInput.model_validate({**_as_input(r).model_dump(), **update})
            if r.key == key
            else _as_input(r)
            for r in current.rows
        ]
    except ValidationError as exc:
        raise Invalid(
            "the edited row is not valid",
            {"errors": [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]},
        ) from exc
    return await _revise(session, outbox, organisation_id, current.version, rows, "edited", key)


async def retire_playbook_row(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, key: str
) -> Playbook:
    current = await playbook(session, organisation_id)
    _known_key(current, key)
    if len(current.rows) == 1:
        raise Conflict("the last discipline of a playbook cannot be retired")
    rows = [_as_input(r) for r in current.rows if r.key != key]
    return await _revise(session, outbox, organisation_id, current.version, rows, "retired", key)


def _known_key(current: Playbook, key: str) -> None:
    if not any(row.key == key for row in current.rows):
        raise NotFound(
            f"the playbook has no discipline {key}",
            {"known": [row.key for row in current.rows]},
        )


async def _revise(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    version: int,
    rows: list[PlaybookRowInput],
    change: str,
    key: str,
) -> Playbook:
    """Write the whole matrix as the next version; older versions stay for their programs."""
    PlaybookRepository(session).add_all(_entries(organisation_id, version + 1, rows))
    await session.flush()
    await outbox.add(
        session,
        PlaybookRevised.model_validate(
            {
                "version": version + 1,
                "change": change,
                "discipline_key": key,
                "revised_at": utc_now(),
            }
        ),
        organisation_id=organisation_id,
    )
    return await playbook(session, organisation_id, version + 1)


# --- Programs ------------------------------------------------------------------------------------


async def create_program(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, fields: ProgramFields
) -> Program:
    current = await playbook(session, organisation_id)
    _check_against_playbook(fields, current)
    record = ProgramRecord(
        organisation_id=organisation_id,
        name=fields.name,
        owner=fields.owner,
        objectives=list(fields.objectives),
        disciplines=list(fields.disciplines),
        fte_share=fields.capacity.fte_share,
        hours_per_week=fields.capacity.hours_per_week,
        start_date=fields.start_date,
        awareness_topics=[t.strip().lower() for t in fields.awareness_topics if t.strip()],
        cost_model=fields.cost_model.model_dump(mode="json"),
        playbook_version=current.version,
        phase="pilot",
    )
    programs = ProgramRepository(session, organisation_id)
    programs.save(record)
    await session.flush()
    for kind in PHASE_ORDER:
        programs.save(
            PhaseRecord(
                organisation_id=organisation_id,
                program_id=record.id,
                kind=kind,
                status="active" if kind == "pilot" else "planned",
                cohort=Cohort().model_dump(mode="json"),
                started_at=record.created_at if kind == "pilot" else None,
            )
        )
    await outbox.add(
        session,
        ProgramCreated(
            program_id=record.id,
            playbook_version=record.playbook_version,
            disciplines=record.disciplines,
            fte_share=record.fte_share,
            start_date=record.start_date,
            created_at=record.created_at,
        ),
        organisation_id=organisation_id,
        subject=str(record.id),
    )
    return program_view(record)


def _check_against_playbook(fields: ProgramFields, current: Playbook) -> None:
    keys = [row.key for row in current.rows]
    challenges = [row.challenge for row in current.rows]
    problems: dict[str, object] = {}
    unknown = [d for d in fields.disciplines if d not in keys]
    if unknown:
        problems["unknown_disciplines"] = unknown
        problems["known_disciplines"] = keys
    unknown_objectives = [o for o in fields.objectives if o not in challenges]
    if unknown_objectives:
        problems["unknown_objectives"] = unknown_objectives
        problems["known_challenges"] = challenges
    if len(set(fields.disciplines)) != len(fields.disciplines):
        problems["repeated_disciplines"] = True
    if len(set(fields.objectives)) != len(fields.objectives):
        problems["repeated_objectives"] = True
    if problems:
        raise Invalid(
            f"the program does not match playbook version {current.version}: "
            + ", ".join(sorted(problems)),
            problems,
        )


def program_view(record: ProgramRecord) -> Program:
    return Program(
        id=record.id,
        organisation_id=record.organisation_id,
        name=record.name,
        owner=record.owner,
        objectives=record.objectives,
        disciplines=record.disciplines,
        capacity=Capacity(fte_share=record.fte_share, hours_per_week=record.hours_per_week),
        start_date=record.start_date,
        awareness_topics=record.awareness_topics,
        cost_model=CostModel.model_validate(record.cost_model),
        playbook_version=record.playbook_version,
        phase=cast(PhaseKind, record.phase),
        created_at=record.created_at,
    )


async def existing_program(
    session: AsyncSession, organisation_id: UUID, program_id: UUID, *, for_update: bool = False
) -> ProgramRecord:
    record = await ProgramRepository(session, organisation_id).get(
        program_id, for_update=for_update
    )
    if record is None:
        raise NotFound(f"no program {program_id} in this organisation")
    return record


# --- Readiness -----------------------------------------------------------------------------------


async def assess_readiness(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    program_id: UUID,
    fields: ReadinessFields,
    assessed_by: str,
) -> ReadinessAssessment:
    await existing_program(session, organisation_id, program_id, for_update=True)
    readiness = ReadinessRepository(session, organisation_id)
    latest = await readiness.latest(program_id)
    record = ReadinessRecord(
        organisation_id=organisation_id,
        program_id=program_id,
        number=(latest.number + 1) if latest else 1,
        purpose=fields.purpose.model_dump(mode="json"),
        buy_in=fields.buy_in.model_dump(mode="json"),
        culture=fields.culture.model_dump(mode="json"),
        practicalities=fields.practicalities.model_dump(mode="json"),
        assessed_by=assessed_by,
    )
    readiness.save(record)
    await outbox.add(
        session,
        ReadinessAssessed(
            program_id=program_id,
            assessment_id=record.id,
            number=record.number,
            leadership_openness=fields.culture.leadership_openness,
            visibility_appetite=fields.culture.visibility_appetite,
            assessed_at=record.assessed_at,
        ),
        organisation_id=organisation_id,
        subject=str(program_id),
    )
    return readiness_view(record)


def readiness_view(record: ReadinessRecord) -> ReadinessAssessment:
    return ReadinessAssessment.model_validate(
        {
            "id": record.id,
            "program_id": record.program_id,
            "number": record.number,
            "purpose": record.purpose,
            "buy_in": record.buy_in,
            "culture": record.culture,
            "practicalities": record.practicalities,
            "assessed_by": record.assessed_by,
            "assessed_at": record.assessed_at,
        }
    )


# --- The plan ------------------------------------------------------------------------------------


async def plan(session: AsyncSession, organisation_id: UUID, program_id: UUID) -> Plan:
    record = await existing_program(session, organisation_id, program_id)
    program = program_view(record)
    rows = (await playbook(session, organisation_id, record.playbook_version)).rows
    latest = await ReadinessRepository(session, organisation_id).latest(program_id)
    assessment = readiness_view(latest) if latest else None
    chosen = [row for key in program.disciplines for row in rows if row.key == key]
    return fit.plan(
        fit.FitInput(
            program_id=program.id,
            playbook_version=program.playbook_version,
            objectives=program.objectives,
            chosen=chosen,
            capacity=program.capacity,
            cost_model=program.cost_model,
            readiness=ReadinessFields.model_validate(
                assessment.model_dump(include={"purpose", "buy_in", "culture", "practicalities"})
            )
            if assessment
            else None,
            assessment_number=assessment.number if assessment else None,
            assessed_at=assessment.assessed_at if assessment else None,
            today=utc_now().date(),
        )
    )


# --- Phases --------------------------------------------------------------------------------------


async def phases(session: AsyncSession, organisation_id: UUID, program_id: UUID) -> list[Phase]:
    await existing_program(session, organisation_id, program_id)
    records = await PhaseRepository(session, organisation_id).of_program(program_id)
    ordered = sorted(records, key=lambda r: PHASE_ORDER.index(cast(PhaseKind, r.kind)))
    return [phase_view(record) for record in ordered]


def phase_view(record: PhaseRecord) -> Phase:
    return Phase.model_validate(
        {
            "kind": record.kind,
            "status": record.status,
            "cohort": record.cohort,
            "targets": record.targets,
            "review_date": record.review_date,
            "started_at": record.started_at,
            "graduated_at": record.graduated_at,
        }
    )


async def _phase(
    session: AsyncSession, organisation_id: UUID, program_id: UUID, kind: str
) -> PhaseRecord:
    for record in await PhaseRepository(session, organisation_id).of_program(program_id):
        if record.kind == kind:
            return record
    raise NotFound(f"the program has no {kind} phase")


async def set_phase(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    program_id: UUID,
    kind: PhaseKind,
    fields: PhaseFields,
) -> Phase:
    """Set a phase's cohort, targets and review date; a graduated phase is history."""
    await existing_program(session, organisation_id, program_id, for_update=True)
    record = await _phase(session, organisation_id, program_id, kind)
    if record.status == "graduated":
        raise Conflict(f"the {kind} phase has graduated: its targets are history")
    record.cohort = fields.cohort.model_dump(mode="json")
    record.targets = fields.targets.model_dump(mode="json")
    record.review_date = fields.review_date
    PhaseRepository(session, organisation_id).save(record)
    await outbox.add(
        session,
        PhaseTargetsSet(
            program_id=program_id,
            phase=kind,
            cohort_size=len(fields.cohort.ambassador_ids),
            targets=fields.targets,
            review_date=fields.review_date,
        ),
        organisation_id=organisation_id,
        subject=str(program_id),
    )
    return phase_view(record)


def next_phase(kind: PhaseKind) -> PhaseKind | None:
    index = PHASE_ORDER.index(kind)
    return PHASE_ORDER[index + 1] if index + 1 < len(PHASE_ORDER) else None


async def graduation_check(
    session: AsyncSession, organisation_id: UUID, program_id: UUID
) -> GraduationCheck:
    record = await existing_program(session, organisation_id, program_id)
    current = cast(PhaseKind, record.phase)
    phase = await _phase(session, organisation_id, program_id, current)
    actuals = await PhaseRepository(session, organisation_id).latest_actuals(program_id, current)
    return compare(program_id, phase, actuals)


def compare(program_id: UUID, phase: PhaseRecord, actuals: ActualsRecord | None) -> GraduationCheck:
    """Compare the phase's targets with its latest actuals: every target must be met."""
    kind = cast(PhaseKind, phase.kind)
    unmet: list[str] = []
    results: list[TargetResult] = []
    if phase.targets is None:
        unmet.append(f"the {kind} phase has no targets yet")
    else:
        targets = PhaseTargets.model_validate(phase.targets)
        results = _results(targets, actuals)
        unmet += [r.reason for r in results if not r.met]
    if actuals is None:
        unmet.append(f"no actuals have been measured for the {kind} phase yet")
    return GraduationCheck(
        program_id=program_id,
        phase=kind,
        next_phase=next_phase(kind),
        met=not unmet,
        results=results,
        unmet=unmet,
        actuals=ActualsView(
            period_start=actuals.period_start,
            period_end=actuals.period_end,
            cohort_size=actuals.cohort_size,
            measured_at=actuals.measured_at,
        )
        if actuals
        else None,
        review_date=phase.review_date,
    )


def _results(targets: PhaseTargets, actuals: ActualsRecord | None) -> list[TargetResult]:
    results = []
    for metric in (*TARGET_METRICS, LEADERSHIP_METRIC):
        target = getattr(targets, metric)
        if target is None:
            continue
        actual = getattr(actuals, metric) if actuals is not None else None
        met = actual is not None and actual >= target
        words = metric.replace("_", " ")
        if actual is None:
            reason = f"{words}: target {target:g}, nothing measured"
        elif met:
            reason = f"{words}: {actual:g} meets the target {target:g}"
        else:
            reason = f"{words}: {actual:g} is below the target {target:g}"
        results.append(
            TargetResult(
                metric=metric,
                track="leadership" if metric == LEADERSHIP_METRIC else "everyone",
                target=float(target),
                actual=None if actual is None else float(actual),
                met=met,
                reason=reason,
            )
        )
    return results


async def advance_phase(
    session: AsyncSession, outbox: Outbox, request: AdvancePhase
) -> PhaseTransition:
    """Move the program one phase on: its targets met, or overridden with a kept reason."""
    organisation_id, program_id = request.organisation_id, request.program_id
    record = await existing_program(session, organisation_id, program_id, for_update=True)
    current = cast(PhaseKind, record.phase)
    allowed = next_phase(current)
    if request.to != allowed:
        raise Conflict(
            f"a program in the {current} phase cannot move to {request.to} "
            f"(allowed: {allowed or 'none, it is the last phase'})",
            {"phase": current, "requested": request.to, "allowed": allowed},
        )
    phase = await _phase(session, organisation_id, program_id, current)
    check = compare(
        program_id,
        phase,
        await PhaseRepository(session, organisation_id).latest_actuals(program_id, current),
    )
    if not check.met and request.override_reason is None:
        raise Conflict(
            f"the {current} phase has not met its targets: " + "; ".join(check.unmet),
            {"unmet": check.unmet},
        )
    return await _record_transition(session, outbox, record, phase, check, request)


async def _record_transition(
    session: AsyncSession,
    outbox: Outbox,
    record: ProgramRecord,
    phase: PhaseRecord,
    check: GraduationCheck,
    request: AdvancePhase,
) -> PhaseTransition:
    phases_repository = PhaseRepository(session, record.organisation_id)
    now = utc_now()
    upcoming = await _phase(session, record.organisation_id, record.id, request.to)
    phase.status, phase.graduated_at = "graduated", now
    upcoming.status, upcoming.started_at = "active", now
    record.phase = request.to
    decided_by = "targets_met" if check.met else "override"
    transition = TransitionRecord(
        organisation_id=record.organisation_id,
        program_id=record.id,
        number=await phases_repository.transition_count(record.id) + 1,
        from_phase=phase.kind,
        to_phase=request.to,
        decided_by=decided_by,
        override_reason=None if check.met else request.override_reason,
        unmet=check.unmet,
        graduation_check=check.model_dump(mode="json"),
        actor=request.actor,
        at=now,
    )
    for row in (phase, upcoming, record, transition):
        phases_repository.save(row)
    await outbox.add(
        session,
        PhaseAdvanced.model_validate(
            {
                "program_id": record.id,
                "from_phase": phase.kind,
                "to_phase": request.to,
                "decided_by": decided_by,
                "override_reason": transition.override_reason,
                "advanced_at": now,
            }
        ),
        organisation_id=record.organisation_id,
        subject=str(record.id),
    )
    return transition_view(transition)


def transition_view(record: TransitionRecord) -> PhaseTransition:
    return PhaseTransition.model_validate(
        {
            "id": record.id,
            "program_id": record.program_id,
            "number": record.number,
            "from_phase": record.from_phase,
            "to_phase": record.to_phase,
            "decided_by": record.decided_by,
            "override_reason": record.override_reason,
            "unmet": record.unmet,
            "actor": record.actor,
            "at": record.at,
        }
    )


async def record_actuals(
    session: AsyncSession, organisation_id: UUID, fact: CohortActualsMeasured
) -> None:
    """Keep the measured actuals of a program's phase; a program this tenant lacks is ignored."""
    if await ProgramRepository(session, organisation_id).get(fact.program_id) is None:
        return
    PhaseRepository(session, organisation_id).save(
        ActualsRecord(
            organisation_id=organisation_id,
            program_id=fact.program_id,
            phase=fact.phase,
            period_start=fact.period_start,
            period_end=fact.period_end,
            cohort_size=fact.cohort_size,
            active_rate=fact.active_rate,
            posts_per_ambassador_per_week=fact.posts_per_ambassador_per_week,
            reach=fact.reach,
            engagement_rate=fact.engagement_rate,
            leadership_participation=fact.leadership_participation,
            measured_at=fact.measured_at,
        )
    )


# --- Roster and enrolment copies -----------------------------------------------------------------


async def keep_roster_facts(
    session: AsyncSession, organisation_id: UUID, fact: RosterFacts
) -> None:
    roster = RosterRepository(session, organisation_id)
    record = await roster.employee(fact.employee_id) or RosterEmployee(
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
    record.updated_at = utc_now()
    roster.save(record)


async def forget_employee(
    session: AsyncSession, organisation_id: UUID, fact: EmployeeLeftRoster
) -> None:
    await RosterRepository(session, organisation_id).forget_employee(fact.employee_id)


async def enrol(session: AsyncSession, organisation_id: UUID, fact: AmbassadorOnboarded) -> None:
    roster = RosterRepository(session, organisation_id)
    record = await roster.ambassador(fact.ambassador_id) or EnrolledAmbassador(
        ambassador_id=fact.ambassador_id,
        organisation_id=organisation_id,
        leadership=fact.leadership,
        status="enrolled",
    )
    record.external_id = fact.external_id
    record.program_id = fact.program_id
    record.leadership = fact.leadership
    record.status = "enrolled"
    record.updated_at = utc_now()
    roster.save(record)


async def track_leadership(
    session: AsyncSession, organisation_id: UUID, fact: AmbassadorProfileChanged
) -> None:
    """Keep the leadership track of an enrolled ambassador current (the leadership report)."""
    roster = RosterRepository(session, organisation_id)
    record = await roster.ambassador(fact.ambassador_id)
    if record is not None and record.leadership != fact.leadership:
        record.leadership = fact.leadership
        record.updated_at = utc_now()
        roster.save(record)


async def offboard(
    session: AsyncSession, organisation_id: UUID, fact: AmbassadorOffboarded
) -> None:
    """Someone who stepped out of the program is not proposed again; someone who left the
    organisation (or HR deactivated) is forgotten: only the roster can bring them back."""
    roster = RosterRepository(session, organisation_id)
    if fact.reason != "left_program":
        await roster.forget_ambassador(fact.ambassador_id)
        return
    record = await roster.ambassador(fact.ambassador_id)
    if record is not None:
        record.status = "left_program"
        record.updated_at = utc_now()
        roster.save(record)


async def erase(session: AsyncSession, organisation_id: UUID, fact: AmbassadorErased) -> None:
    """Delete every copy of the erased person: enrolment, roster facts, cohort membership."""
    roster = RosterRepository(session, organisation_id)
    await roster.forget_ambassador(fact.ambassador_id)
    if fact.employee_id is not None:
        await roster.forget_employee(fact.employee_id)
    erased = str(fact.ambassador_id)
    phases_repository = PhaseRepository(session, organisation_id)
    for program in await ProgramRepository(session, organisation_id).all():
        for phase in await phases_repository.of_program(program.id):
            ids = phase.cohort.get("ambassador_ids", [])
            if erased in ids:
                phase.cohort = {**phase.cohort, "ambassador_ids": [i for i in ids if i != erased]}
                phases_repository.save(phase)


# --- Targeted recruitment and the leadership track -----------------------------------------------


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
    batch = await RosterRepository(session, organisation_id).candidates(limit, after)
    found = [p for p in (_proposal(e, wanted, keys) for e in batch) if p is not None]
    next_after = batch[-1].employee_id if len(batch) == limit else None
    return cast(PhaseKind, record.phase), found, next_after


def _proposal(
    employee: RosterEmployee, wanted: _Wanted, keys: dict[str, str | None]
) -> Proposal | None:
    reasons: list[str] = []
    disciplines: list[str] = []
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


async def leadership_report(
    session: AsyncSession, organisation_id: UUID, program_id: UUID
) -> LeadershipReport:
    record = await existing_program(session, organisation_id, program_id)
    current = cast(PhaseKind, record.phase)
    phase = await _phase(session, organisation_id, program_id, current)
    actuals = await PhaseRepository(session, organisation_id).latest_actuals(program_id, current)
    target = (phase.targets or {}).get(LEADERSHIP_METRIC)
    actual = actuals.leadership_participation if actuals else None
    met = None if target is None or actual is None else actual >= target
    roster = RosterRepository(session, organisation_id)
    enrolled = await roster.count_leaders_enrolled(program_id)
    return LeadershipReport(
        program_id=program_id,
        phase=current,
        target=target,
        actual=actual,
        met=met,
        leaders_enrolled=enrolled,
        leaders_on_roster_not_enrolled=await roster.count_leaders_not_enrolled(),
        summary=_leadership_summary(current, target, actual, enrolled),
    )


def _leadership_summary(
    phase: str, target: float | None, actual: float | None, enrolled: int
) -> str:
    if target is None:
        return f"No leadership participation target is set for the {phase} phase."
    if actual is None:
        return (
            f"Target {target:.0%} of leaders posting; nothing measured yet ({enrolled} enrolled)."
        )
    verdict = "meets" if actual >= target else "is below"
    return (
        f"{actual:.0%} of leaders posted: {verdict} the target {target:.0%} ({enrolled} enrolled)."
    )
