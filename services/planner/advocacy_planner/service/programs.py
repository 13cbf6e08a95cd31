"""Programs, checked against the playbook, and their readiness assessments."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.models import ProgramRecord, ReadinessRecord
from advocacy_planner.repository import ProgramRepository, ReadinessRepository
from advocacy_planner.service.playbook import playbook
from advocacy_shared.contracts.errors import Invalid, NotFound
from advocacy_shared.contracts.planner import (
    PHASE_ORDER,
    Capacity,
    Cohort,
    CostModel,
    PhaseKind,
    Playbook,
    Program,
    ProgramCreated,
    ProgramFields,
    ProgramObjectivesSet,
    ReadinessAssessed,
    ReadinessAssessment,
    ReadinessFields,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

# --- Programs ------------------------------------------------------------------------------------


async def create_program(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, fields: ProgramFields
) -> Program:
    current = await playbook(session, organisation_id)
    _check_against_playbook(fields, current)
    program = _new_program(organisation_id, fields, current.version)
    await ProgramRepository(session, organisation_id).create(
        program, [_new_phase(program, kind) for kind in PHASE_ORDER]
    )
    await outbox.add_all(
        session,
        [
            (
                ProgramCreated(
                    program_id=program["id"],
                    playbook_version=program["playbook_version"],
                    disciplines=program["disciplines"],
                    fte_share=program["fte_share"],
                    start_date=program["start_date"],
                    created_at=program["created_at"],
                ),
                str(program["id"]),
            ),
            (
                ProgramObjectivesSet(
                    program_id=program["id"],
                    objectives=program["objectives"],
                    disciplines=program["disciplines"],
                    set_at=program["created_at"],
                ),
                str(program["id"]),
            ),
        ],
        organisation_id=organisation_id,
    )
    return _created_view(program)


def _new_program(organisation_id: UUID, fields: ProgramFields, version: int) -> dict[str, Any]:
    """The row of a new program, in its pilot phase."""
    return {
        "id": uuid4(),
        "organisation_id": organisation_id,
        "name": fields.name,
        "owner": fields.owner,
        "objectives": list(fields.objectives),
        "disciplines": list(fields.disciplines),
        "fte_share": fields.capacity.fte_share,
        "hours_per_week": fields.capacity.hours_per_week,
        "start_date": fields.start_date,
        "awareness_topics": [t.strip().lower() for t in fields.awareness_topics if t.strip()],
        "cost_model": fields.cost_model.model_dump(mode="json"),
        "playbook_version": version,
        "phase": "pilot",
        "created_at": utc_now(),
    }


_VIEW_COLUMNS = (
    "id",
    "organisation_id",
    "name",
    "owner",
    "objectives",
    "disciplines",
    "start_date",
    "awareness_topics",
    "playbook_version",
    "created_at",
)


def _created_view(row: dict[str, Any]) -> Program:
    """The view of a program just inserted, from its row (as `program_view` of a record)."""
    return Program(
        **{column: row[column] for column in _VIEW_COLUMNS},
        capacity=Capacity(fte_share=row["fte_share"], hours_per_week=row["hours_per_week"]),
        cost_model=CostModel.model_validate(row["cost_model"]),
        phase=cast(PhaseKind, row["phase"]),
    )


def _new_phase(program: dict[str, Any], kind: PhaseKind) -> dict[str, Any]:
    """The row of one phase of a new program: the pilot active since the program's creation,
    the others planned; every column given, as one multi-row insert needs."""
    pilot = kind == "pilot"
    return {
        "id": uuid4(),
        "organisation_id": program["organisation_id"],
        "program_id": program["id"],
        "kind": kind,
        "status": "active" if pilot else "planned",
        "cohort": Cohort().model_dump(mode="json"),
        "targets": None,
        "review_date": None,
        "started_at": program["created_at"] if pilot else None,
        "graduated_at": None,
        "target_group_ids": None,
    }


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
            + "; ".join(_mismatches(problems)),
            problems,
        )


def _mismatches(problems: dict[str, object]) -> list[str]:
    """What is wrong, named: the unknown discipline or objective, not the problem's field."""
    said: list[str] = []
    if unknown := problems.get("unknown_disciplines"):
        said.append(
            f"unknown discipline {_quoted(unknown)} "
            f"(the playbook has {_quoted(problems['known_disciplines'])})"
        )
    if unknown := problems.get("unknown_objectives"):
        said.append(
            f"unknown objective {_quoted(unknown)} (the playbook's challenges are "
            f"{_quoted(problems['known_challenges'])})"
        )
    if problems.get("repeated_disciplines"):
        said.append("a discipline is listed twice")
    if problems.get("repeated_objectives"):
        said.append("an objective is listed twice")
    return said


def _quoted(values: object) -> str:
    return ", ".join(f"'{v}'" for v in values) if isinstance(values, list) else str(values)


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
