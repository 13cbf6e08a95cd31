"""The planner's contracts: playbook, programs, readiness, the fit-check plan, phases, recruitment.

Scales and rules are documented in docs/planner.md; the models here carry their bounds, so a
request the gateway lets through is one the planner can store.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from advocacy_shared.contracts.ambassadors import EnablementFormat, Segment
from advocacy_shared.contracts.base import EventData, Operation, RpcReply, RpcRequest, event
from advocacy_shared.contracts.limits import AnglePrompt, Challenge, Key, LongText, Topic

PhaseKind = Literal["pilot", "targeted_recruitment", "organisation_wide"]
PHASE_ORDER: tuple[PhaseKind, ...] = ("pilot", "targeted_recruitment", "organisation_wide")
"""A program grows in this order, one step at a time."""

DisciplineKey = Key
KEY_PATTERN = r"^[a-z][a-z0-9_]{1,59}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- Playbook ------------------------------------------------------------------------------------


class PlaybookRowFields(_Model):
    """One row of the matrix: a challenge served by a discipline, with whom, what and how."""

    challenge: str = Field(min_length=1, max_length=200)
    discipline: str = Field(min_length=1, max_length=200)
    colleagues: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, max_length=500)
    enablement_format: str = Field(min_length=1, max_length=300, description="In words")
    segments: list[Segment] = Field(
        min_length=1, max_length=4, description="Which colleagues, as ambassador segments"
    )
    formats: list[EnablementFormat] = Field(
        min_length=1,
        max_length=3,
        description="The enablement formats, the main one first: the fit check costs it",
    )
    angle_prompts: list[AnglePrompt] = Field(
        default_factory=list,
        max_length=20,
        description="Prompts for the ambassador's own angle (1 to 300 characters each), e.g. "
        "'talk about the customer problems you solve'",
    )


class PlaybookRowInput(PlaybookRowFields):
    key: DisciplineKey = Field(
        pattern=KEY_PATTERN,
        description="The discipline's stable key, kept across versions (e.g. social_selling)",
    )


class PlaybookRowChanges(_Model):
    """What to change in a row; fields left out keep their value."""

    challenge: str | None = Field(default=None, min_length=1, max_length=200)
    discipline: str | None = Field(default=None, min_length=1, max_length=200)
    colleagues: str | None = Field(default=None, min_length=1, max_length=200)
    content: str | None = Field(default=None, min_length=1, max_length=500)
    enablement_format: str | None = Field(default=None, min_length=1, max_length=300)
    segments: list[Segment] | None = Field(default=None, min_length=1, max_length=4)
    formats: list[EnablementFormat] | None = Field(default=None, min_length=1, max_length=3)
    angle_prompts: list[AnglePrompt] | None = Field(default=None, max_length=20)


DEFAULT_PLAYBOOK: tuple[PlaybookRowInput, ...] = (
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
"""The article's prioritisation matrix: every organisation's playbook starts from it (the
planner seeds version 1 from it; the content service seeds its copy from it too)."""


class PlaybookRow(RpcReply):
    id: UUID
    key: DisciplineKey
    position: int
    challenge: str
    discipline: str
    colleagues: str
    content: str
    enablement_format: str
    segments: list[Segment]
    formats: list[EnablementFormat]
    angle_prompts: list[str]


class GetPlaybook(RpcRequest):
    organisation_id: UUID
    version: int | None = Field(default=None, ge=1, le=1_000_000, description="None: the latest")


class AddPlaybookRow(RpcRequest):
    organisation_id: UUID
    row: PlaybookRowInput


class EditPlaybookRow(RpcRequest):
    organisation_id: UUID
    key: DisciplineKey
    changes: PlaybookRowChanges


class RetirePlaybookRow(RpcRequest):
    organisation_id: UUID
    key: DisciplineKey


class Playbook(RpcReply):
    organisation_id: UUID
    version: int
    latest: bool
    rows: list[PlaybookRow]


@event("planner", "playbook", "revised", 1)
class PlaybookRevised(EventData):
    """A new playbook version; programs planned with an older one keep it."""

    version: int
    change: Literal["added", "edited", "retired"]
    discipline_key: Key
    revised_at: datetime


@event("planner", "discipline", "published", 1)
class DisciplinePublished(EventData):
    """A discipline of the latest playbook as content suggestions read it: whom it is for, the
    challenge it serves and its angle prompts; `retired` when the latest version no longer has it.

    Published for the changed row with every revision (version 1 is `DEFAULT_PLAYBOOK`, which
    consumers seed themselves). A consumer applies it only when `playbook_version` is newer than
    the copy of that discipline it holds.
    """

    playbook_version: int = Field(ge=1)
    key: Key
    challenge: Challenge
    segments: list[Segment] = Field(max_length=4)
    angle_prompts: list[AnglePrompt] = Field(max_length=20)
    retired: bool = False
    published_at: datetime


# --- Programs ------------------------------------------------------------------------------------


class FormatCost(_Model):
    onboarding_hours: float = Field(ge=0, le=200, description="One-off, per ambassador")
    weekly_hours: float = Field(ge=0, le=40, description="Ongoing, per ambassador")


def _min_pilot_cohorts() -> dict[EnablementFormat, int]:
    return {"one_to_one": 3, "workshop": 5, "guide": 5}


class CostModel(_Model):
    """What enabling one ambassador costs the program's owner, per enablement format.

    The defaults are the article's point made explicit: hand-held 1:1 work costs far more per
    ambassador than broad training or a guide. Every program may set its own.
    """

    one_to_one: FormatCost = FormatCost(onboarding_hours=4.0, weekly_hours=0.75)
    workshop: FormatCost = FormatCost(onboarding_hours=1.0, weekly_hours=0.1)
    guide: FormatCost = FormatCost(onboarding_hours=0.25, weekly_hours=0.05)
    overhead_hours_per_week: float = Field(
        default=2.0, ge=0, le=100, description="Coordination, content, reporting"
    )
    ramp_weeks: int = Field(
        default=8, ge=1, le=52, description="Onboarding hours are spread over these weeks"
    )
    hours_per_fte_week: float = Field(default=37.0, gt=0, le=60, description="One position")
    min_pilot_cohort: dict[EnablementFormat, int] = Field(
        default_factory=_min_pilot_cohorts,
        description="The smallest cohort worth a pilot, per format",
    )

    def of(self, enablement_format: EnablementFormat) -> FormatCost:
        cost: FormatCost = getattr(self, enablement_format)
        return cost

    def weekly_cost(self, enablement_format: EnablementFormat) -> float:
        """Hours per week one ambassador costs while the pilot ramps up."""
        cost = self.of(enablement_format)
        return cost.weekly_hours + cost.onboarding_hours / self.ramp_weeks

    def min_cohort(self, enablement_format: EnablementFormat) -> int:
        return max(1, min(self.min_pilot_cohort.get(enablement_format, 5), 10_000))


class Capacity(_Model):
    fte_share: float = Field(gt=0, le=10, description="Share of one position: 0.2 is 20 %")
    hours_per_week: float | None = Field(
        default=None, gt=0, le=400, description="None: the share of one position's week"
    )


class ProgramFields(_Model):
    name: str = Field(min_length=1, max_length=200)
    owner: str = Field(min_length=1, max_length=200, description="Who runs the program")
    objectives: list[Challenge] = Field(
        min_length=1,
        max_length=10,
        description="Challenges from the playbook, highest priority first",
    )
    disciplines: list[DisciplineKey] = Field(
        min_length=1, max_length=10, description="Discipline keys from the playbook"
    )
    capacity: Capacity
    start_date: date
    awareness_topics: list[Topic] = Field(
        default_factory=list,
        max_length=30,
        description="Topics whose awareness must rise: targeted recruitment seeks specialists",
    )
    cost_model: CostModel = Field(default_factory=CostModel)


class CreateProgram(RpcRequest):
    organisation_id: UUID
    program: ProgramFields


class Program(RpcReply):
    id: UUID
    organisation_id: UUID
    name: str
    owner: str
    objectives: list[str]
    disciplines: list[DisciplineKey]
    capacity: Capacity
    start_date: date
    awareness_topics: list[str]
    cost_model: CostModel
    playbook_version: int
    phase: PhaseKind
    created_at: datetime


class GetProgram(RpcRequest):
    organisation_id: UUID
    program_id: UUID


class ListPrograms(RpcRequest):
    organisation_id: UUID
    limit: int = Field(default=50, ge=1, le=200)
    after: UUID | None = None


class ProgramPage(RpcReply):
    items: list[Program]
    next_after: UUID | None


@event("planner", "program", "created", 1)
class ProgramCreated(EventData):
    program_id: UUID
    playbook_version: int
    disciplines: list[Key] = Field(max_length=10)
    fte_share: float
    start_date: date
    created_at: datetime


@event("planner", "program", "objectives_set", 1)
class ProgramObjectivesSet(EventData):
    """A program's objectives (playbook challenges, highest priority first) and disciplines, as
    content suggestions weigh them. Published with `ProgramCreated`."""

    program_id: UUID
    objectives: list[Challenge] = Field(max_length=10)
    disciplines: list[Key] = Field(max_length=10)
    set_at: datetime


# --- Readiness of the four elements --------------------------------------------------------------

Approval = Literal["approved", "pending", "not_asked", "opposed"]
StakeholderRole = Literal["leadership", "hr", "communications", "sales", "legal", "union", "other"]


class PurposeTarget(_Model):
    metric: str = Field(min_length=1, max_length=200, examples=["qualified applicants per month"])
    target: float = Field(ge=0, le=1e12)
    unit: str = Field(default="", max_length=40)
    by: date | None = None


class Purpose(_Model):
    """What the effort must achieve and contribute to, with measurable targets."""

    statement: str = Field(min_length=1, max_length=2000)
    targets: list[PurposeTarget] = Field(default_factory=list, max_length=20)


class Stakeholder(_Model):
    role: StakeholderRole
    title: str = Field(min_length=1, max_length=200, description="A role title, not a name")
    what_matters: str = Field(default="", max_length=1000)
    approval: Approval


class BuyIn(_Model):
    """Who must approve (leadership, HR, ...), what matters to them, and where approval stands."""

    stakeholders: list[Stakeholder] = Field(default_factory=list, max_length=30)


class Culture(_Model):
    """Two scores from 1 to 5 (see docs/planner.md for the anchors of each step)."""

    leadership_openness: int = Field(
        ge=1,
        le=5,
        strict=True,
        description="1: closed and control-focused; 5: leaders post openly themselves",
    )
    visibility_appetite: int = Field(
        ge=1,
        le=5,
        strict=True,
        description="1: colleagues avoid being visible; 5: many already post",
    )
    notes: str = Field(default="", max_length=2000)


class Practicalities(_Model):
    """The owner's hours to prepare, launch and maintain the effort."""

    prepare_hours: float = Field(ge=0, le=10_000)
    launch_hours: float = Field(ge=0, le=10_000)
    maintain_hours_per_week: float = Field(ge=0, le=400)


