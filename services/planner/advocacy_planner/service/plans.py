"""The plan of a program: its playbook rows and latest readiness, through the fit check.

The rules themselves are in `advocacy_planner.fit`; this module gathers their input.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner import fit
from advocacy_planner.repository import ReadinessRepository
from advocacy_planner.service.playbook import playbook
from advocacy_planner.service.programs import existing_program, program_view, readiness_view
from advocacy_shared.contracts.planner import Plan, ReadinessFields
from advocacy_shared.envelope import utc_now


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
