"""The fit check: objectives + readiness of the four elements + capacity → a recommended plan.

Pure functions, no database: each rule looks at the facts and returns its findings, each a
warning or blocking, each with its reason. `RULES` is the documented list (docs/planner.md); the
plan then allocates the capacity to the disciplines that remain, in priority order, with the
program's cost model, and explains every step in words.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from advocacy_shared.contracts.ambassadors import EnablementFormat
from advocacy_shared.contracts.planner import (
    Capacity,
    CapacityView,
    CostModel,
    DeferredDiscipline,
    DisciplinePlan,
    Finding,
    Plan,
    PlaybookRow,
    ReadinessFields,
    StakeholderRole,
)

STALE_AFTER = timedelta(days=180)
LONG_LAUNCH_WEEKS = 8
CLOSED_LEADERSHIP = 2
"""Leadership openness at or below this is closed and control-focused (see the scale)."""
LOW_VISIBILITY_APPETITE = 2

FORMAT_WORDS: dict[EnablementFormat, str] = {
    "one_to_one": "hand-held 1:1",
    "workshop": "broad training (workshop)",
    "guide": "a guide",
}


@dataclass(frozen=True)
class FitInput:
    """Everything the fit check reads, already loaded."""

    program_id: UUID
    playbook_version: int
    objectives: list[str]
    chosen: list[PlaybookRow]
    capacity: Capacity
    cost_model: CostModel
    readiness: ReadinessFields | None
    assessment_number: int | None
    assessed_at: datetime | None
    today: date

    @property
    def hours_per_week(self) -> float:
        if self.capacity.hours_per_week is not None:
            return self.capacity.hours_per_week
        return self.capacity.fte_share * self.cost_model.hours_per_fte_week

    @property
    def available_hours(self) -> float:
        """What is left for enabling ambassadors once the program's overhead is paid."""
        return max(0.0, self.hours_per_week - self.cost_model.overhead_hours_per_week)

    def by_priority(self) -> list[PlaybookRow]:
        """Chosen disciplines ordered by the rank of the objective (challenge) they serve."""

        def rank(row: PlaybookRow) -> int:
            return (
                self.objectives.index(row.challenge)
                if row.challenge in self.objectives
                else len(self.objectives)
            )

        return sorted(self.chosen, key=rank)

    def min_pilot_hours(self, row: PlaybookRow) -> float:
        main = row.formats[0]
        return self.cost_model.min_cohort(main) * self.cost_model.weekly_cost(main)


def _finding(
    rule: str, severity: str, element: str, reason: str, discipline: str | None = None
) -> Finding:
    return Finding.model_validate(
        {
            "rule": rule,
            "severity": severity,
            "element": element,
            "discipline": discipline,
            "reason": reason,
        }
    )


# --- The rules -----------------------------------------------------------------------------------


def readiness_missing(facts: FitInput) -> list[Finding]:
    if facts.readiness is not None:
        return []
    return [
        _finding(
            "readiness_missing",
            "blocking",
            "readiness",
            "The four elements (purpose, buy-in, culture, practicalities) have not been assessed: "
            "assess them before launching.",
        )
    ]


def readiness_stale(facts: FitInput) -> list[Finding]:
    if facts.assessed_at is None or facts.today - facts.assessed_at.date() <= STALE_AFTER:
        return []
    return [
        _finding(
            "readiness_stale",
            "warning",
            "readiness",
            f"The latest assessment is from {facts.assessed_at.date().isoformat()}, more than "
            f"{STALE_AFTER.days} days ago: buy-in and culture may have moved; assess again.",
        )
    ]


def purpose_without_targets(facts: FitInput) -> list[Finding]:
    if facts.readiness is None or facts.readiness.purpose.targets:
        return []
    return [
        _finding(
            "purpose_without_targets",
            "warning",
            "purpose",
            "The purpose has no measurable target: without one, no phase can show it worked.",
        )
    ]