class ReadinessFields(_Model):
    purpose: Purpose
    buy_in: BuyIn
    culture: Culture
    practicalities: Practicalities


class AssessReadiness(RpcRequest):
    organisation_id: UUID
    program_id: UUID
    assessment: ReadinessFields
    assessed_by: str = Field(min_length=1, max_length=300)


class ReadinessAssessment(RpcReply):
    id: UUID
    program_id: UUID
    number: int = Field(description="1 for the first assessment of the program, then 2, ...")
    purpose: Purpose
    buy_in: BuyIn
    culture: Culture
    practicalities: Practicalities
    assessed_by: str
    assessed_at: datetime


class ListReadiness(RpcRequest):
    organisation_id: UUID
    program_id: UUID
    limit: int = Field(default=50, ge=1, le=200)
    before: int | None = Field(default=None, ge=1, description="Older than this number")


class ReadinessPage(RpcReply):
    items: list[ReadinessAssessment]
    next_before: int | None


@event("planner", "readiness", "assessed", 1)
class ReadinessAssessed(EventData):
    program_id: UUID
    assessment_id: UUID
    number: int
    leadership_openness: int
    visibility_appetite: int
    assessed_at: datetime


# --- The fit check -------------------------------------------------------------------------------

Severity = Literal["warning", "blocking"]
Element = Literal[
    "readiness", "purpose", "buy_in", "culture", "practicalities", "capacity", "objectives"
]


