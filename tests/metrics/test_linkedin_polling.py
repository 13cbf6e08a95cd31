"""LinkedIn analytics polling over the real stack (gateway, ambassadors, metrics, NATS, a real
database) against the LinkedIn sandbox through the official client: the decaying schedule and its
stop after a quiet period, the per-member and per-app daily budgets, 429 with `Retry-After`, 401
until the ambassador reconnects, two replicas never polling one post twice in one slot, and the
company page's statistics as the baseline, read once per interval by any number of replicas.

The poller's clock is set by the test (`Poller.clock`), always in the past so that snapshots are
not refused as future ones, and the sandbox's clock is moved with it so that a post is as old on
LinkedIn as the metrics service thinks; the background pass never runs on its own
(`linkedin_poll_seconds` is an hour)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from advocacy_devtools.linkedin_sandbox import _Fault
from advocacy_devtools.linkedin_sandbox_analytics import AnalyticsState, counts_at
from advocacy_metrics.models import linkedin_budget, linkedin_members, linkedin_polls, snapshots
from advocacy_metrics.polling import Poller, polling_wiring
from advocacy_metrics.repository import APP_BUDGET
from advocacy_metrics.service.polling import Schedule, page_calls
from advocacy_shared.contracts.content import PostPublished
from advocacy_shared.linkedin import LinkedInClient
from advocacy_shared.linkedin.analytics import CALLS_PER_POST
from advocacy_shared.linkedin.posts import LinkedInPosts
from advocacy_shared.runtime import ServiceRuntime
from tests.conftest import Platform
from tests.e2e.test_linkedin import token
from tests.e2e.test_planner import publish
from tests.e2e.test_skeleton import create_organisation
from tests.linkedin import PAGE_ADMIN_SCOPES, connect, connected, linkedin_settings
from tests.shared.helpers import eventually

MEMBER = "urn:li:person:782bbtaQ"
HOUR = timedelta(hours=1)


@pytest.fixture
def metrics_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def service_overrides(
    sandbox: FastAPI, metrics_overrides: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    linkedin = linkedin_settings(sandbox.state.url, PAGE_ADMIN_SCOPES)
    return {
        "ambassadors": {"linkedin": linkedin},
        "content": {"linkedin": linkedin},
        "metrics": {"linkedin": linkedin, "linkedin_poll_seconds": 3600, **metrics_overrides},
    }


@dataclass
class Clocks:
    """The poller's clock and the sandbox's, moved together."""

    poller: Poller
    analytics: AnalyticsState
    origin: datetime
    """When the test's posts were published, as the metrics service was told."""

    def at(self, moment: datetime) -> None:
        self.poller.clock = lambda: moment
        self.analytics.offset = moment - self.origin


def clocks(sandbox: FastAPI, origin: datetime) -> Clocks:
    """Both clocks at `origin`, when the test's posts are published."""
    made = Clocks(polling_wiring(), sandbox.state.analytics, origin)
    made.at(origin)
    return made


async def sandbox_post(platform: Platform, sandbox: FastAPI, org: str, base: str, text: str) -> str:
    access = await token(platform, org, base, "analytics")
    adapter = LinkedInPosts(LinkedInClient(linkedin_settings(sandbox.state.url)))
    return await adapter.create(access, MEMBER, text)


async def published(
    platform: Platform, org: str, base: str, urn: str, published_at: datetime
) -> UUID:
    """The metrics service learns of the post as from the content service, and plans its poll."""
    post_id = uuid4()
    fact = PostPublished(
        post_id=post_id,
        ambassador_id=UUID(base.rsplit("/", 1)[1]),
        leadership=False,
        linkedin_post_urn=urn,
        source="scheduled",
        published_at=published_at,
    )
    await publish(platform, "content", org, fact)

    async def planned() -> bool:
        return await poll_of(platform.runtimes["metrics"], post_id) is not None

    await eventually(planned, timeout=30)
    return post_id


