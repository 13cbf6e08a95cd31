"""The planner's resources, forwarded over request-reply: playbook, programs, readiness, the
fit-check plan, phases and their audit trail, targeted recruitment and the leadership track.

Leadership targets and actuals are shown only to callers who may see leadership metrics; for
everyone else they are left out of phases and graduation checks.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway.access import Permission
from advocacy_gateway.auth import (
    Access,
    LeadershipReader,
    PlannerManager,
    PlannerReader,
    PlaybookReader,
)
from advocacy_gateway.routes import references
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CONFLICT,
    SERVICE_PROBLEMS,
    CursorParam,
    IdempotencyKey,
    Limit,
    Page,
    State,
    after_id,
    after_number,
    cursor_of,
)
from advocacy_shared.contracts.planner import (
    ADD_PLAYBOOK_ROW,
    ADVANCE_PHASE,
    ASSESS_READINESS,
    CHECK_GRADUATION,
    CREATE_PROGRAM,
    EDIT_PLAYBOOK_ROW,
    GET_LEADERSHIP_REPORT,
    GET_PLAN,
    GET_PLAYBOOK,
    GET_PROGRAM,
    KEY_PATTERN,
    LIST_PHASES,
    LIST_PROGRAMS,
    LIST_PROPOSALS,
    LIST_READINESS,
    LIST_TRANSITIONS,
    RETIRE_PLAYBOOK_ROW,
    SET_PHASE,
    AddPlaybookRow,
    AdvancePhase,
    AssessReadiness,
    CheckGraduation,
    CreateProgram,
    EditPlaybookRow,
    GetLeadershipReport,
    GetPlan,
    GetPlaybook,
    GetProgram,
    GraduationCheck,
    LeadershipReport,
    ListPhases,
    ListPrograms,
    ListProposals,
    ListReadiness,
    ListTransitions,
    Phase,
    PhaseFields,
    PhaseKind,
    PhaseTransition,
    Plan,
    Playbook,
    PlaybookRowChanges,
    PlaybookRowInput,
    Program,
    ProgramFields,
    Proposal,
    ReadinessAssessment,
    ReadinessFields,
    RetirePlaybookRow,
    SetPhase,
)

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}",
    tags=["planner"],
    responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS},
)

DisciplineKeyPath = Annotated[str, Path(pattern=KEY_PATTERN, description="A discipline's key")]
PlaybookVersion = Annotated[
    int | None, Query(ge=1, le=1_000_000, description="A past version; the latest by default")
]


# --- Playbook ------------------------------------------------------------------------------------


@router.get(
    "/playbook",
    summary="The organisation's playbook (challenge → enablement format matrix), latest or past",
)
async def get_playbook(
    access: PlaybookReader, state: State, version: PlaybookVersion = None
) -> Playbook:
    return await state.rpc.call(
        GET_PLAYBOOK, GetPlaybook(organisation_id=access.organisation.id, version=version)
    )


@router.post(
    "/playbook/rows",
    status_code=201,
    summary="Add a discipline row: a new playbook version; programs keep theirs",
    responses=CONFLICT,
)
async def add_playbook_row(
    body: PlaybookRowInput,
    access: PlannerManager,
    state: State,
    _idempotency_key: IdempotencyKey = None,
) -> Playbook:
    return await state.rpc.call(
        ADD_PLAYBOOK_ROW, AddPlaybookRow(organisation_id=access.organisation.id, row=body)
    )


@router.patch(
    "/playbook/rows/{key}",
    summary="Edit a discipline row (angle prompts, formats, ...): a new playbook version",
)
async def edit_playbook_row(
    key: DisciplineKeyPath, body: PlaybookRowChanges, access: PlannerManager, state: State
) -> Playbook:
    return await state.rpc.call(
        EDIT_PLAYBOOK_ROW,
        EditPlaybookRow(organisation_id=access.organisation.id, key=key, changes=body),
    )


@router.delete(
    "/playbook/rows/{key}",
    summary="Retire a discipline row: a new playbook version without it",
    responses=CONFLICT,
)
async def retire_playbook_row(
    key: DisciplineKeyPath, access: PlannerManager, state: State
) -> Playbook:
    return await state.rpc.call(
        RETIRE_PLAYBOOK_ROW, RetirePlaybookRow(organisation_id=access.organisation.id, key=key)
    )


# --- Programs ------------------------------------------------------------------------------------


@router.post("/programs", status_code=201, summary="Create a program (it starts as a pilot)")
async def create_program(
    body: ProgramFields,
    access: PlannerManager,
    state: State,
    response: Response,
    _idempotency_key: IdempotencyKey = None,
) -> Program:
    program = await state.rpc.call(
        CREATE_PROGRAM, CreateProgram(organisation_id=access.organisation.id, program=body)
    )
    response.headers["Location"] = f"/api/v1/orgs/{access.organisation.id}/programs/{program.id}"
    return program


@router.get("/programs", summary="The organisation's programs")
async def list_programs(
    access: PlannerReader, state: State, limit: Limit = 50, cursor: CursorParam = None
) -> Page[Program]:
    page = await state.rpc.call(
        LIST_PROGRAMS,
        ListPrograms(organisation_id=access.organisation.id, limit=limit, after=after_id(cursor)),
    )
    return Page(items=page.items, next_cursor=cursor_of(page.next_after))


@router.get("/programs/{program_id}", summary="One program")
async def get_program(program_id: UUID, access: PlannerReader, state: State) -> Program:
    return await state.rpc.call(
        GET_PROGRAM, GetProgram(organisation_id=access.organisation.id, program_id=program_id)
    )


# --- Readiness and the plan ----------------------------------------------------------------------


@router.post(
    "/programs/{program_id}/readiness",
    status_code=201,
    summary="Assess the four elements (purpose, buy-in, culture, practicalities), dated",
)
async def assess_readiness(
    program_id: UUID,
    body: ReadinessFields,
    access: PlannerManager,
    state: State,
    _idempotency_key: IdempotencyKey = None,
) -> ReadinessAssessment:
    return await state.rpc.call(
        ASSESS_READINESS,
        AssessReadiness(
            organisation_id=access.organisation.id,
            program_id=program_id,
            assessment=body,
            assessed_by=access.principal.actor[:300],
        ),
    )


@router.get(
    "/programs/{program_id}/readiness",
    summary="The program's readiness assessments, newest first (the history)",
)
async def list_readiness(
    program_id: UUID,
    access: PlannerReader,
    state: State,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Page[ReadinessAssessment]:
    page = await state.rpc.call(
        LIST_READINESS,
        ListReadiness(
            organisation_id=access.organisation.id,
            program_id=program_id,
            limit=limit,
            before=after_number(cursor, minimum=1),
        ),
    )
    return Page(items=page.items, next_cursor=cursor_of(page.next_before))


@router.get(
    "/programs/{program_id}/plan",
    summary="The fit check: where to start, what the capacity carries, findings and why",
)
async def get_plan(program_id: UUID, access: PlannerReader, state: State) -> Plan:
    return await state.rpc.call(
        GET_PLAN, GetPlan(organisation_id=access.organisation.id, program_id=program_id)
    )


# --- Phases --------------------------------------------------------------------------------------


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: PhaseKind = Field(description="The next phase: only one step at a time")
    override_reason: str | None = Field(
        default=None,
        min_length=10,
        max_length=2000,
        description="Advance although targets are not met; kept in the audit trail",
    )


@router.get(
    "/programs/{program_id}/phases",
    summary="Pilot → targeted recruitment → organisation-wide: cohorts, targets, review dates",
)
async def list_phases(program_id: UUID, access: PlannerReader, state: State) -> Page[Phase]:
    phases = await state.rpc.call(
        LIST_PHASES, ListPhases(organisation_id=access.organisation.id, program_id=program_id)
    )
    return Page(items=[_phase_for(access, p) for p in phases.items], next_cursor=None)


@router.put(
    "/programs/{program_id}/phases/{kind}",
    summary="Set a phase's cohort, targets (at least one number) and review date",
    responses=CONFLICT,
)
async def set_phase(
    program_id: UUID, kind: PhaseKind, body: PhaseFields, access: PlannerManager, state: State
) -> Phase:
    await references.check_ambassadors(
        state, access.organisation.id, body.cohort.ambassador_ids, "cohort.ambassador_ids"
    )
    phase = await state.rpc.call(
        SET_PHASE,
        SetPhase(
            organisation_id=access.organisation.id, program_id=program_id, kind=kind, phase=body
        ),
    )
    return _phase_for(access, phase)


@router.get(
    "/programs/{program_id}/graduation",
    summary="The graduation check: the current phase's targets against the latest actuals",
)
async def check_graduation(
    program_id: UUID, access: PlannerReader, state: State
) -> GraduationCheck:
    check = await state.rpc.call(
        CHECK_GRADUATION,
        CheckGraduation(organisation_id=access.organisation.id, program_id=program_id),
    )
    if _sees_leadership(access):
        return check
    return check.model_copy(
        update={"results": [r for r in check.results if r.track != "leadership"]}
    )


@router.post(
    "/programs/{program_id}/phases/advance",
    status_code=201,
    summary="Advance one phase: targets met, or an override with a reason (audited)",
    responses=CONFLICT,
)
async def advance_phase(
    program_id: UUID,
    body: Advance,
    access: PlannerManager,
    state: State,
    _idempotency_key: IdempotencyKey = None,
) -> PhaseTransition:
    return await state.rpc.call(
        ADVANCE_PHASE,
        AdvancePhase(
            organisation_id=access.organisation.id,
            program_id=program_id,
            to=body.to,
            override_reason=body.override_reason,
            actor=access.principal.actor[:300],
        ),
    )


@router.get(
    "/programs/{program_id}/phases/transitions",
    summary="The audit trail of phase changes: who, when, targets met or overridden and why",
)
async def list_transitions(
    program_id: UUID,
    access: PlannerReader,
    state: State,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Page[PhaseTransition]:
    page = await state.rpc.call(
        LIST_TRANSITIONS,
        ListTransitions(
            organisation_id=access.organisation.id,
            program_id=program_id,
            limit=limit,
            after=after_number(cursor),
        ),
    )
    return Page(items=page.items, next_cursor=cursor_of(page.next_after))


# --- Recruitment and the leadership track --------------------------------------------------------


class Proposals(Page[Proposal]):
    program_phase: PhaseKind
    note: str | None


@router.get(
    "/programs/{program_id}/recruitment",
    summary="Whom to invite next, each proposal explained (from the HR roster)",
)
async def list_proposals(
    program_id: UUID,
    access: PlannerManager,
    state: State,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Proposals:
    page = await state.rpc.call(
        LIST_PROPOSALS,
        ListProposals(
            organisation_id=access.organisation.id,
            program_id=program_id,
            limit=limit,
            after=after_id(cursor),
        ),
    )
    return Proposals(
        items=page.items,
        next_cursor=cursor_of(page.next_after),
        program_phase=page.program_phase,
        note=page.note,
    )


@router.get(
    "/programs/{program_id}/leadership",
    summary="The leadership track: participation target and status, apart from everyone else",
)
async def leadership_report(
    program_id: UUID, access: LeadershipReader, state: State
) -> LeadershipReport:
    return await state.rpc.call(
        GET_LEADERSHIP_REPORT,
        GetLeadershipReport(organisation_id=access.organisation.id, program_id=program_id),
    )


# --- Helpers -------------------------------------------------------------------------------------


def _sees_leadership(access: Access) -> bool:
    return access.principal.may(access.organisation.id, Permission.PLANNER_LEADERSHIP_READ)


def _phase_for(access: Access, phase: Phase) -> Phase:
    if _sees_leadership(access) or phase.targets is None:
        return phase
    if phase.targets.leadership_participation is None:
        return phase
    others = phase.targets.model_dump(exclude={"leadership_participation"})
    if all(value is None for value in others.values()):
        return phase.model_copy(update={"targets": None})
    return phase.model_copy(
        update={"targets": phase.targets.model_copy(update={"leadership_participation": None})}
    )
