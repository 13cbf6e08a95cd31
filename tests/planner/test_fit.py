"""The fit check's rules, one test (or more) each, on plain data: no database, no broker."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from advocacy_planner import fit
from advocacy_planner.service.playbook import DEFAULT_MATRIX
from advocacy_shared.contracts.planner import (
    Capacity,
    CostModel,
    Finding,
    PlaybookRow,
    ReadinessFields,
)

TODAY = date(2026, 11, 29)
ROWS = [
    PlaybookRow(id=uuid4(), position=i, **row.model_dump())
    for i, row in enumerate(DEFAULT_MATRIX, start=1)
]
BY_KEY = {row.key: row for row in ROWS}
ALL_OBJECTIVES = [row.challenge for row in ROWS]


def readiness(**changes: Any) -> ReadinessFields:
    """A healthy assessment: every rule quiet; `changes` replaces whole elements."""
    healthy: dict[str, Any] = {
        "purpose": {
            "statement": "More qualified leads and applicants",
            "targets": [{"metric": "qualified leads per month", "target": 20}],
        },
        "buy_in": {
            "stakeholders": [
                {"role": "leadership", "title": "CEO", "approval": "approved"},
                {"role": "hr", "title": "HR director", "approval": "approved"},
            ]
        },
        "culture": {"leadership_openness": 4, "visibility_appetite": 4},
        "practicalities": {"prepare_hours": 20, "launch_hours": 10, "maintain_hours_per_week": 5},
    }
    return ReadinessFields.model_validate({**healthy, **changes})


def facts(
    disciplines: tuple[str, ...] = ("social_selling",),
    fte_share: float = 0.5,
    assessment: ReadinessFields | None = None,
    assessed_at: datetime | None = None,
    objectives: list[str] | None = None,
    cost_model: CostModel | None = None,
) -> fit.FitInput:
    chosen = [BY_KEY[key] for key in disciplines]
    return fit.FitInput(
        program_id=uuid4(),
        playbook_version=1,
        objectives=objectives if objectives is not None else [r.challenge for r in chosen],
        chosen=chosen,
        capacity=Capacity(fte_share=fte_share),
        cost_model=cost_model or CostModel(),
        readiness=assessment if assessment is not None else readiness(),
        assessment_number=1,
        assessed_at=assessed_at or datetime(2026, 11, 1, tzinfo=UTC),
        today=TODAY,
    )


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


def test_a_healthy_program_is_ready_and_explains_itself() -> None:
    plan = fit.plan(facts())
    assert plan.verdict == "ready"
    assert plan.findings == []
    assert [p.key for p in plan.start_with] == ["social_selling"]
    assert any("Capacity: 50 % of one position (18.5 h/week)" in line for line in plan.explanation)
    assert plan.start_with[0].angle_prompts[0] == "Talk about the customer problems you solve"


# --- The article's two examples ------------------------------------------------------------------


def test_article_twenty_percent_of_one_position_must_shrink_the_purpose() -> None:
    plan = fit.plan(
        facts(("social_selling", "thought_leadership", "employer_branding"), fte_share=0.2)
    )
    shrink = [f for f in plan.findings if f.rule == "capacity_shrinks_purpose"]
    assert len(shrink) == 1
    assert shrink[0].severity == "warning"
    assert shrink[0].reason.startswith("With 20 % of one position (7.4 h/week) the purpose must")
    assert [p.key for p in plan.start_with] == ["social_selling", "thought_leadership"]
    assert [d.key for d in plan.deferred] == ["employer_branding"]
    assert plan.verdict == "ready_with_warnings"


def test_the_same_purpose_fits_a_whole_position() -> None:
    plan = fit.plan(
        facts(("social_selling", "thought_leadership", "employer_branding"), fte_share=1.0)
    )
    assert "capacity_shrinks_purpose" not in rules(plan.findings)
    assert len(plan.start_with) == 3


def test_article_closed_control_focused_leadership_is_not_where_cxo_visibility_starts() -> None:
    closed = readiness(culture={"leadership_openness": 2, "visibility_appetite": 4})
    plan = fit.plan(facts(("thought_leadership", "social_selling"), assessment=closed))
    (finding,) = [f for f in plan.findings if f.rule == "closed_leadership_no_cxo_visibility"]
    assert finding.severity == "blocking"
    assert finding.discipline == "thought_leadership"
    assert "not where CxO visibility starts" in finding.reason
    # The discipline is blocked, the program is not: it starts with social selling.
    assert [p.key for p in plan.start_with] == ["social_selling"]
    assert [d.key for d in plan.deferred] == ["thought_leadership"]
    assert plan.verdict == "ready_with_warnings"


def test_article_a_fully_closed_leadership_may_rule_advocacy_out() -> None:
    closed = readiness(culture={"leadership_openness": 1, "visibility_appetite": 3})
    plan = fit.plan(facts(("social_selling",), assessment=closed))
    (finding,) = [f for f in plan.findings if f.rule == "closed_leadership_rules_out_advocacy"]
    assert finding.severity == "blocking"
    assert finding.discipline is None
    assert plan.verdict == "blocked"


def test_missing_leadership_buy_in_blocks_with_what_matters_to_them() -> None:
    pending = readiness(
        buy_in={
            "stakeholders": [
                {
                    "role": "leadership",
                    "title": "CEO",
                    "approval": "pending",
                    "what_matters": "brand risk",
                },
                {"role": "hr", "title": "HR director", "approval": "approved"},
            ]
        }
    )
    plan = fit.plan(facts(assessment=pending))
    (finding,) = [f for f in plan.findings if f.rule == "leadership_buy_in_missing"]
    assert finding.severity == "blocking"
    assert "CEO: pending" in finding.reason
    assert "brand risk" in finding.reason
    assert plan.verdict == "blocked"


def test_missing_hr_buy_in_blocks() -> None:
    no_hr = readiness(
        buy_in={"stakeholders": [{"role": "leadership", "title": "CEO", "approval": "approved"}]}
    )
    plan = fit.plan(facts(assessment=no_hr))
    (finding,) = [f for f in plan.findings if f.rule == "hr_buy_in_missing"]
    assert finding.severity == "blocking"
    assert "no HR stakeholder is named" in finding.reason


def test_another_opposed_stakeholder_is_a_warning() -> None:
    opposed = readiness(
        buy_in={
            "stakeholders": [
                {"role": "leadership", "title": "CEO", "approval": "approved"},
                {"role": "hr", "title": "HR director", "approval": "approved"},
                {"role": "legal", "title": "General counsel", "approval": "opposed"},
            ]
        }
    )
    findings = fit.plan(facts(assessment=opposed)).findings
    assert [(f.rule, f.severity) for f in findings] == [("stakeholder_opposed", "warning")]


def test_no_assessment_blocks() -> None:
    unassessed = fit.FitInput(**{**facts().__dict__, "readiness": None, "assessed_at": None})
    plan = fit.plan(unassessed)
    assert rules(plan.findings) == ["readiness_missing"]
    assert plan.verdict == "blocked"


def test_an_old_assessment_is_stale() -> None:
    old = datetime.combine(TODAY - timedelta(days=200), datetime.min.time(), UTC)
    assert rules(fit.plan(facts(assessed_at=old)).findings) == ["readiness_stale"]


def test_a_purpose_without_measurable_targets_is_a_warning() -> None:
    vague = readiness(purpose={"statement": "Be more visible", "targets": []})
    assert rules(fit.plan(facts(assessment=vague)).findings) == ["purpose_without_targets"]


def test_low_appetite_for_visibility_is_a_warning() -> None:
    shy = readiness(culture={"leadership_openness": 4, "visibility_appetite": 2})
    assert rules(fit.plan(facts(assessment=shy)).findings) == ["low_visibility_appetite"]


def test_an_objective_no_discipline_serves_is_a_warning() -> None:
    plan = fit.plan(facts(("social_selling",), objectives=ALL_OBJECTIVES[:2]))
    (finding,) = plan.findings
    assert finding.rule == "objective_not_served"
    assert "Objective #2 (Awareness & differentiation)" in finding.reason


def test_maintenance_beyond_capacity_and_a_long_launch_are_warnings() -> None:
    heavy = readiness(
        practicalities={"prepare_hours": 200, "launch_hours": 100, "maintain_hours_per_week": 30}
    )
    plan = fit.plan(facts(assessment=heavy, fte_share=0.5))
    assert rules(plan.findings) == ["maintenance_exceeds_capacity", "long_launch"]


def test_capacity_below_any_minimum_pilot_blocks() -> None:
    plan = fit.plan(facts(("thought_leadership",), fte_share=0.05))
    (finding,) = [f for f in plan.findings if f.element == "capacity"]
    assert (finding.rule, finding.severity) == ("capacity_below_minimum", "blocking")
    assert plan.start_with == []
    assert plan.verdict == "blocked"


def test_one_to_one_costs_far_more_than_broad_training() -> None:
    plan = fit.plan(facts(fte_share=0.2))
    carries = plan.carries_per_format
    assert carries["workshop"] > 5 * carries["one_to_one"]
    assert carries["guide"] > carries["workshop"]


def test_the_cost_model_is_configurable() -> None:
    cheap_one_to_one = CostModel.model_validate(
        {"one_to_one": {"onboarding_hours": 0, "weekly_hours": 0.1}}
    )
    default = fit.plan(facts(("thought_leadership",), fte_share=0.2))
    cheap = fit.plan(facts(("thought_leadership",), fte_share=0.2, cost_model=cheap_one_to_one))
    assert cheap.start_with[0].ambassadors > 5 * default.start_with[0].ambassadors


def test_every_rule_is_documented() -> None:
    documented = (Path(__file__).parents[2] / "docs" / "planner.md").read_text(encoding="utf-8")
    names = {rule.__name__ for rule in fit.RULES} | {
        "capacity_shrinks_purpose",
        "capacity_below_minimum",
        "maintenance_exceeds_capacity",
        "long_launch",
        "leadership_buy_in_missing",
        "hr_buy_in_missing",
    }
    names -= {"practicalities_exceed_capacity"}
    assert [name for name in sorted(names) if f"`{name}`" not in documented] == []


def test_a_format_that_costs_nothing_carries_a_bounded_number() -> None:
    free = CostModel.model_validate({"guide": {"onboarding_hours": 0, "weekly_hours": 5e-324}})
    assert fit.plan(facts(cost_model=free)).carries_per_format["guide"] == fit.MAX_CARRIED
    assert fit.carried(0.0, 0.0) == fit.MAX_CARRIED


def test_every_discipline_starts_with_at_least_its_formats_minimum_pilot_cohort() -> None:
    """Issue 12: employer branding and thought leadership at 20 % of one position started
    thought leadership with 2 ambassadors in one-to-one coaching, below its minimum of 3."""
    small = facts(("employer_branding", "thought_leadership"), fte_share=0.2)
    plan = fit.plan(small)
    cost = CostModel()
    assert plan.start_with, plan
    for started in plan.start_with:
        assert started.ambassadors >= cost.min_cohort(started.enablement_format), started
        needed = cost.min_cohort(started.enablement_format) * cost.weekly_cost(
            started.enablement_format
        )
        assert started.weekly_hours >= round(needed, 2) - 0.01
    used = sum(p.weekly_hours for p in plan.start_with)
    assert used <= small.available_hours + 0.01