async def poll_of(runtime: ServiceRuntime, post_id: UUID) -> Any:
    async with runtime.sessions() as session:
        query = select(linkedin_polls).where(linkedin_polls.c.post_id == post_id)
        return (await session.execute(query)).first()


async def linkedin_snapshots(runtime: ServiceRuntime, post_id: UUID) -> list[Any]:
    async with runtime.sessions() as session:
        query = (
            select(snapshots)
            .where(snapshots.c.post_id == post_id, snapshots.c.source == "linkedin")
            .order_by(snapshots.c.observed_at)
        )
        return list((await session.execute(query)).all())


async def ambassador_with_posts(
    platform: Platform, sandbox: FastAPI, org: str, email: str, count: int, origin: datetime
) -> tuple[str, list[tuple[UUID, str]]]:
    base = await connected(platform, org, email)
    made = []
    for number in range(count):
        urn = await sandbox_post(platform, sandbox, org, base, f"{email} post {number}")
        made.append((await published(platform, org, base, urn, origin), urn))
    return base, made


async def new_org(platform: Platform) -> str:
    org: str = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    return org


# --- The schedule, as a function ------------------------------------------------------------------


def test_the_schedule_polls_often_when_young_rarer_later_and_stops_when_quiet_or_old() -> None:
    schedule = Schedule(
        steps=((24, 60), (72, 180), (168, 720), (672, 1440), (2160, 10080)),
        quiet=timedelta(hours=72),
        max_age=timedelta(days=90),
    )
    published_at = datetime(2027, 1, 4, 8, tzinfo=UTC)

    def after(age: timedelta, changed_ago: timedelta = timedelta(0)) -> timedelta | None:
        now = published_at + age
        following = schedule.next_poll(published_at, now - changed_ago, now)
        return None if following is None else following - now

    assert after(timedelta(0)) == HOUR
    assert after(timedelta(hours=23)) == HOUR
    assert after(timedelta(hours=30)) == 3 * HOUR
    assert after(timedelta(days=5)) == 12 * HOUR
    assert after(timedelta(days=20)) == 24 * HOUR
    assert after(timedelta(days=40)) == timedelta(days=7)
    assert after(timedelta(days=89, hours=12)) == timedelta(hours=12)  # never past 90 days
    assert after(timedelta(days=90)) is None  # too old
    assert after(timedelta(days=10), changed_ago=timedelta(hours=71)) == 24 * HOUR
    assert after(timedelta(days=10), changed_ago=timedelta(hours=72)) is None  # quiet
    first = schedule.next_poll(published_at, None, published_at + timedelta(days=4))
    assert first == published_at + timedelta(days=4, hours=12)  # nothing seen yet: not quiet


# --- Over the stack -------------------------------------------------------------------------------