class Finding(RpcReply):
    rule: str = Field(description="The rule's name, as documented")
    severity: Severity
    element: Element
    discipline: DisciplineKey | None = Field(
        description="The discipline it concerns; None: the whole program"
    )
    reason: str


class DisciplinePlan(RpcReply):
    key: DisciplineKey
    discipline: str
    enablement_format: EnablementFormat
    ambassadors: int = Field(description="How many the capacity carries in this format")
    weekly_hours: float
    angle_prompts: list[str]
    reason: str


class DeferredDiscipline(RpcReply):
    key: DisciplineKey
    discipline: str
    reason: str


class CapacityView(RpcReply):
    fte_share: float
    hours_per_week: float
    overhead_hours_per_week: float
    available_hours_per_week: float


class Plan(RpcReply):
    program_id: UUID
    playbook_version: int
    assessment_number: int | None
    verdict: Literal["ready", "ready_with_warnings", "blocked"]
    start_with: list[DisciplinePlan]
    deferred: list[DeferredDiscipline]
    capacity: CapacityView
    carries_per_format: dict[str, int] = Field(
        description="Ambassadors the whole available capacity would carry in each format alone"
    )
    findings: list[Finding]
    explanation: list[str]
    cost_model: CostModel


class GetPlan(RpcRequest):
    organisation_id: UUID
    program_id: UUID