def _approval_missing(facts: FitInput, role: StakeholderRole, who: str) -> list[Finding]:
    if facts.readiness is None:
        return []
    stakeholders = [s for s in facts.readiness.buy_in.stakeholders if s.role == role]
    if any(s.approval == "approved" for s in stakeholders):
        return []
    if not stakeholders:
        state = f"no {who} stakeholder is named"
    else:
        state = ", ".join(f"{s.title}: {s.approval.replace('_', ' ')}" for s in stakeholders)
        matters = "; ".join(s.what_matters for s in stakeholders if s.what_matters)
        if matters:
            state += f" (what matters to them: {matters})"
    return [
        _finding(
            f"{role}_buy_in_missing",
            "blocking",
            "buy_in",
            f"{who.capitalize()} has not approved the effort ({state}): without their buy-in "
            "the program will not last.",
        )
    ]


def leadership_buy_in_missing(facts: FitInput) -> list[Finding]:
    return _approval_missing(facts, "leadership", "leadership")


def hr_buy_in_missing(facts: FitInput) -> list[Finding]:
    return _approval_missing(facts, "hr", "HR")


def stakeholder_opposed(facts: FitInput) -> list[Finding]:
    if facts.readiness is None:
        return []
    return [
        _finding(
            "stakeholder_opposed",
            "warning",
            "buy_in",
            f"{s.title} ({s.role}) opposes the effort"
            + (f"; what matters to them: {s.what_matters}" if s.what_matters else "")
            + ": address it before the pilot.",
        )
        for s in facts.readiness.buy_in.stakeholders
        if s.approval == "opposed" and s.role not in ("leadership", "hr")
    ]


def closed_leadership_rules_out_advocacy(facts: FitInput) -> list[Finding]:
    if facts.readiness is None or facts.readiness.culture.leadership_openness > 1:
        return []
    return [
        _finding(
            "closed_leadership_rules_out_advocacy",
            "blocking",
            "culture",
            "Leadership is closed and control-focused (openness 1 of 5): colleagues will not feel "
            "safe speaking in their own voice; advocacy may not be for this organisation now.",
        )
    ]


def closed_leadership_no_cxo_visibility(facts: FitInput) -> list[Finding]:
    if facts.readiness is None or facts.readiness.culture.leadership_openness > CLOSED_LEADERSHIP:
        return []
    openness = facts.readiness.culture.leadership_openness
    return [
        _finding(
            "closed_leadership_no_cxo_visibility",
            "blocking",
            "culture",
            f"{row.discipline} relies on leaders being visible, but leadership is closed and "
            f"control-focused (openness {openness} of 5): this is not where CxO visibility "
            "starts.",
            discipline=row.key,
        )
        for row in facts.chosen
        if "leadership" in row.segments
    ]


def low_visibility_appetite(facts: FitInput) -> list[Finding]:
    if (
        facts.readiness is None
        or facts.readiness.culture.visibility_appetite > LOW_VISIBILITY_APPETITE
    ):
        return []
    return [
        _finding(
            "low_visibility_appetite",
            "warning",
            "culture",
            f"Colleagues' appetite for visibility is low "
            f"({facts.readiness.culture.visibility_appetite} of 5): recruit volunteers for the "
            "pilot and let them show it is safe before asking more.",
        )
    ]


def objective_not_served(facts: FitInput) -> list[Finding]:
    served = {row.challenge for row in facts.chosen}
    return [
        _finding(
            "objective_not_served",
            "warning",
            "objectives",
            f"Objective #{rank} ({challenge}) is served by none of the chosen disciplines.",
        )
        for rank, challenge in enumerate(facts.objectives, start=1)
        if challenge not in served
    ]


def practicalities_exceed_capacity(facts: FitInput) -> list[Finding]:
    if facts.readiness is None:
        return []
    found = []
    practical = facts.readiness.practicalities
    if practical.maintain_hours_per_week > facts.hours_per_week:
        found.append(
            _finding(
                "maintenance_exceeds_capacity",
                "warning",
                "practicalities",
                f"Maintaining the effort needs {practical.maintain_hours_per_week:g} h/week but "
                f"the capacity is {facts.hours_per_week:.1f} h/week.",
            )
        )
    launch_hours = practical.prepare_hours + practical.launch_hours
    weeks = launch_hours / max(facts.hours_per_week, 0.01)
    if weeks > LONG_LAUNCH_WEEKS:
        found.append(
            _finding(
                "long_launch",
                "warning",
                "practicalities",
                f"Preparing and launching takes {launch_hours:g} h, about {math.ceil(weeks)} "
                "weeks at this capacity before the pilot starts.",
            )
        )
    return found