async def test_a_post_is_polled_on_the_decaying_schedule_until_it_goes_quiet(
    platform: Platform, sandbox: FastAPI
) -> None:
    origin = datetime.now(UTC) - timedelta(days=14)  # every poll below lies in the past
    org = await new_org(platform)
    time = clocks(sandbox, origin)
    _, [(post_id, urn)] = await ambassador_with_posts(
        platform, sandbox, org, "ada@acme.dk", 1, origin
    )
    runtime = platform.runtimes["metrics"]
    polled_at: list[datetime] = []
    row = await poll_of(runtime, post_id)
    while row.state == "due":
        time.at(row.next_poll_at)
        assert await polling_wiring().run_once(runtime) == 1
        polled_at.append(row.next_poll_at)
        row = await poll_of(runtime, post_id)
        assert len(polled_at) < 100, "the schedule never stopped"

    gaps = [(b - a, a - origin) for a, b in itertools.pairwise(polled_at)]
    assert {gap for gap, age in gaps if age < timedelta(hours=24)} == {HOUR}
    assert {gap for gap, age in gaps if timedelta(hours=24) <= age < timedelta(hours=72)} == {
        3 * HOUR
    }
    assert {gap for gap, age in gaps if timedelta(hours=72) <= age < timedelta(days=7)} == {
        12 * HOUR
    }
    assert {gap for gap, age in gaps if age >= timedelta(days=7)} == {24 * HOUR}
    # It stopped once nothing had changed for 72 hours, and not before.
    assert row.state == "stopped"
    assert row.next_poll_at is None
    assert polled_at[-1] - row.last_change_at >= timedelta(hours=72)
    assert polled_at[-2] - row.last_change_at < timedelta(hours=72)
    stored = await linkedin_snapshots(runtime, post_id)
    assert len(stored) == len(polled_at) == row.polls
    assert sandbox.state.analytics.entity_calls[urn] == CALLS_PER_POST * len(polled_at)
    last = counts_at(sandbox.state.analytics.seed, urn, polled_at[-1] - origin)
    assert (stored[-1].impressions, stored[-1].reactions) == (
        last["IMPRESSION"],
        last["REACTION"],
    )
    impressions = [s.impressions for s in stored]
    assert impressions == sorted(impressions)
    assert impressions[-1] > 0


@pytest.mark.parametrize(
    "metrics_overrides",
    [{"linkedin_calls_per_member_per_day": 10, "linkedin_calls_per_day": 15}],
)
async def test_the_daily_budgets_are_never_exceeded_and_refill_at_midnight_utc(
    platform: Platform, sandbox: FastAPI
) -> None:
    origin = datetime.now(UTC) - timedelta(days=3)
    origin = origin.replace(hour=1, minute=0, second=0, microsecond=0)
    org = await new_org(platform)
    time = clocks(sandbox, origin)
    ada, ada_posts = await ambassador_with_posts(platform, sandbox, org, "ada@acme.dk", 3, origin)
    bob, bob_posts = await ambassador_with_posts(platform, sandbox, org, "bob@acme.dk", 2, origin)
    runtime = platform.runtimes["metrics"]
    calls = sandbox.state.analytics.entity_calls

    def spent(posts: list[tuple[UUID, str]]) -> int:
        return sum(calls.get(urn, 0) for _, urn in posts)

    for minutes in (0, 30, 60, 120):  # the same UTC day, everything due every hour
        time.at(origin + timedelta(minutes=minutes))
        await polling_wiring().run_once(runtime)
        assert spent(ada_posts) <= 10  # two polls of five calls
        assert spent(ada_posts) + spent(bob_posts) <= 15
    assert spent(ada_posts) + spent(bob_posts) == 15  # the app's budget, used up
    async with runtime.sessions() as session:
        budget = dict(
            (row.scope, row.calls)
            for row in await session.execute(
                select(linkedin_budget).where(linkedin_budget.c.day == origin.date())
            )
        )
        ada_wait = (
            await session.execute(
                select(linkedin_members).where(
                    linkedin_members.c.ambassador_id == UUID(ada.rsplit("/", 1)[1])
                )
            )
        ).first()
    assert budget["app"] == 15
    assert budget[ada.rsplit("/", 1)[1]] == 10
    assert ada_wait is not None
    assert ada_wait.paused_until == datetime.combine(
        origin.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )

    time.at(origin + timedelta(days=1))  # a new UTC day: both budgets refill
    await polling_wiring().run_once(runtime)
    assert spent(ada_posts) + spent(bob_posts) == 30
    assert spent(ada_posts) <= 20
    del bob