# --- Phases --------------------------------------------------------------------------------------


class PhaseTargets(_Model):
    """What the phase must reach to graduate; at least one number. Rates are fractions."""

    active_rate: float | None = Field(default=None, ge=0, le=1)
    posts_per_ambassador_per_week: float | None = Field(default=None, ge=0, le=50)
    reach: int | None = Field(default=None, ge=0, le=10**12)
    engagement_rate: float | None = Field(default=None, ge=0, le=1)
    leadership_participation: float | None = Field(
        default=None, ge=0, le=1, description="The leadership track, reported apart"
    )

    @model_validator(mode="after")
    def _at_least_one_number(self) -> PhaseTargets:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError("targets need at least one number")
        return self


class Cohort(_Model):
    ambassador_ids: list[UUID] = Field(default_factory=list, max_length=10_000)
    criteria: str = Field(default="", max_length=2000, description="Why these colleagues")


class PhaseFields(_Model):
    cohort: Cohort = Field(default_factory=Cohort)
    targets: PhaseTargets
    review_date: date


class SetPhase(RpcRequest):
    organisation_id: UUID
    program_id: UUID
    kind: PhaseKind
    phase: PhaseFields


PhaseStatus = Literal["planned", "active", "graduated"]


class Phase(RpcReply):
    kind: PhaseKind
    status: PhaseStatus
    cohort: Cohort
    targets: PhaseTargets | None
    review_date: date | None
    started_at: datetime | None
    graduated_at: datetime | None
    target_group_ids: list[UUID] = Field(
        default_factory=list, description="HR groups the phase recruits from (targeted recruitment)"
    )


class ListPhases(RpcRequest):
    organisation_id: UUID
    program_id: UUID


class Phases(RpcReply):
    items: list[Phase]


Track = Literal["everyone", "leadership"]


class TargetResult(RpcReply):
    metric: str
    track: Track
    target: float
    actual: float | None
    met: bool
    reason: str


