"""The leadership track's report: leaders' participation against the current phase's target."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.repository import PhaseRepository, RosterRepository
from advocacy_planner.service.phases import LEADERSHIP_METRIC, existing_phase
from advocacy_planner.service.programs import existing_program
from advocacy_shared.contracts.planner import LeadershipReport, PhaseKind


async def leadership_report(
    session: AsyncSession, organisation_id: UUID, program_id: UUID
) -> LeadershipReport:
    record = await existing_program(session, organisation_id, program_id)
    current = cast(PhaseKind, record.phase)
    phase = await existing_phase(session, organisation_id, program_id, current)
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
