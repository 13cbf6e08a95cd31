"""End to end, from posts on (sandbox) LinkedIn to a graduated pilot, over the real stack: the
ambassadors connect LinkedIn and post through the content service's publisher; the metrics
service polls the sandbox's member post analytics through the official client; the posts gain
engagement as the sandbox's clock moves on; the cohort actuals that follow meet the pilot's
reach and engagement targets, and the planner lets the pilot graduate. Every wait is for a
condition."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from tests.conftest import Platform
from tests.e2e.test_planner import READINESS, new_program
from tests.linkedin import PAGE_ADMIN_SCOPES, connected, linkedin_settings
from tests.shared.helpers import eventually, polls

TARGETS = {
    "active_rate": 1.0,
    "posts_per_ambassador_per_week": 0.25,
    "reach": 1000,
    "engagement_rate": 0.01,
}


@pytest.fixture
def service_overrides(sandbox: FastAPI) -> dict[str, dict[str, Any]]:
    linkedin = linkedin_settings(sandbox.state.url, PAGE_ADMIN_SCOPES)
    return {
        "ambassadors": {"linkedin": linkedin},
        "content": {"linkedin": linkedin, "posting_poll_seconds": 0.1},
        "metrics": {
            "linkedin": linkedin,
            "linkedin_poll_seconds": 0.2,
            # A post is polled every 0.3 s here (hourly in its first day by default).
            "linkedin_poll_schedule": ((24.0, 0.005),),
            "schedule_interval_seconds": 0.5,
        },
    }


async def ambassador(platform: Platform, org: str, program_id: str, email: str) -> str:
    """Invited into the program, consented (posting and analytics), LinkedIn connected: its id."""
    base = await connected(platform, org, email, program_id=program_id)
    return base.rsplit("/", 1)[1]


async def write_post(platform: Platform, org: str, ambassador_id: str, text: str) -> str:
    for _ in polls():  # the content service learns of the ambassador from events
        written = await platform.http.post(
            f"/api/v1/orgs/{org}/ambassadors/{ambassador_id}/posts",
            json={
                "text": text,
                "scheduled_at": (datetime.now(UTC) + timedelta(seconds=0.5)).isoformat(),
                "discipline": "employer_branding",
            },
            headers=platform.auth,
        )
        if written.status_code not in (404, 409, 503):
            break
        await asyncio.sleep(0.1)
    assert written.status_code == 201, written.text
    post_id: str = written.json()["id"]
    return post_id


def actual(check: dict[str, Any], metric: str) -> float | None:
    found: dict[str, float | None] = {r["metric"]: r["actual"] for r in check.get("results", [])}
    return found.get(metric)


async def test_posts_on_linkedin_are_measured_and_the_pilot_graduates(
    platform: Platform, sandbox: FastAPI
) -> None:
    org, program = await new_program(platform)
    base = f"/api/v1/orgs/{org}/programs/{program['id']}"
    assessed = await platform.http.post(f"{base}/readiness", json=READINESS, headers=platform.auth)
    assert assessed.status_code == 201, assessed.text
    cohort = [
        await ambassador(platform, org, program["id"], f"{name}@acme.dk")
        for name in ("ada", "bob", "cleo")
    ]
    pilot = {
        "cohort": {"ambassador_ids": cohort, "criteria": "Volunteers"},
        "targets": TARGETS,
        "review_date": "2027-03-31",
    }
    set_pilot = await platform.http.put(f"{base}/phases/pilot", json=pilot, headers=platform.auth)
    assert set_pilot.status_code == 200, set_pilot.text

    posts = [
        await write_post(platform, org, a, f"Vi søger kolleger, skriv til mig {n}")
        for n, a in enumerate(cohort)
    ]

    async def all_on_linkedin() -> bool:
        states = [
            (await platform.http.get(f"/api/v1/orgs/{org}/posts/{p}", headers=platform.auth))
            .json()
            .get("state")
            for p in posts
        ]
        return states == ["published"] * 3

    await eventually(all_on_linkedin, timeout=60)
    assert len(sandbox.state.posts.posts) == 3

    # Fresh posts: polled, but nobody has seen them yet. The pilot cannot graduate.
    check: dict[str, Any] = {}

    async def measured_without_reach() -> bool:
        check.update((await platform.http.get(f"{base}/graduation", headers=platform.auth)).json())
        return bool(actual(check, "active_rate") == 1.0)

    await eventually(measured_without_reach, timeout=60)
    assert check["met"] is False
    assert {r["metric"] for r in check["results"] if not r["met"]} >= {"reach"}

    # Two days later on LinkedIn: the posts have been seen, liked and shared.
    sandbox.state.analytics.advance(timedelta(days=2))

    async def graduates() -> bool:
        check.update((await platform.http.get(f"{base}/graduation", headers=platform.auth)).json())
        return check["met"] is True

    await eventually(graduates, timeout=60)
    reach = actual(check, "reach")
    assert reach is not None
    assert reach >= TARGETS["reach"]
    calls = sandbox.state.analytics.entity_calls
    assert set(calls) == {p.urn for p in sandbox.state.posts.posts.values()}

    advanced = await platform.http.post(
        f"{base}/phases/advance", json={"to": "targeted_recruitment"}, headers=platform.auth
    )
    assert advanced.status_code == 201, advanced.text
    assert advanced.json()["decided_by"] == "targets_met"
