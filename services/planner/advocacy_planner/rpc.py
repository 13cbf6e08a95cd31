"""The planner's request handlers: thin, one transaction each (opened by the RPC server)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.repository import PhaseRepository, ProgramRepository, ReadinessRepository
from advocacy_planner.service import (
    groups,
    leadership,
    phases,
    plans,
    playbook,
    programs,
    recruitment,
)
from advocacy_shared.contracts.base import Encoded
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
    GET_RECRUITMENT_TARGET,
    LIST_PHASES,
    LIST_PROGRAMS,
    LIST_PROPOSALS,
    LIST_READINESS,
    LIST_TRANSITIONS,
    RETIRE_PLAYBOOK_ROW,
    SET_PHASE,
    SET_TARGET_GROUPS,
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
    GetRecruitmentTarget,
    GraduationCheck,
    LeadershipReport,
    ListPhases,
    ListPrograms,
    ListProposals,
    ListReadiness,
    ListTransitions,
    Phase,
    Phases,
    PhaseTransition,
    Plan,
    Playbook,
    Program,
    ProgramPage,
    ProposalPage,
    ReadinessAssessment,
    ReadinessPage,
    RecruitmentTarget,
    RetirePlaybookRow,
    SetPhase,
    SetTargetGroups,
    TargetGroups,
    TransitionPage,
)
from advocacy_shared.paging import keyset_page
from advocacy_shared.rpc import RpcServer

server = RpcServer("planner")

RECRUITMENT_NOTE = (
    "Targeted recruitment follows the pilot: these proposals are for planning until the pilot "
    "has graduated."
)


@server.reads(GET_PLAYBOOK)
async def get_playbook(session: AsyncSession, request: GetPlaybook) -> Encoded[Playbook]:
    return await playbook.encoded_playbook(session, request.organisation_id, request.version)


@server.handles(ADD_PLAYBOOK_ROW)
async def add_playbook_row(session: AsyncSession, request: AddPlaybookRow) -> Playbook:
    return await playbook.add_playbook_row(
        session, server.outbox, request.organisation_id, request.row
    )


@server.handles(EDIT_PLAYBOOK_ROW)
async def edit_playbook_row(session: AsyncSession, request: EditPlaybookRow) -> Playbook:
    return await playbook.edit_playbook_row(
        session, server.outbox, request.organisation_id, request.key, request.changes
    )


@server.handles(RETIRE_PLAYBOOK_ROW)
async def retire_playbook_row(session: AsyncSession, request: RetirePlaybookRow) -> Playbook:
    return await playbook.retire_playbook_row(
        session, server.outbox, request.organisation_id, request.key
    )


@server.handles(CREATE_PROGRAM)
async def create_program(session: AsyncSession, request: CreateProgram) -> Program:
    return await programs.create_program(
        session, server.outbox, request.organisation_id, request.program
    )


@server.reads(GET_PROGRAM)
async def get_program(session: AsyncSession, request: GetProgram) -> Program:
    return programs.program_view(
        await programs.existing_program(session, request.organisation_id, request.program_id)
    )


@server.reads(LIST_PROGRAMS)
async def list_programs(session: AsyncSession, request: ListPrograms) -> ProgramPage:
    rows = await ProgramRepository(session, request.organisation_id).page(
        request.limit, request.after
    )
    shown, next_after = keyset_page(rows, request.limit, lambda row: row.id)
    return ProgramPage(items=[programs.program_view(row) for row in shown], next_after=next_after)


@server.handles(ASSESS_READINESS)
async def assess_readiness(session: AsyncSession, request: AssessReadiness) -> ReadinessAssessment:
    return await programs.assess_readiness(
        session,
        server.outbox,
        request.organisation_id,
        request.program_id,
        request.assessment,
        request.assessed_by,
    )


@server.reads(LIST_READINESS)
async def list_readiness(session: AsyncSession, request: ListReadiness) -> ReadinessPage:
    await programs.existing_program(session, request.organisation_id, request.program_id)
    rows = await ReadinessRepository(session, request.organisation_id).page(
        request.program_id, request.limit + 1, request.before
    )
    shown, next_before = keyset_page(rows, request.limit, lambda row: row.number)
    return ReadinessPage(
        items=[programs.readiness_view(row) for row in shown], next_before=next_before
    )


@server.reads(GET_PLAN)
async def get_plan(session: AsyncSession, request: GetPlan) -> Plan:
    return await plans.plan(session, request.organisation_id, request.program_id)


@server.reads(LIST_PHASES)
async def list_phases(session: AsyncSession, request: ListPhases) -> Phases:
    return Phases(items=await phases.phases(session, request.organisation_id, request.program_id))


@server.handles(SET_PHASE)
async def set_phase(session: AsyncSession, request: SetPhase) -> Phase:
    return await phases.set_phase(
        session,
        server.outbox,
        request.organisation_id,
        request.program_id,
        request.kind,
        request.phase,
    )


@server.reads(CHECK_GRADUATION)
async def check_graduation(session: AsyncSession, request: CheckGraduation) -> GraduationCheck:
    return await phases.graduation_check(session, request.organisation_id, request.program_id)


@server.handles(ADVANCE_PHASE)
async def advance_phase(session: AsyncSession, request: AdvancePhase) -> PhaseTransition:
    return await phases.advance_phase(session, server.outbox, request)


@server.reads(LIST_TRANSITIONS)
async def list_transitions(session: AsyncSession, request: ListTransitions) -> TransitionPage:
    await programs.existing_program(session, request.organisation_id, request.program_id)
    rows = await PhaseRepository(session, request.organisation_id).transitions(
        request.program_id, request.limit + 1, request.after
    )
    shown, next_after = keyset_page(rows, request.limit, lambda row: row.number)
    return TransitionPage(
        items=[phases.transition_view(row) for row in shown], next_after=next_after
    )


@server.reads(LIST_PROPOSALS)
async def list_proposals(session: AsyncSession, request: ListProposals) -> ProposalPage:
    phase, items, next_after = await recruitment.proposals(
        session, request.organisation_id, request.program_id, request.limit, request.after
    )
    return ProposalPage(
        program_phase=phase,
        note=RECRUITMENT_NOTE if phase == "pilot" else None,
        items=items,
        next_after=next_after,
    )


@server.handles(SET_TARGET_GROUPS)
async def set_target_groups(session: AsyncSession, request: SetTargetGroups) -> TargetGroups:
    return await groups.set_target_groups(session, request)


@server.reads(GET_RECRUITMENT_TARGET)
async def get_recruitment_target(
    session: AsyncSession, request: GetRecruitmentTarget
) -> RecruitmentTarget:
    return await groups.recruitment_target(session, request)


@server.reads(GET_LEADERSHIP_REPORT)
async def get_leadership_report(
    session: AsyncSession, request: GetLeadershipReport
) -> LeadershipReport:
    return await leadership.leadership_report(session, request.organisation_id, request.program_id)