Rule = Callable[[FitInput], list[Finding]]

RULES: tuple[Rule, ...] = (
    readiness_missing,
    readiness_stale,
    purpose_without_targets,
    leadership_buy_in_missing,
    hr_buy_in_missing,
    stakeholder_opposed,
    closed_leadership_rules_out_advocacy,
    closed_leadership_no_cxo_visibility,
    low_visibility_appetite,
    objective_not_served,
    practicalities_exceed_capacity,
)
"""The readiness rules; the capacity rules come from the allocation itself (see `allocate`)."""


# --- Capacity allocation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    start_with: list[DisciplinePlan]
    deferred: list[DeferredDiscipline]
    findings: list[Finding]


def allocate(facts: FitInput, blocked: set[str]) -> Allocation:
    """Fit the disciplines, in priority order, into the capacity; defer what does not fit.

    A discipline fits when its minimum pilot cohort in its main format fits in the hours the
    disciplines before it left. Each that fits gets its minimum pilot's hours, the hours left
    over are shared evenly among them, and each share carries as many ambassadors as its
    format's weekly cost allows: never fewer than the format's minimum pilot cohort.
    """
    fitting: list[PlaybookRow] = []
    deferred: list[DeferredDiscipline] = []
    used = 0.0
    for row in facts.by_priority():
        if row.key in blocked:
            deferred.append(
                DeferredDiscipline(
                    key=row.key,
                    discipline=row.discipline,
                    reason="Blocked by a finding of the fit check (see findings).",
                )
            )
            continue
        needed = facts.min_pilot_hours(row)
        if used + needed <= facts.available_hours:
            fitting.append(row)
            used += needed
        else:
            deferred.append(
                DeferredDiscipline(
                    key=row.key,
                    discipline=row.discipline,
                    reason=f"Its minimum pilot needs {needed:.1f} h/week; only "
                    f"{facts.available_hours - used:.1f} h/week are left after the disciplines "
                    "ranked before it.",
                )
            )
    return Allocation(
        start_with=_share_out(facts, fitting),
        deferred=deferred,
        findings=_capacity_findings(facts, fitting, deferred, blocked),
    )


MAX_CARRIED = 1_000_000
"""A bound for formats that cost (next to) nothing: the count says 'no limit from capacity'."""


def carried(hours: float, cost_per_ambassador: float) -> int:
    """How many ambassadors `hours` per week carry at a weekly cost each."""
    if cost_per_ambassador * MAX_CARRIED <= hours:
        return MAX_CARRIED
    return math.floor(hours / cost_per_ambassador)


def _share_out(facts: FitInput, fitting: list[PlaybookRow]) -> list[DisciplinePlan]:
    if not fitting:
        return []
    spare = facts.available_hours - sum(facts.min_pilot_hours(row) for row in fitting)
    plans = []
    for rank, row in enumerate(fitting, start=1):
        main = row.formats[0]
        cost = facts.cost_model.weekly_cost(main)
        share = facts.min_pilot_hours(row) + max(0.0, spare) / len(fitting)
        ambassadors = max(carried(share, cost), facts.cost_model.min_cohort(main))
        plans.append(
            DisciplinePlan(
                key=row.key,
                discipline=row.discipline,
                enablement_format=main,
                ambassadors=ambassadors,
                weekly_hours=round(ambassadors * cost, 2),
                angle_prompts=row.angle_prompts,
                reason=f"Priority {rank} of those that fit ({row.challenge}); "
                f"{share:.1f} h/week at {cost:.2f} h per ambassador in "
                f"{FORMAT_WORDS[main]} carries {ambassadors}.",
            )
        )
    return plans


