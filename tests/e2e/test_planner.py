"""The planner through the gateway, on a real NATS and real databases: a program is created, its
readiness assessed, its plan explained; the pilot's targets are set, actuals arrive from the
metrics service as events, and the pilot graduates, or is refused with reasons and then advanced
by an override that the audit trail keeps. Roster events feed targeted recruitment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from nats.aio.client import Client as NatsClient

from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
)
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.invitations import InvitationDeclined, InvitationIssued
from advocacy_shared.contracts.metrics import CohortActualsMeasured
from advocacy_shared.contracts.planner import (
    PhaseAdvanced,
    ProgramCreated,
    ProgramObjectivesSet,
    ReadinessAssessed,
)
from advocacy_shared.contracts.roster import EmployeeJoinedRoster, EmployeeLeftRoster
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.topology import Topology
from tests.actors import bearer, new_key
from tests.conftest import Platform
from tests.e2e.test_ambassadors import invite
from tests.e2e.test_skeleton import create_organisation, playbook_when_ready
from tests.shared.helpers import eventually, read_all

PROGRAM: dict[str, Any] = {
    "name": "LinkedIn pilot 2027",
    "owner": "Head of communications",
    "objectives": ["Sales & lead generation", "Awareness & differentiation"],
    "disciplines": ["social_selling", "thought_leadership"],
    "capacity": {"fte_share": 0.5},
    "start_date": "2027-01-04",
    "awareness_topics": ["Cloud security"],
}
READINESS: dict[str, Any] = {
    "purpose": {
        "statement": "More qualified leads from our specialists' network",
        "targets": [{"metric": "qualified leads per month", "target": 20, "unit": "leads"}],
    },
    "buy_in": {
        "stakeholders": [
            {
                "role": "leadership",
                "title": "CEO",
                "what_matters": "brand safety",
                "approval": "approved",
            },
            {"role": "hr", "title": "HR director", "approval": "approved"},
        ]
    },
    "culture": {"leadership_openness": 4, "visibility_appetite": 4},
    "practicalities": {"prepare_hours": 20, "launch_hours": 10, "maintain_hours_per_week": 6},
}
PILOT: dict[str, Any] = {
    "cohort": {"ambassador_ids": [str(uuid4()) for _ in range(5)], "criteria": "Volunteers"},
    "targets": {
        "active_rate": 0.6,
        "posts_per_ambassador_per_week": 1.0,
        "leadership_participation": 0.5,
    },
    "review_date": "2027-03-31",
}


async def new_program(platform: Platform, **changes: Any) -> tuple[str, dict[str, Any]]:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    assert (await playbook_when_ready(platform, org)).status_code == 200
    created = await platform.http.post(
        f"/api/v1/orgs/{org}/programs", json={**PROGRAM, **changes}, headers=platform.auth
    )
    assert created.status_code == 201, created.text
    program: dict[str, Any] = created.json()
    return org, program


async def pilot(platform: Platform, org: str) -> dict[str, Any]:
    """The pilot phase with a cohort of five invited ambassadors (cohorts name real ones)."""
    cohort = [
        (await invite(platform, org, f"pilot{n}-{uuid4().hex[:6]}@acme.test"))["id"]
        for n in range(5)
    ]
    return {**PILOT, "cohort": {**PILOT["cohort"], "ambassador_ids": cohort}}


async def publish(platform: Platform, service: str, org: str, *facts: EventData) -> None:
    """Publish events as `service` does: through its outbox, in one transaction."""
    runtime = platform.runtimes[service]
    async with runtime.transaction() as session:
        for fact in facts:
            await runtime.outbox.add(session, fact, organisation_id=org)


def actuals(program_id: str, **values: Any) -> CohortActualsMeasured:
    return CohortActualsMeasured.model_validate(
        {
            "program_id": program_id,
            "phase": "pilot",
            "period_start": date(2027, 2, 1),
            "period_end": date(2027, 2, 28),
            "cohort_size": 5,
            "active_rate": 0.8,
            "posts_per_ambassador_per_week": 1.4,
            "reach": 42_000,
            "engagement_rate": 0.03,
            "leadership_participation": 0.5,
            "measured_at": datetime(2027, 3, 1, tzinfo=UTC),
            **values,
        }
    )


async def graduation_once_measured(platform: Platform, base: str) -> dict[str, Any]:
    check: dict[str, Any] = {}

    async def measured() -> bool:
        response = await platform.http.get(f"{base}/graduation", headers=platform.auth)
        check.update(response.json())
        return check.get("actuals") is not None

    await eventually(measured)
    return check


async def planner_events(nats_client: NatsClient, topology: Topology) -> list[CloudEvent]:
    messages = await read_all(
        nats_client.jetstream(), topology.stream_name("planner"), f"{topology.namespace}.>"
    )
    return [CloudEvent.from_bytes(m.data) for m in messages]


async def test_a_pilot_is_planned_measured_and_graduates(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org, program = await new_program(platform)
    base = f"/api/v1/orgs/{org}/programs/{program['id']}"
    assert program["phase"] == "pilot"
    assert program["playbook_version"] == 1

    assessed = await platform.http.post(f"{base}/readiness", json=READINESS, headers=platform.auth)
    assert assessed.status_code == 201, assessed.text
    assert assessed.json()["number"] == 1

    plan = (await platform.http.get(f"{base}/plan", headers=platform.auth)).json()
    assert plan["verdict"] == "ready", plan
    assert [p["key"] for p in plan["start_with"]] == ["social_selling", "thought_leadership"]
    assert plan["start_with"][1]["enablement_format"] == "one_to_one"
    assert plan["carries_per_format"]["workshop"] > plan["carries_per_format"]["one_to_one"]
    assert plan["explanation"][0].startswith("Objectives in priority order: 1. Sales")

    targets = await platform.http.put(
        f"{base}/phases/pilot", json=await pilot(platform, org), headers=platform.auth
    )
    assert targets.status_code == 200, targets.text
    assert targets.json()["targets"]["active_rate"] == 0.6

    before = (await platform.http.get(f"{base}/graduation", headers=platform.auth)).json()
    assert before["met"] is False
    assert "no actuals have been measured for the pilot phase yet" in before["unmet"]

    await publish(platform, "metrics", org, actuals(program["id"]))
    check = await graduation_once_measured(platform, base)
    assert check["met"] is True, check
    assert {r["metric"]: r["met"] for r in check["results"]} == {
        "active_rate": True,
        "posts_per_ambassador_per_week": True,
        "leadership_participation": True,
    }

    advanced = await platform.http.post(
        f"{base}/phases/advance", json={"to": "targeted_recruitment"}, headers=platform.auth
    )
    assert advanced.status_code == 201, advanced.text
    assert advanced.json()["decided_by"] == "targets_met"
    phases = (await platform.http.get(f"{base}/phases", headers=platform.auth)).json()["items"]
    assert [(p["kind"], p["status"]) for p in phases] == [
        ("pilot", "graduated"),
        ("targeted_recruitment", "active"),
        ("organisation_wide", "planned"),
    ]
    program_now = (await platform.http.get(base, headers=platform.auth)).json()
    assert program_now["phase"] == "targeted_recruitment"

    async def all_published() -> bool:
        kinds = [e.type for e in await planner_events(nats_client, topology)]
        return PhaseAdvanced.spec.type in kinds

    await eventually(all_published)
    kinds = [e.type for e in await planner_events(nats_client, topology)]
    assert kinds[:3] == [
        ProgramCreated.spec.type,
        ProgramObjectivesSet.spec.type,
        ReadinessAssessed.spec.type,
    ]


async def test_a_pilot_short_of_its_targets_is_refused_then_overridden_with_a_kept_reason(
    platform: Platform,
) -> None:
    org, program = await new_program(platform)
    base = f"/api/v1/orgs/{org}/programs/{program['id']}"
    await platform.http.post(f"{base}/readiness", json=READINESS, headers=platform.auth)
    await platform.http.put(
        f"{base}/phases/pilot", json=await pilot(platform, org), headers=platform.auth
    )
    await publish(
        platform,
        "metrics",
        org,
        actuals(program["id"], active_rate=0.4, leadership_participation=0.25),
    )
    check = await graduation_once_measured(platform, base)
    assert check["met"] is False

    refused = await platform.http.post(
        f"{base}/phases/advance", json={"to": "targeted_recruitment"}, headers=platform.auth
    )

    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert problem["detail"].startswith("the pilot phase has not met its targets: ")
    assert problem["context"]["unmet"] == [
        "active rate: 0.4 is below the target 0.6",
        "leadership participation: 0.25 is below the target 0.5",
    ]
    unchanged = (await platform.http.get(base, headers=platform.auth)).json()
    assert unchanged["phase"] == "pilot"
    trail = await platform.http.get(f"{base}/phases/transitions", headers=platform.auth)
    assert trail.json()["items"] == []

    reason = "The board wants the specialists in now; activity rose every week of February"
    overridden = await platform.http.post(
        f"{base}/phases/advance",
        json={"to": "targeted_recruitment", "override_reason": reason},
        headers=platform.auth,
    )

    assert overridden.status_code == 201, overridden.text
    trail = (await platform.http.get(f"{base}/phases/transitions", headers=platform.auth)).json()
    (entry,) = trail["items"]
    assert entry["decided_by"] == "override"
    assert entry["override_reason"] == reason
    assert entry["unmet"] == problem["context"]["unmet"]
    assert entry["actor"].startswith("bootstrap:admin")
    assert (entry["from_phase"], entry["to_phase"]) == ("pilot", "targeted_recruitment")


async def test_bad_input_gets_clear_problems_and_writes_nothing(platform: Platform) -> None:
    org, program = await new_program(platform)
    programs = f"/api/v1/orgs/{org}/programs"
    base = f"{programs}/{program['id']}"

    bad_score = {**READINESS, "culture": {"leadership_openness": 7, "visibility_appetite": 3}}
    response = await platform.http.post(f"{base}/readiness", json=bad_score, headers=platform.auth)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"][-1] == "leadership_openness"
    history = await platform.http.get(f"{base}/readiness", headers=platform.auth)
    assert history.json()["items"] == []

    unknown = await platform.http.post(
        programs,
        json={**PROGRAM, "name": "Other", "disciplines": ["social_selling", "podcasting"]},
        headers=platform.auth,
    )
    assert unknown.status_code == 422
    assert unknown.json()["context"]["unknown_disciplines"] == ["podcasting"]
    listed = (await platform.http.get(programs, headers=platform.auth)).json()
    assert [p["id"] for p in listed["items"]] == [program["id"]]

    for targets in ({}, {"active_rate": None}, {"active_rate": "high"}, {"reach": -1}):
        no_numbers = await platform.http.put(
            f"{base}/phases/pilot", json={**PILOT, "targets": targets}, headers=platform.auth
        )
        assert no_numbers.status_code == 422, (targets, no_numbers.text)
    phases = (await platform.http.get(f"{base}/phases", headers=platform.auth)).json()
    assert phases["items"][0]["targets"] is None

    leap = await platform.http.post(
        f"{base}/phases/advance", json={"to": "organisation_wide"}, headers=platform.auth
    )
    assert leap.status_code == 409
    assert leap.json()["detail"] == (
        "a program in the pilot phase cannot move to organisation_wide "
        "(allowed: targeted_recruitment)"
    )
    nowhere = await platform.http.put(f"{base}/phases/finale", json=PILOT, headers=platform.auth)
    assert nowhere.status_code == 422
    missing = await platform.http.get(f"{programs}/{uuid4()}/plan", headers=platform.auth)
    assert missing.status_code == 404


async def test_the_plan_of_an_unassessed_program_is_blocked_and_says_why(
    platform: Platform,
) -> None:
    org, program = await new_program(platform, capacity={"fte_share": 0.2})
    plan = (
        await platform.http.get(
            f"/api/v1/orgs/{org}/programs/{program['id']}/plan", headers=platform.auth
        )
    ).json()
    assert plan["verdict"] == "blocked"
    assert plan["findings"][0]["rule"] == "readiness_missing"
    assert plan["capacity"]["hours_per_week"] == 7.4


async def test_recruitment_proposes_from_roster_events_and_forgets_who_leaves(
    platform: Platform,
) -> None:
    org, program = await new_program(
        platform,
        objectives=["Qualified applicants", "Awareness & differentiation"],
        disciplines=["employer_branding", "thought_leadership"],
    )
    url = f"/api/v1/orgs/{org}/programs/{program['id']}/recruitment"
    engineer, specialist, plain, leader, enrolled, leaver = (uuid4() for _ in range(6))
    await publish(
        platform,
        "ambassadors",
        org,
        joined(engineer, "HR-1", job_family="Software engineer", hard_to_recruit=True),
        joined(specialist, "HR-2", topics=["Cloud Security", "Kubernetes"]),
        joined(plain, "HR-3"),
        joined(leader, "HR-4", leadership=True),
        joined(enrolled, "HR-5", hard_to_recruit=True),
        joined(leaver, "HR-6", hard_to_recruit=True),
        AmbassadorOnboarded(
            ambassador_id=uuid4(),
            external_id="HR-5",
            program_id=UUID(program["id"]),
            leadership=False,
            onboarded_at=datetime.now(UTC),
        ),
        EmployeeLeftRoster(employee_id=leaver, external_id="HR-6", left_at=datetime.now(UTC)),
    )
    proposals: dict[str, dict[str, Any]] = {}

    async def proposed(expected: set[UUID]) -> bool:
        page = (await platform.http.get(url, headers=platform.auth)).json()
        proposals.clear()
        proposals.update({p["employee_id"]: p for p in page["items"]})
        return set(proposals) == {str(e) for e in expected}

    await eventually(lambda: proposed({engineer, specialist, leader}))
    assert proposals[str(engineer)]["disciplines"] == ["employer_branding"]
    assert "Software engineer is hard to recruit" in proposals[str(engineer)]["reasons"][0]
    assert proposals[str(specialist)]["reasons"] == [
        "Thought leadership: specialist in cloud security, topics whose awareness must rise."
    ]
    assert proposals[str(leader)]["reasons"][0].startswith("Leadership track")

    await publish(
        platform,
        "ambassadors",
        org,
        AmbassadorErased(
            ambassador_id=uuid4(), employee_id=specialist, erased_at=datetime.now(UTC)
        ),
    )
    await eventually(lambda: proposed({engineer, leader}))

    # Invited (matched by the roster record, with no HR id) or declined: not proposed again.
    asked, said_no = uuid4(), uuid4()
    await publish(
        platform,
        "ambassadors",
        org,
        InvitationIssued(
            invitation_id=uuid4(),
            ambassador_id=asked,
            employee_id=engineer,
            expires_at=datetime.now(UTC),
        ),
        InvitationIssued(
            invitation_id=uuid4(),
            ambassador_id=said_no,
            external_id="HR-4",
            expires_at=datetime.now(UTC),
        ),
        InvitationDeclined(
            invitation_id=uuid4(),
            ambassador_id=said_no,
            external_id="HR-4",
            declined_at=datetime.now(UTC),
        ),
    )
    await eventually(lambda: proposed(set()))
    page = (await platform.http.get(url, params={"limit": 1}, headers=platform.auth)).json()
    assert page["program_phase"] == "pilot"
    assert page["note"] is not None


def joined(employee_id: UUID, external_id: str, **facts: Any) -> EmployeeJoinedRoster:
    return EmployeeJoinedRoster.model_validate(
        {
            "employee_id": employee_id,
            "external_id": external_id,
            "active": True,
            "department": "R&D",
            "job_family": "Consultant",
            "hard_to_recruit": False,
            "leadership": False,
            "languages": ["da"],
            "topics": [],
            "joined_at": datetime.now(UTC),
            **facts,
        }
    )


async def test_playbook_edits_make_versions_and_programs_keep_theirs(platform: Platform) -> None:
    org, program = await new_program(platform)
    playbook = f"/api/v1/orgs/{org}/playbook"
    prompts = {"angle_prompts": ["Talk about the customer problems you solve, in your words"]}
    edited = await platform.http.patch(
        f"{playbook}/rows/social_selling", json=prompts, headers=platform.auth
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["rows"][0]["angle_prompts"] == prompts["angle_prompts"]

    retired = await platform.http.delete(
        f"{playbook}/rows/employer_branding", headers=platform.auth
    )
    assert [r["key"] for r in retired.json()["rows"]] == ["social_selling", "thought_leadership"]
    added = await platform.http.post(
        f"{playbook}/rows",
        json={
            "key": "investor_relations",
            "challenge": "Investor confidence",
            "discipline": "Leadership visibility towards investors",
            "colleagues": "Leadership",
            "content": "Results, strategy, outlook",
            "enablement_format": "Hand-held 1:1",
            "segments": ["leadership"],
            "formats": ["one_to_one"],
        },
        headers=platform.auth,
    )
    assert added.status_code == 201, added.text
    assert added.json()["version"] == 4
    duplicate = await platform.http.post(
        f"{playbook}/rows", json={**added.json()["rows"][0], "id": None}, headers=platform.auth
    )
    assert duplicate.status_code == 422  # rows carry no id: the schema refuses it

    first = (await platform.http.get(playbook, params={"version": 1}, headers=platform.auth)).json()
    assert first["latest"] is False
    assert first["rows"][0]["angle_prompts"][0] == "Talk about the customer problems you solve"
    plan = (
        await platform.http.get(
            f"/api/v1/orgs/{org}/programs/{program['id']}/plan", headers=platform.auth
        )
    ).json()
    assert plan["playbook_version"] == 1
    retired_choice = await platform.http.post(
        f"/api/v1/orgs/{org}/programs",
        json={**PROGRAM, "disciplines": ["employer_branding"]},
        headers=platform.auth,
    )
    assert retired_choice.status_code == 422
    unknown = await platform.http.patch(
        f"{playbook}/rows/podcasting", json={}, headers=platform.auth
    )
    assert unknown.status_code == 404


async def test_leadership_targets_are_shown_only_to_those_who_may_see_them(
    platform: Platform,
) -> None:
    org, program = await new_program(platform)
    base = f"/api/v1/orgs/{org}/programs/{program['id']}"
    await platform.http.put(
        f"{base}/phases/pilot", json=await pilot(platform, org), headers=platform.auth
    )
    await publish(platform, "metrics", org, actuals(program["id"], leadership_participation=0.6))
    await graduation_once_measured(platform, base)
    report = (await platform.http.get(f"{base}/leadership", headers=platform.auth)).json()
    assert (report["target"], report["actual"], report["met"]) == (0.5, 0.6, True)
    ceo = uuid4()
    await publish(
        platform,
        "ambassadors",
        org,
        AmbassadorOnboarded(
            ambassador_id=ceo,
            external_id="HR-9",
            program_id=UUID(program["id"]),
            leadership=False,
            onboarded_at=datetime.now(UTC),
        ),
        AmbassadorProfileChanged(
            ambassador_id=ceo,
            leadership=True,
            segments=["leadership"],
            topics=[],
            languages=["da"],
            posts_per_week=1.0,
            changed_at=datetime.now(UTC),
        ),
    )

    async def leader_counted() -> bool:
        report = (await platform.http.get(f"{base}/leadership", headers=platform.auth)).json()
        return bool(report["leaders_enrolled"] == 1)

    await eventually(leader_counted)

    bi = bearer(await new_key(platform.gateway, org, "bi"))
    assert (await platform.http.get(f"{base}/leadership", headers=bi)).status_code == 403
    phases = (await platform.http.get(f"{base}/phases", headers=bi)).json()["items"]
    assert phases[0]["targets"]["leadership_participation"] is None
    assert phases[0]["targets"]["active_rate"] == 0.6
    check = (await platform.http.get(f"{base}/graduation", headers=bi)).json()
    assert [r["metric"] for r in check["results"]] == [
        "active_rate",
        "posts_per_ambassador_per_week",
    ]
