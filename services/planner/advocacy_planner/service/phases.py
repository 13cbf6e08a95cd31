"""A program's phases: targets, measured actuals, the graduation check and advancing.

A program grows pilot → targeted recruitment → organisation-wide, one step at a time; a step needs
the current phase's targets met by the latest actuals, or an override with a reason, and each step
is kept in the program's audit trail.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.models import ActualsRecord, PhaseRecord, ProgramRecord, TransitionRecord
from advocacy_planner.repository import PhaseRepository, ProgramRepository
from advocacy_planner.service.programs import existing_program
from advocacy_shared.contracts.errors import Conflict, NotFound
from advocacy_shared.contracts.metrics import CohortActualsMeasured
from advocacy_shared.contracts.planner import (
    PHASE_ORDER,
    ActualsView,
    AdvancePhase,
    GraduationCheck,
    Phase,
    PhaseAdvanced,
    PhaseFields,
    PhaseKind,
    PhaseTargets,
    PhaseTargetsSet,
    PhaseTransition,
    TargetResult,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

TARGET_METRICS: tuple[str, ...] = (
    "active_rate",
    "posts_per_ambassador_per_week",
    "reach",
    "engagement_rate",
)
LEADERSHIP_METRIC = "leadership_participation"


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
            "target_group_ids": record.target_group_ids or [],
        }
    )


async def existing_phase(
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
    record = await existing_phase(session, organisation_id, program_id, kind)
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
    phase = await existing_phase(session, organisation_id, program_id, current)
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
    phase = await existing_phase(session, organisation_id, program_id, current)
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
    upcoming = await existing_phase(session, record.organisation_id, record.id, request.to)
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