async def test_a_429_pauses_the_member_until_retry_after(
    platform: Platform, sandbox: FastAPI
) -> None:
    origin = datetime.now(UTC) - timedelta(days=2)
    org = await new_org(platform)
    time = clocks(sandbox, origin)
    _, [(post_id, urn)] = await ambassador_with_posts(
        platform, sandbox, org, "ada@acme.dk", 1, origin
    )
    runtime = platform.runtimes["metrics"]
    calls = sandbox.state.analytics.entity_calls
    sandbox.state.sandbox.faults["/rest/memberCreatorPostAnalytics"] = [_Fault(429, 0.0, 600)]

    time.at(origin)
    await polling_wiring().run_once(runtime)  # 429: Retry-After 600 s
    assert calls.get(urn, 0) == 0
    assert (await poll_of(runtime, post_id)).state == "due"
    time.at(origin + timedelta(seconds=590))
    assert await polling_wiring().run_once(runtime) == 0  # still waiting
    assert calls.get(urn, 0) == 0
    time.at(origin + timedelta(seconds=601))
    assert await polling_wiring().run_once(runtime) == 1
    assert calls[urn] == CALLS_PER_POST
    assert len(await linkedin_snapshots(runtime, post_id)) == 1


async def test_a_401_stops_polling_the_member_until_they_reconnect(
    platform: Platform, sandbox: FastAPI
) -> None:
    origin = datetime.now(UTC) - timedelta(days=2)
    org = await new_org(platform)
    time = clocks(sandbox, origin)
    base, [(post_id, urn)] = await ambassador_with_posts(
        platform, sandbox, org, "ada@acme.dk", 1, origin
    )
    runtime = platform.runtimes["metrics"]
    path_calls = sandbox.state.sandbox.calls  # every call, answered or refused

    def calls() -> int:
        return int(path_calls.get("/rest/memberCreatorPostAnalytics", 0))

    for issued in list(sandbox.state.sandbox.tokens.values()):
        issued.status = "revoked"  # the member revoked the app on LinkedIn

    time.at(origin)
    await polling_wiring().run_once(runtime)  # one call, a 401
    assert calls() == 1
    for hours in (1, 5, 30):
        time.at(origin + timedelta(hours=hours))
        assert await polling_wiring().run_once(runtime) == 0
    assert calls() == 1
    connection = (await platform.http.get(f"{base}/linkedin", headers=platform.auth)).json()
    assert connection["status"] == "expired"  # the ambassadors service was told

    assert (await connect(platform, base)).status_code == 200  # reconnected

    async def polled_again() -> bool:
        time.at(origin + timedelta(hours=31))
        await polling_wiring().run_once(runtime)
        return calls() == 1 + CALLS_PER_POST

    await eventually(polled_again, timeout=30)
    assert len(await linkedin_snapshots(runtime, post_id)) == 1
    assert sandbox.state.analytics.entity_calls[urn] == CALLS_PER_POST


async def test_two_replicas_never_poll_the_same_post_twice_in_one_slot(
    platform: Platform, sandbox: FastAPI
) -> None:
    origin = datetime.now(UTC) - timedelta(days=2)
    org = await new_org(platform)
    time = clocks(sandbox, origin)
    _, made = await ambassador_with_posts(platform, sandbox, org, "ada@acme.dk", 6, origin)
    runtime = platform.runtimes["metrics"]
    first = polling_wiring()
    second = Poller(first.settings, first.analytics, first.rpc, first.secrets)
    calls = sandbox.state.analytics.entity_calls
    # Each of the first calls waits, so both replicas' passes overlap.
    sandbox.state.sandbox.faults["/rest/memberCreatorPostAnalytics"] = [
        _Fault(None, 0.05) for _ in range(12)
    ]

    for slot in range(3):
        moment = origin + slot * HOUR
        time.at(moment)
        second.clock = first.clock
        polled = await asyncio.gather(first.run_once(runtime), second.run_once(runtime))
        assert sum(polled) == len(made)
        assert {calls[urn] for _, urn in made} == {CALLS_PER_POST * (slot + 1)}
    for post_id, _ in made:
        assert len(await linkedin_snapshots(runtime, post_id)) == 3


COMPANY = "urn:li:organization:2414183"