def _capacity_findings(
    facts: FitInput,
    fitting: list[PlaybookRow],
    deferred: list[DeferredDiscipline],
    blocked: set[str],
) -> list[Finding]:
    short = [d for d in deferred if d.key not in blocked]
    if not short:
        return []
    if not fitting:
        cheapest = min(facts.min_pilot_hours(row) for row in facts.chosen)
        return [
            _finding(
                "capacity_below_minimum",
                "blocking",
                "capacity",
                f"{_capacity_words(facts)} leaves {facts.available_hours:.1f} h/week after "
                f"overhead; even the cheapest minimum pilot needs {cheapest:.1f} h/week. "
                "Add capacity or lower the overhead.",
            )
        ]
    return [
        _finding(
            "capacity_shrinks_purpose",
            "warning",
            "capacity",
            f"With {_capacity_words(facts)} the purpose must shrink: start with "
            f"{', '.join(row.discipline for row in fitting)}; "
            f"{', '.join(d.discipline for d in short)} must wait for more capacity or a later "
            "phase.",
        )
    ]


def _capacity_words(facts: FitInput) -> str:
    return (
        f"{facts.capacity.fte_share * 100:g} % of one position ({facts.hours_per_week:.1f} h/week)"
    )


# --- The plan ------------------------------------------------------------------------------------


def plan(facts: FitInput) -> Plan:
    findings = [finding for rule in RULES for finding in rule(facts)]
    blocked = {f.discipline for f in findings if f.severity == "blocking" and f.discipline}
    allocation = allocate(facts, blocked)
    findings += allocation.findings
    verdict = _verdict(findings, allocation)
    carries = {
        fmt: carried(facts.available_hours, facts.cost_model.weekly_cost(fmt))
        for fmt in FORMAT_WORDS
    }
    return Plan.model_validate(
        {
            "program_id": facts.program_id,
            "playbook_version": facts.playbook_version,
            "assessment_number": facts.assessment_number,
            "verdict": verdict,
            "start_with": allocation.start_with,
            "deferred": allocation.deferred,
            "capacity": CapacityView(
                fte_share=facts.capacity.fte_share,
                hours_per_week=round(facts.hours_per_week, 2),
                overhead_hours_per_week=facts.cost_model.overhead_hours_per_week,
                available_hours_per_week=round(facts.available_hours, 2),
            ),
            "carries_per_format": carries,
            "findings": findings,
            "explanation": _explain(facts, allocation, findings, verdict),
            "cost_model": facts.cost_model,
        }
    )


def _verdict(findings: list[Finding], allocation: Allocation) -> str:
    program_blocked = any(f.severity == "blocking" and f.discipline is None for f in findings)
    if program_blocked or not allocation.start_with:
        return "blocked"
    return "ready_with_warnings" if findings else "ready"


def _explain(
    facts: FitInput, allocation: Allocation, findings: list[Finding], verdict: str
) -> list[str]:
    model = facts.cost_model
    costs = ", ".join(
        f"{model.weekly_cost(fmt):.2f} h/week in {words}" for fmt, words in FORMAT_WORDS.items()
    )
    lines = [
        "Objectives in priority order: "
        + "; ".join(f"{i}. {o}" for i, o in enumerate(facts.objectives, start=1))
        + ".",
        f"Capacity: {_capacity_words(facts)}; {model.overhead_hours_per_week:g} h/week of "
        f"overhead leaves {facts.available_hours:.1f} h/week for enabling ambassadors.",
        f"Cost model: one ambassador costs {costs} (onboarding spread over "
        f"{model.ramp_weeks} weeks).",
        "Readiness: "
        + (
            f"assessment #{facts.assessment_number} of {facts.assessed_at.date().isoformat()}."
            if facts.assessed_at is not None
            else "not assessed yet."
        ),
    ]
    lines += [f"Start with {p.discipline}: {p.reason}" for p in allocation.start_with]
    lines += [f"Not yet {d.discipline}: {d.reason}" for d in allocation.deferred]
    blocking = sum(1 for f in findings if f.severity == "blocking")
    lines.append(
        f"Verdict {verdict.replace('_', ' ')}: {blocking} blocking finding(s), "
        f"{len(findings) - blocking} warning(s)."
    )
    return lines
