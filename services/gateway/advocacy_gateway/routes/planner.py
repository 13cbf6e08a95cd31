"""The planner's resources, forwarded over request-reply: playbook, programs, readiness, the
fit-check plan, phases and their audit trail, targeted recruitment and the leadership track.

Leadership targets and actuals are shown only to callers who may see leadership metrics; for
everyone else they are left out of phases and graduation checks.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway.access import Permission
from advocacy_gateway.auth import Access
from advocacy_gateway.routes import references
from advocacy_gateway.routes.common import COMMON_PROBLEMS, CONFLICT, SERVICE_PROBLEMS, Page
from advocacy_gateway.routes.forward import (
    BY_ID,
    BY_NUMBER,
    NEWEST_FIRST,
    actor,
    delete,
    get,
    mount,
    patch,
    post,
    put,
)
from advocacy_gateway.state import GatewayState
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
    KEY_PATTERN,
    LIST_PHASES,
    LIST_PROGRAMS,
    LIST_PROPOSALS,
    LIST_READINESS,
    LIST_TRANSITIONS,
    RETIRE_PLAYBOOK_ROW,
    SET_PHASE,
    SET_TARGET_GROUPS,
    GraduationCheck,
    Phase,
    PhaseFields,
    PhaseKind,
    Phases,
    PhaseStatus,
    PlaybookRowChanges,
    PlaybookRowInput,
    ProgramFields,
    Proposal,
    ReadinessFields,
    SetPhase,
    TargetEmployee,
    TargetGroup,
    TargetGroupsFields,
)

MANAGE, READ = Permission.PLANNER_MANAGE, Permission.PLANNER_READ

DisciplineKeyPath = Annotated[str, Path(pattern=KEY_PATTERN, description="A discipline's key")]
PlaybookVersion = Annotated[
    int | None, Query(ge=1, le=1_000_000, description="A past version; the latest by default")
]
KEY = {"key": DisciplineKeyPath}
PROGRAM = "/programs/{program_id}"


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: PhaseKind = Field(description="The next phase: only one step at a time")
    override_reason: str | None = Field(
        default=None,
        min_length=10,
        max_length=2000,
        description="Advance although targets are not met; kept in the audit trail",
    )


class Proposals(Page[Proposal]):
    program_phase: PhaseKind
    note: str | None


class RecruitmentTargetPage(Page[TargetEmployee]):
    program_id: UUID
    phase_status: PhaseStatus
    groups: list[TargetGroup]
    total: int = Field(description="Active employees in the targeted groups now")


def _sees_leadership(access: Access | None) -> bool:
    return access is not None and access.principal.may(
        access.organisation.id, Permission.PLANNER_LEADERSHIP_READ
    )


def _phase_for(access: Access | None, phase: Phase) -> Phase:
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


def _visible_phase(phase: Phase, access: Access | None, _state: Any) -> Phase:
    return _phase_for(access, phase)


def _visible_phases(phases: Phases, access: Access | None, _state: Any) -> Page[Phase]:
    return Page(items=[_phase_for(access, p) for p in phases.items], next_cursor=None)


def _visible_check(check: GraduationCheck, access: Access | None, _state: Any) -> GraduationCheck:
    if _sees_leadership(access):
        return check
    return check.model_copy(
        update={"results": [r for r in check.results if r.track != "leadership"]}
    )


async def _known_cohort(request: SetPhase, access: Access, state: GatewayState) -> None:
    await references.check_ambassadors(
        state, access.organisation.id, request.phase.cohort.ambassador_ids, "cohort.ambassador_ids"
    )


# One route a line (or three): a table reads better unformatted.
# fmt: off
ROUTES = [
    # --- Playbook ---
    get("/playbook", GET_PLAYBOOK, Permission.PLAYBOOK_READ, "get_playbook",
        "The organisation's playbook (challenge → enablement format matrix), latest or past",
        params={"version": PlaybookVersion}),
    post("/playbook/rows", ADD_PLAYBOOK_ROW, MANAGE, "add_playbook_row",
         "Add a discipline row: a new playbook version; programs keep theirs",
         body=PlaybookRowInput, body_as="row", status_code=201, responses=CONFLICT),
    patch("/playbook/rows/{key}", EDIT_PLAYBOOK_ROW, MANAGE, "edit_playbook_row",
          "Edit a discipline row (angle prompts, formats, ...): a new playbook version",
          body=PlaybookRowChanges, body_as="changes", params=KEY),
    delete("/playbook/rows/{key}", RETIRE_PLAYBOOK_ROW, MANAGE, "retire_playbook_row",
           "Retire a discipline row: a new playbook version without it",
           params=KEY, responses=CONFLICT),
    # --- Programs ---
    post("/programs", CREATE_PROGRAM, MANAGE, "create_program",
         "Create a program (it starts as a pilot)", body=ProgramFields, body_as="program",
         status_code=201, location="/api/v1/orgs/{org_id}/programs/{reply.id}"),
    get("/programs", LIST_PROGRAMS, READ, "list_programs", "The organisation's programs",
        paging=BY_ID),
    get(PROGRAM, GET_PROGRAM, READ, "get_program", "One program"),
    # --- Readiness and the plan ---
    post(PROGRAM + "/readiness", ASSESS_READINESS, MANAGE, "assess_readiness",
         "Assess the four elements (purpose, buy-in, culture, practicalities), dated",
         body=ReadinessFields, body_as="assessment", status_code=201,
         from_caller={"assessed_by": actor}),
    get(PROGRAM + "/readiness", LIST_READINESS, READ, "list_readiness",
        "The program's readiness assessments, newest first (the history)",
        paging=NEWEST_FIRST),
    get(PROGRAM + "/plan", GET_PLAN, READ, "get_plan",
        "The fit check: where to start, what the capacity carries, findings and why"),
    # --- Phases ---
    get(PROGRAM + "/phases", LIST_PHASES, READ, "list_phases",
        "Pilot → targeted recruitment → organisation-wide: cohorts, targets, review dates",
        present=_visible_phases, response_model=Page[Phase]),
    put(PROGRAM + "/phases/{kind}", SET_PHASE, MANAGE, "set_phase",
        "Set a phase's cohort, targets (at least one number) and review date",
        body=PhaseFields, body_as="phase", params={"kind": PhaseKind}, responses=CONFLICT,
        present=_visible_phase, check=_known_cohort),
    get(PROGRAM + "/graduation", CHECK_GRADUATION, READ, "check_graduation",
        "The graduation check: the current phase's targets against the latest actuals",
        present=_visible_check),
    post(PROGRAM + "/phases/advance", ADVANCE_PHASE, MANAGE, "advance_phase",
         "Advance one phase: targets met, or an override with a reason (audited)",
         body=Advance, status_code=201, responses=CONFLICT, from_caller={"actor": actor}),
    get(PROGRAM + "/phases/transitions", LIST_TRANSITIONS, READ, "list_transitions",
        "The audit trail of phase changes: who, when, targets met or overridden and why",
        paging=BY_NUMBER),
    # --- Recruitment and the leadership track ---
    get(PROGRAM + "/recruitment", LIST_PROPOSALS, MANAGE, "list_proposals",
        "Whom to invite next, each proposal explained (from the HR roster)",
        paging=BY_ID, response_model=Proposals),
    put(PROGRAM + "/phases/targeted_recruitment/groups", SET_TARGET_GROUPS, MANAGE,
        "set_target_groups",
        "Target the targeted-recruitment phase at HR groups (SCIM Group ids or displayNames)",
        body=TargetGroupsFields, responses=CONFLICT),
    get(PROGRAM + "/phases/targeted_recruitment/target", GET_RECRUITMENT_TARGET, MANAGE,
        "get_recruitment_target",
        "The employees the phase targets now: the active members of its HR groups",
        paging=BY_ID, response_model=RecruitmentTargetPage),
    get(PROGRAM + "/leadership", GET_LEADERSHIP_REPORT, Permission.PLANNER_LEADERSHIP_READ,
        "leadership_report",
        "The leadership track: participation target and status, apart from everyone else"),
]
# fmt: on

router = mount(
    APIRouter(
        prefix="/api/v1/orgs/{org_id}",
        tags=["planner"],
        responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS},
    ),
    ROUTES,
)