class ActualsView(RpcReply):
    period_start: date
    period_end: date
    cohort_size: int
    measured_at: datetime


class GraduationCheck(RpcReply):
    program_id: UUID
    phase: PhaseKind
    next_phase: PhaseKind | None
    met: bool
    results: list[TargetResult]
    unmet: list[str] = Field(description="Why it may not graduate yet, one reason per line")
    actuals: ActualsView | None
    review_date: date | None


class CheckGraduation(RpcRequest):
    organisation_id: UUID
    program_id: UUID


class AdvancePhase(RpcRequest):
    organisation_id: UUID
    program_id: UUID
    to: PhaseKind
    override_reason: str | None = Field(default=None, min_length=10, max_length=2000)
    actor: str = Field(min_length=1, max_length=300)


class PhaseTransition(RpcReply):
    id: UUID
    program_id: UUID
    number: int
    from_phase: PhaseKind
    to_phase: PhaseKind
    decided_by: Literal["targets_met", "override"]
    override_reason: str | None
    unmet: list[str] = Field(description="The targets not met when an override advanced it")
    actor: str
    at: datetime


class ListTransitions(RpcRequest):
    organisation_id: UUID
    program_id: UUID
    limit: int = Field(default=50, ge=1, le=200)
    after: int | None = Field(default=None, ge=0)


class TransitionPage(RpcReply):
    items: list[PhaseTransition]
    next_after: int | None


@event("planner", "phase", "targets_set", 1)
class PhaseTargetsSet(EventData):
    program_id: UUID
    phase: PhaseKind
    cohort_size: int
    targets: PhaseTargets
    review_date: date


@event("planner", "phase", "advanced", 1)
class PhaseAdvanced(EventData):
    """A program moved on; `decided_by` says whether its targets were met or overridden."""

    program_id: UUID
    from_phase: PhaseKind
    to_phase: PhaseKind
    decided_by: Literal["targets_met", "override"]
    override_reason: LongText | None
    advanced_at: datetime


# --- Targeted recruitment and the leadership track -----------------------------------------------


class Proposal(RpcReply):
    employee_id: UUID
    external_id: str | None
    department: str | None
    job_family: str | None
    leadership: bool
    topics: list[str]
    disciplines: list[DisciplineKey]
    reasons: list[str]


class ListProposals(RpcRequest):
    organisation_id: UUID
    program_id: UUID
    limit: int = Field(default=50, ge=1, le=200)
    after: UUID | None = None


class ProposalPage(RpcReply):
    program_phase: PhaseKind
    note: str | None
    items: list[Proposal]
    next_after: UUID | None


MAX_TARGET_GROUPS = 50
GroupReference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(description="A SCIM group's id, or its displayName (without regard to case)"),
]


class TargetGroupsFields(_Model):
    """The HR groups (SCIM Groups) whose members targeted recruitment recruits from: "everyone in
    Sales". Names are resolved to the groups' ids when set; an empty list targets no group."""

    groups: list[GroupReference] = Field(max_length=MAX_TARGET_GROUPS)


class SetTargetGroups(RpcRequest):
    organisation_id: UUID
    program_id: UUID
    groups: list[GroupReference] = Field(max_length=MAX_TARGET_GROUPS)


class TargetGroup(RpcReply):
    group_id: UUID
    display_name: str
    external_id: str | None
    deleted: bool = Field(description="The group was deleted in HR: it no longer adds anyone")
    members: int = Field(description="Active employees in the group now")


class TargetGroups(RpcReply):
    program_id: UUID
    phase_status: PhaseStatus
    groups: list[TargetGroup]


TargetStatus = Literal["not_asked", "invited", "declined", "enrolled", "left_program"]


class TargetEmployee(RpcReply):
    employee_id: UUID
    external_id: str | None
    department: str | None
    job_family: str | None
    group_ids: list[UUID] = Field(description="The targeted groups the employee is in")
    status: TargetStatus = Field(description="Whether the program has asked them yet")