async def company_page(
    platform: Platform, sandbox: FastAPI, org: str, posts: int
) -> tuple[list[str], str]:
    """`posts` posts on the sandbox's company page, two days old, and the organisation's company
    page configured with an admin's token: the posts' URNs and the page's URL."""
    async with httpx.AsyncClient(base_url=sandbox.state.url) as http:
        made = f"/sandbox/organizations/{COMPANY.rsplit(':', 1)[1]}/posts"
        urns = (await http.post(made, json={"count": posts})).json()
        admin = (
            await http.post("/sandbox/tokens", json={"scopes": ["rw_organization_admin"]})
        ).json()["access_token"]
    sandbox.state.analytics.advance(timedelta(days=2))
    url = f"/api/v1/orgs/{org}/metrics/linkedin/company-page"
    bad = await platform.http.put(
        url,
        json={"organization_urn": "urn:li:company:1", "access_token": admin},
        headers=platform.auth,
    )
    assert bad.status_code == 422

    async def configured() -> bool:
        answer = await platform.http.put(
            url, json={"organization_urn": COMPANY, "access_token": admin}, headers=platform.auth
        )
        return answer.status_code == 200

    await eventually(configured, timeout=30)
    shown = (await platform.http.get(url, headers=platform.auth)).json()
    assert "access_token" not in shown
    assert admin not in str(shown)
    return urns, url


async def test_the_company_pages_statistics_become_the_baseline(
    platform: Platform, sandbox: FastAPI
) -> None:
    org = await new_org(platform)
    made = sandbox.state.analytics  # the sandbox's clock is real time here
    urns, url = await company_page(platform, sandbox, org, 2)
    shown: dict[str, Any] = {}

    async def read() -> bool:
        await polling_wiring().run_once(platform.runtimes["metrics"])  # or the woken pass
        shown.update((await platform.http.get(url, headers=platform.auth)).json())
        assert shown["last_error"] is None, shown
        return shown["last_polled_at"] is not None

    await eventually(read, timeout=30)

    comparison = (
        await platform.http.get(
            f"/api/v1/orgs/{org}/metrics/company-comparison", headers=platform.auth
        )
    ).json()["comparison"]
    assert comparison["company_posts"] == 2, comparison
    expected = [counts_at(made.seed, urn, timedelta(days=2), company=True) for urn in urns]
    reached = sum(c["MEMBERS_REACHED"] for c in expected) / 2
    assert comparison["company_reach_per_post"] == pytest.approx(reached, abs=3)
    assert shown["state"] == "active"


async def test_two_replicas_read_a_company_page_once_per_interval(
    platform: Platform, sandbox: FastAPI
) -> None:
    org = await new_org(platform)
    statistics = sandbox.state.analytics.calls  # the share-statistics calls, by member and day
    runtime = platform.runtimes["metrics"]
    first = polling_wiring()
    second = Poller(first.settings, first.analytics, first.rpc, first.secrets)
    # The statistics call waits, so that one replica's read is in flight while the other claims.
    sandbox.state.sandbox.faults["/rest/organizationalEntityShareStatistics"] = [
        _Fault(None, 0.2) for _ in range(3)
    ]
    _, url = await company_page(platform, sandbox, org, 2)

    async def read() -> bool:
        await asyncio.gather(first.run_once(runtime), second.run_once(runtime))
        shown = (await platform.http.get(url, headers=platform.auth)).json()
        assert shown["last_error"] is None, shown
        return shown["last_polled_at"] is not None

    await eventually(read, timeout=30)
    await asyncio.gather(first.run_once(runtime), second.run_once(runtime))  # not due again
    assert sum(statistics.values()) == 1  # this replica, the other and the service's own pass
    async with runtime.sessions() as session:
        query = select(linkedin_budget.c.calls).where(linkedin_budget.c.scope == APP_BUDGET)
        spent = (await session.execute(query)).scalars().all()
    assert sum(spent) == page_calls(first.settings.company_page_posts)  # one reservation