class GetRecruitmentTarget(RpcRequest):
    organisation_id: UUID
    program_id: UUID
    limit: int = Field(default=50, ge=1, le=200)
    after: UUID | None = None


class RecruitmentTarget(RpcReply):
    """The employees targeted recruitment aims at now: the active members of its groups, as the
    HR system's group facts have arrived."""

    program_id: UUID
    phase_status: PhaseStatus
    groups: list[TargetGroup]
    total: int
    items: list[TargetEmployee]
    next_after: UUID | None


class GetLeadershipReport(RpcRequest):
    organisation_id: UUID
    program_id: UUID


class LeadershipReport(RpcReply):
    program_id: UUID
    phase: PhaseKind
    target: float | None
    actual: float | None
    met: bool | None
    leaders_enrolled: int
    leaders_on_roster_not_enrolled: int
    summary: str


GET_PLAYBOOK: Operation[GetPlaybook, Playbook] = Operation(
    "planner", "playbook.get", GetPlaybook, Playbook
)
ADD_PLAYBOOK_ROW: Operation[AddPlaybookRow, Playbook] = Operation(
    "planner", "playbook.row.add", AddPlaybookRow, Playbook
)
EDIT_PLAYBOOK_ROW: Operation[EditPlaybookRow, Playbook] = Operation(
    "planner", "playbook.row.edit", EditPlaybookRow, Playbook
)
RETIRE_PLAYBOOK_ROW: Operation[RetirePlaybookRow, Playbook] = Operation(
    "planner", "playbook.row.retire", RetirePlaybookRow, Playbook
)
CREATE_PROGRAM: Operation[CreateProgram, Program] = Operation(
    "planner", "program.create", CreateProgram, Program
)
GET_PROGRAM: Operation[GetProgram, Program] = Operation(
    "planner", "program.get", GetProgram, Program
)
LIST_PROGRAMS: Operation[ListPrograms, ProgramPage] = Operation(
    "planner", "program.list", ListPrograms, ProgramPage
)
ASSESS_READINESS: Operation[AssessReadiness, ReadinessAssessment] = Operation(
    "planner", "readiness.assess", AssessReadiness, ReadinessAssessment
)
LIST_READINESS: Operation[ListReadiness, ReadinessPage] = Operation(
    "planner", "readiness.list", ListReadiness, ReadinessPage
)
GET_PLAN: Operation[GetPlan, Plan] = Operation("planner", "plan.get", GetPlan, Plan)
SET_PHASE: Operation[SetPhase, Phase] = Operation("planner", "phase.set", SetPhase, Phase)
LIST_PHASES: Operation[ListPhases, Phases] = Operation("planner", "phase.list", ListPhases, Phases)
CHECK_GRADUATION: Operation[CheckGraduation, GraduationCheck] = Operation(
    "planner", "phase.graduation", CheckGraduation, GraduationCheck
)
ADVANCE_PHASE: Operation[AdvancePhase, PhaseTransition] = Operation(
    "planner", "phase.advance", AdvancePhase, PhaseTransition
)
LIST_TRANSITIONS: Operation[ListTransitions, TransitionPage] = Operation(
    "planner", "phase.transitions", ListTransitions, TransitionPage
)
LIST_PROPOSALS: Operation[ListProposals, ProposalPage] = Operation(
    "planner", "recruitment.proposals", ListProposals, ProposalPage
)
SET_TARGET_GROUPS: Operation[SetTargetGroups, TargetGroups] = Operation(
    "planner", "recruitment.groups.set", SetTargetGroups, TargetGroups
)
GET_RECRUITMENT_TARGET: Operation[GetRecruitmentTarget, RecruitmentTarget] = Operation(
    "planner", "recruitment.target", GetRecruitmentTarget, RecruitmentTarget
)
GET_LEADERSHIP_REPORT: Operation[GetLeadershipReport, LeadershipReport] = Operation(
    "planner", "leadership.report", GetLeadershipReport, LeadershipReport
)
