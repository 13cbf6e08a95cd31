"""The metrics service through the gateway, on a real NATS and real databases: posts become known
from `PostPublished`, snapshot events from other tools are consumed in batches (idempotent, a
lower count kept as observed, bad ones dead-lettered with their reason, another organisation's
post refused), imports report each bad row, aggregates match hand-computed figures, leadership is
reported apart, and cohort actuals let a pilot graduate."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from nats.aio.client import Client as NatsClient

from advocacy_devtools import cli
from advocacy_devtools.embedded_nats import free_port
from advocacy_metrics import repository
from advocacy_metrics.app import run_schedule
from advocacy_metrics.service import rollups, schedule
from advocacy_shared.contracts.ambassadors import AmbassadorOnboarded, AmbassadorProfileChanged
from advocacy_shared.contracts.content import PostPublished, PostWithdrawn
from advocacy_shared.contracts.metrics import (
    AmbassadorMomentumChanged,
    CohortActualsMeasured,
    PostEngagementMeasured,
    PostMetricsObserved,
    ProgramMomentumDropped,
)
from advocacy_shared.contracts.planner import ProgramCreated
from advocacy_shared.deadletters import DeadLetters
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.outbox_records import outbox_status
from advocacy_shared.topology import Topology
from tests.actors import bearer, new_key
from tests.conftest import Platform
from tests.e2e.test_ambassadors import CONSENT, invite
from tests.e2e.test_planner import (
    PILOT,
    READINESS,
    graduation_once_measured,
    new_program,
    publish,
)
from tests.e2e.test_skeleton import create_organisation
from tests.loopback import LoopbackServer
from tests.shared.helpers import eventually, read_all

NOW = utc_now()


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"max_body_bytes": 64 * 1024}  # the CLI halves its 1000-row requests to fit


def post(
    ambassador_id: UUID, *, leadership: bool = False, days_ago: float = 2, **extra: Any
) -> PostPublished:
    return PostPublished(
        post_id=uuid4(),
        ambassador_id=ambassador_id,
        leadership=leadership,
        source="manual",
        published_at=NOW - timedelta(days=days_ago),
        **extra,
    )


def onboarded(
    ambassador_id: UUID, *, leadership: bool = False, **extra: Any
) -> AmbassadorOnboarded:
    return AmbassadorOnboarded(
        ambassador_id=ambassador_id,
        external_id=None,
        program_id=extra.pop("program_id", None),
        leadership=leadership,
        onboarded_at=NOW - timedelta(days=60),
        version=1,
    )


def snapshot(post_id: UUID, hours_ago: float, impressions: int, **counts: Any) -> dict[str, Any]:
    return {
        "post_id": str(post_id),
        "observed_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "source": "tool:social_suite",
        "impressions": impressions,
        "reactions": 0,
        "comments": 0,
        "reshares": 0,
        **counts,
    }


async def send_snapshot(
    nats_client: NatsClient, topology: Topology, org: str, data: dict[str, Any]
) -> None:
    """As another tool publishes one: a CloudEvent on the documented subject."""
    envelope = CloudEvent(
        source="/tools/social-suite",
        type=PostMetricsObserved.spec.type,
        data=data,
        orgid=org,
        correlationid=str(uuid4()),
    )
    await nats_client.jetstream().publish(
        PostMetricsObserved.spec.subject(topology),
        envelope.to_bytes(),
        headers={"Nats-Msg-Id": envelope.id},
    )


async def known(platform: Platform, org: str, post_id: UUID) -> None:
    async def found() -> bool:
        response = await platform.http.get(
            f"/api/v1/orgs/{org}/metrics/posts/{post_id}", headers=platform.auth
        )
        return response.status_code == 200

    await eventually(found, timeout=30)


async def program_known(platform: Platform, org: str, program_id: UUID) -> None:
    """Until the metrics service has consumed `ProgramCreated`: it comes on the planner's stream,
    posts on content's, and a momentum check knows only the programs it has consumed."""
    runtime = platform.runtimes["metrics"]

    async def consumed() -> bool:
        async with runtime.sessions() as session:
            return bool(await repository.program_of(session, UUID(org), program_id))

    await eventually(consumed, timeout=30)


async def enrolled(
    platform: Platform,
    org: str,
    count: int,
    *,
    program_id: UUID | None = None,
    leaders: bool = False,
) -> None:
    """Until the metrics service counts `count` enrolled ambassadors (or leaders): the roster
    comes on the ambassadors' stream, posts on content's, and nothing orders the two."""
    path = "leadership/participation" if leaders else "participation"
    params = {} if program_id is None else {"program_id": str(program_id)}

    async def counted() -> bool:
        response = await platform.http.get(
            f"/api/v1/orgs/{org}/metrics/{path}", params=params, headers=platform.auth
        )
        return bool(response.status_code == 200 and response.json()["enrolled"] == count)

    await eventually(counted, timeout=30)


async def metrics_events(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> list[CloudEvent]:
    """The metrics stream once the metrics service's relay has published every event its outbox
    holds: what a committed pass announced is in the stream, not still on its way."""
    runtime = platform.runtimes["metrics"]

    async def relayed() -> bool:
        status = await outbox_status(runtime.sessions, runtime.outbox.table)
        return bool(status.backlog == 0)

    await eventually(relayed, timeout=30)
    messages = await read_all(
        nats_client.jetstream(),
        topology.stream_name("metrics"),
        f"{topology.namespace}.metrics.>",
    )
    return [CloudEvent.from_bytes(m.data) for m in messages]


async def test_snapshots_from_nats_are_stored_once_and_add_up_to_hand_computed_figures(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    other = (await create_organisation(platform, f"Other {uuid4().hex[:8]}"))["id"]
    a, b, leader, idle = uuid4(), uuid4(), uuid4(), uuid4()
    await publish(
        platform,
        "ambassadors",
        org,
        onboarded(a),
        onboarded(b),
        onboarded(idle),
        onboarded(leader, leadership=True),
    )
    post_a, post_b, post_leader = post(a), post(b), post(leader, leadership=True)
    foreign = post(uuid4())
    await publish(platform, "content", org, post_a, post_b, post_leader)
    await publish(platform, "content", other, foreign)
    await known(platform, org, post_a.post_id)
    await known(platform, org, post_leader.post_id)
    await known(platform, other, foreign.post_id)

    first = snapshot(
        post_a.post_id, 30, 1000, members_reached=800, reactions=10, comments=2, reshares=1
    )
    latest = snapshot(
        post_a.post_id, 10, 2000, members_reached=1500, reactions=30, comments=5, reshares=2
    )
    same_key_other_values = {**latest, "impressions": 99_999}  # idempotent on the key
    good = [
        first,
        latest,
        latest,
        same_key_other_values,
        snapshot(post_b.post_id, 20, 500, reactions=5),
        snapshot(post_b.post_id, 5, 450),  # a counter that went down is kept as observed
        snapshot(post_leader.post_id, 5, 3000, members_reached=2000, reactions=60),
    ]
    bad = [
        snapshot(post_a.post_id, 3, 100, members_reached=200),  # more reached than impressions
        snapshot(foreign.post_id, 3, 100),  # another organisation's post
        snapshot(post_a.post_id, -24, 100),  # observed tomorrow
    ]
    for data in [*good[:3], *bad, *good[3:]]:
        await send_snapshot(nats_client, topology, org, data)

    letters = DeadLetters(nats_client.jetstream(), topology)

    async def dead_lettered() -> bool:
        return len(await letters.list(consumer="metrics_snapshots_observed")) == 3

    await eventually(dead_lettered, timeout=30)
    reasons = sorted(letter.reason for letter in await letters.list())
    assert any("members_reached is larger than impressions" in r for r in reasons), reasons
    assert any("belongs to another organisation" in r for r in reasons), reasons
    assert any("observed_at is in the future" in r for r in reasons), reasons

    base = f"/api/v1/orgs/{org}/metrics"
    summary: dict[str, Any] = {}

    async def summed() -> bool:
        response = await platform.http.get(f"{base}/summary", headers=platform.auth)
        summary.update(response.json())
        return bool(response.status_code == 200 and summary["totals"]["impressions"] == 2450)

    await eventually(summed, timeout=30)
    # Post A's latest (2000 impressions, 1500 reached, 30 + 5 + 2) and post B's lower latest
    # (450 impressions, no reach given: 450); the leader's post is reported apart.
    totals = summary["totals"]
    assert (totals["posts"], totals["impressions"], totals["reach"]) == (2, 2450, 1950)
    assert (totals["reactions"], totals["comments"], totals["reshares"]) == (30, 5, 2)
    assert totals["engagement"] == 37
    assert abs(totals["engagement_rate"] - 37 / 2450) < 1e-9
    # EMV in DKK: 2.45 x 75 = 183.75; 30 x 3 = 90; 5 x 10 = 50; 2 x 20 = 40: 363.75.
    assert summary["emv"]["currency"] == "DKK"
    assert summary["emv"]["amount"] == 363.75

    leadership: dict[str, Any] = {}

    async def leaders_summed() -> bool:
        leadership.update(
            (await platform.http.get(f"{base}/leadership", headers=platform.auth)).json()
        )
        return bool(leadership["totals"]["impressions"] == 3000)

    await eventually(leaders_summed, timeout=30)
    assert leadership["totals"]["posts"] == 1

    one = (await platform.http.get(f"{base}/posts/{post_b.post_id}", headers=platform.auth)).json()
    assert one["totals"]["impressions"] == 450

    await enrolled(platform, org, 3)
    participation = (await platform.http.get(f"{base}/participation", headers=platform.auth)).json()
    assert (participation["enrolled"], participation["posted"]) == (3, 2)
    assert abs(participation["rate"] - 2 / 3) < 1e-9

    async with platform.runtimes["metrics"].transaction() as session:
        await rollups.refresh(session)
    day = NOW.date().isoformat()
    by_track = (
        await platform.http.get(
            f"{base}/rollups/track", params={"since": day, "until": day}, headers=platform.auth
        )
    ).json()
    assert [(r["key"], r["impressions"], r["reach"]) for r in by_track["items"]] == [
        ("ambassadors", 2450, 1950)
    ]
    by_ambassador = (
        await platform.http.get(
            f"{base}/rollups/ambassador",
            params={"since": day, "until": day},
            headers=platform.auth,
        )
    ).json()
    assert sorted((r["key"], r["impressions"]) for r in by_ambassador["items"]) == sorted(
        [(str(a), 2000), (str(b), 450)]
    )

    events = await metrics_events(platform, nats_client, topology)
    came_back = {
        e.data["ambassador_id"]
        for e in events
        if e.type == AmbassadorMomentumChanged.spec.type and e.data["state"] == "active"
    }
    assert {str(a), str(b), str(leader)} <= came_back


async def test_leadership_is_reported_apart_and_only_to_those_allowed(platform: Platform) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    leader_post = post(uuid4(), leadership=True)
    await publish(platform, "content", org, leader_post)
    await known(platform, org, leader_post.post_id)
    bi = bearer(await new_key(platform.gateway, org, "bi"))
    base = f"/api/v1/orgs/{org}/metrics"

    assert (await platform.http.get(f"{base}/summary", headers=bi)).status_code == 200
    assert (await platform.http.get(f"{base}/leadership", headers=bi)).status_code == 403
    hidden = await platform.http.get(f"{base}/posts/{leader_post.post_id}", headers=bi)
    assert hidden.status_code == 404
    other = (await create_organisation(platform, f"Other {uuid4().hex[:8]}"))["id"]
    elsewhere = await platform.http.get(
        f"/api/v1/orgs/{other}/metrics/posts/{leader_post.post_id}", headers=platform.auth
    )
    assert elsewhere.status_code == 404


async def test_an_import_stores_good_rows_and_reports_each_bad_one(platform: Platform) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    other = (await create_organisation(platform, f"Other {uuid4().hex[:8]}"))["id"]
    mine, theirs = post(uuid4()), post(uuid4())
    await publish(platform, "content", org, mine)
    await publish(platform, "content", other, theirs)
    await known(platform, org, mine.post_id)
    await known(platform, other, theirs.post_id)
    base = f"/api/v1/orgs/{org}/metrics"
    when = (NOW - timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%S")
    csv_text = (
        "Post ID,Observed At,Impressions,Members Reached,Reactions,Comments,Reposts\n"
        f"{mine.post_id},{when},1200,900,12,3,1\n"
        f"{mine.post_id},{when}Z,1200,900,12,3,1\n"  # the same moment (UTC): a duplicate
        f"{theirs.post_id},{when},5,5,0,0,0\n"
        f"{mine.post_id},{when},10,20,0,0,0\n"
        f"{mine.post_id},not a date,10,5,0,0,0\n"
    )
    csv_import = await platform.http.post(
        f"{base}/imports",
        content=csv_text,
        headers={**platform.auth, "Content-Type": "text/csv"},
    )
    assert csv_import.status_code == 200, csv_import.text
    report = csv_import.json()
    assert (report["stored"], report["duplicates"]) == (1, 1)
    assert [f["row"] for f in report["failures"]] == [4, 5, 6]
    assert f"no post {theirs.post_id} is known" in report["failures"][0]["reason"]
    assert "members_reached is larger than impressions" in report["failures"][1]["reason"]

    company = [
        {
            "company_post_urn": "urn:li:share:1",
            "observed_at": (NOW - timedelta(hours=1)).isoformat(),
            "impressions": 300,
            "members_reached": 120,
            "reactions": 2,
        },
        {"company_post_urn": "urn:li:share:2", "impressions": 1},
    ]
    json_import = await platform.http.post(f"{base}/imports", json=company, headers=platform.auth)
    assert json_import.status_code == 200, json_import.text
    assert json_import.json()["stored"] == 1
    assert [f["row"] for f in json_import.json()["failures"]] == [2]
    again = await platform.http.post(f"{base}/imports", json=company[:1], headers=platform.auth)
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)

    compared = (await platform.http.get(f"{base}/company-comparison", headers=platform.auth)).json()
    # 900 reached against 120; 16 engagements against 2.
    assert compared["comparison"]["reach_ratio"] == 7.5
    assert compared["comparison"]["engagement_ratio"] == 8.0

    unreadable = await platform.http.post(
        f"{base}/imports",
        content="who,what\n1,2\n",
        headers={**platform.auth, "Content-Type": "text/csv"},
    )
    assert unreadable.status_code == 422
    assert unreadable.headers["content-type"] == "application/problem+json"

    rates = await platform.http.put(
        f"{base}/emv-rates/EUR",
        json={"cpm": 10, "per_reaction": 1, "per_comment": 2, "per_reshare": 3, "default": True},
        headers=platform.auth,
    )
    assert rates.status_code == 200, rates.text
    summary = (await platform.http.get(f"{base}/summary", headers=platform.auth)).json()
    # 1.2 x 10 = 12; 12 x 1 = 12; 3 x 2 = 6; 1 x 3 = 3: 33 EUR.
    assert (summary["emv"]["currency"], summary["emv"]["amount"]) == ("EUR", 33.0)


async def test_withdrawn_posts_stop_being_measured(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    published = post(uuid4(), days_ago=3)
    await publish(platform, "content", org, published)
    await known(platform, org, published.post_id)
    await send_snapshot(nats_client, topology, org, snapshot(published.post_id, 48, 100))
    await publish(
        platform,
        "content",
        org,
        PostWithdrawn(
            post_id=published.post_id,
            ambassador_id=published.ambassador_id,
            reason="deleted",
            withdrawn_at=NOW - timedelta(days=1),
        ),
    )
    url = f"/api/v1/orgs/{org}/metrics/posts/{published.post_id}"

    async def withdrawn() -> bool:
        body = (await platform.http.get(url, headers=platform.auth)).json()
        return bool(body["withdrawn_at"] and body["totals"]["impressions"] == 100)

    await eventually(withdrawn, timeout=30)
    await send_snapshot(nats_client, topology, org, snapshot(published.post_id, 1, 500))
    marker = post(uuid4())
    await send_snapshot(nats_client, topology, org, snapshot(published.post_id, 2, 400))
    await publish(platform, "content", org, marker)
    await known(platform, org, marker.post_id)
    await send_snapshot(nats_client, topology, org, snapshot(marker.post_id, 1, 7))

    async def marker_stored() -> bool:
        body = (
            await platform.http.get(
                f"/api/v1/orgs/{org}/metrics/posts/{marker.post_id}", headers=platform.auth
            )
        ).json()
        return bool(body["totals"]["impressions"] == 7)

    await eventually(marker_stored, timeout=30)  # the snapshots before it were settled
    body = (await platform.http.get(url, headers=platform.auth)).json()
    assert body["totals"]["impressions"] == 100


async def test_cohort_actuals_let_a_pilot_graduate_and_momentum_is_announced(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org, program = await new_program(platform)
    program_id = UUID(program["id"])
    base = f"/api/v1/orgs/{org}/programs/{program_id}"
    await platform.http.post(f"{base}/readiness", json=READINESS, headers=platform.auth)
    cohort = [uuid4() for _ in range(4)]
    leaders = [uuid4(), uuid4()]
    quiet_one = uuid4()
    phase = {**PILOT, "cohort": {"ambassador_ids": [], "criteria": "Volunteers"}}
    assert (
        await platform.http.put(f"{base}/phases/pilot", json=phase, headers=platform.auth)
    ).status_code == 200
    await publish(
        platform,
        "ambassadors",
        org,
        *(onboarded(a, program_id=program_id) for a in [*cohort, quiet_one]),
        *(onboarded(a, program_id=program_id, leadership=True) for a in leaders),
        AmbassadorProfileChanged(
            ambassador_id=cohort[0],
            leadership=False,
            segments=["sales_marketing"],
            topics=[],
            languages=["da"],
            posts_per_week=1,
            changed_at=NOW,
            version=2,
        ),
    )
    # Each of the cohort posts five times in the last 28 days: 20 posts / 5 members / 4 weeks.
    posts = [post(a, days_ago=1 + 5 * n, program_id=program_id) for a in cohort for n in range(5)]
    posts.append(post(leaders[0], leadership=True, program_id=program_id))
    posts.append(post(quiet_one, days_ago=40, program_id=program_id))
    await publish(platform, "content", org, *posts)
    for published in posts:
        await known(platform, org, published.post_id)
    await enrolled(platform, org, 5, program_id=program_id)
    await enrolled(platform, org, 2, program_id=program_id, leaders=True)

    runtime = platform.runtimes["metrics"]
    await run_schedule(runtime)

    check = await graduation_once_measured(platform, base)
    actuals = [
        e
        for e in await metrics_events(platform, nats_client, topology)
        if e.type == CohortActualsMeasured.spec.type
    ]
    measured = CohortActualsMeasured.model_validate(actuals[-1].data)
    assert measured.cohort_size == 5
    assert measured.active_rate == 0.8  # four of five posted in the 28 days
    assert measured.posts_per_ambassador_per_week == 1.0  # 20 / 5 / 4
    assert measured.leadership_participation == 0.5
    assert check["met"] is True, check

    events = await metrics_events(platform, nats_client, topology)
    quiet = [
        e
        for e in events
        if e.type == AmbassadorMomentumChanged.spec.type and e.data["state"] == "quiet"
    ]
    assert [e.data["ambassador_id"] for e in quiet] == [str(quiet_one)]
    assert not [e for e in events if e.type == ProgramMomentumDropped.spec.type]


async def test_the_cli_imports_a_csv_file_in_requests_and_reports_bad_rows(
    platform: Platform, tmp_path: Path
) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    key = (await new_key(platform.gateway, org, "admin"))["key"]
    published = post(uuid4())
    await publish(platform, "content", org, published)
    await known(platform, org, published.post_id)
    when = NOW - timedelta(hours=20)
    lines = ["post_id,observed_at,impressions,reactions"]
    lines += [
        f"{published.post_id},{(when + timedelta(minutes=n)).isoformat()},{100 + n},1"
        for n in range(1100)  # two requests
    ]
    lines.append(f"{uuid4()},{when.isoformat()},5,0")
    source = tmp_path / "export.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = tmp_path / "errors.csv"
    server = LoopbackServer(platform.gateway.app, free_port())
    await server.start()
    argv = ["metrics", "import", str(source), "--org", org, "--key", key, "--report", str(report)]
    argv += ["--url", f"http://127.0.0.1:{server.port}"]
    try:
        with pytest.raises(SystemExit) as exited:
            await asyncio.to_thread(cli.main, argv)
        assert exited.value.code == 1
        failures = list(csv.DictReader(report.open(encoding="utf-8")))
        assert [f["row"] for f in failures] == ["1102"]
        with pytest.raises(SystemExit) as again:
            await asyncio.to_thread(cli.main, argv)
        assert again.value.code == 1
    finally:
        await server.stop()
    body = (
        await platform.http.get(
            f"/api/v1/orgs/{org}/metrics/posts/{published.post_id}", headers=platform.auth
        )
    ).json()
    assert body["totals"]["impressions"] == 100 + 1099  # the latest observation


async def test_a_programs_falling_momentum_is_announced_once_a_week(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    program_id = uuid4()
    await publish(
        platform,
        "planner",
        org,
        ProgramCreated(
            program_id=program_id,
            playbook_version=1,
            disciplines=["social_selling"],
            fte_share=0.5,
            start_date=NOW.date() - timedelta(days=90),
            created_at=NOW - timedelta(days=90),
        ),
    )
    await program_known(platform, org, program_id)
    this_week = NOW.date() - timedelta(days=NOW.date().weekday())

    def in_week(ambassador_id: UUID, weeks_ago: int) -> PostPublished:
        day = this_week - timedelta(weeks=weeks_ago) + timedelta(days=2)
        return PostPublished(
            post_id=uuid4(),
            ambassador_id=ambassador_id,
            program_id=program_id,
            leadership=False,
            source="manual",
            published_at=datetime.combine(day, time(12), tzinfo=UTC),
        )

    people = [uuid4() for _ in range(4)]
    # Four active in each of the four weeks before the last full one, one in the last full week.
    posts = [in_week(a, weeks_ago) for a in people for weeks_ago in (2, 3, 4, 5)]
    posts.append(in_week(people[0], 1))
    await publish(platform, "content", org, *posts)
    for published in posts:
        await known(platform, org, published.post_id)

    await run_schedule(platform.runtimes["metrics"])
    await run_schedule(platform.runtimes["metrics"])

    drops = [
        ProgramMomentumDropped.model_validate(e.data)
        for e in await metrics_events(platform, nats_client, topology)
        if e.type == ProgramMomentumDropped.spec.type and e.orgid == org
    ]
    assert [(d.program_id, d.active_ambassadors, d.baseline, d.drop) for d in drops] == [
        (program_id, 1, 4.0, 0.75)
    ]
    assert drops[0].week_start == this_week - timedelta(weeks=1)
    momentum = (
        await platform.http.get(
            f"/api/v1/orgs/{org}/metrics/momentum",
            params={"program_id": str(program_id), "weeks": 6},
            headers=platform.auth,
        )
    ).json()
    assert [w["active_ambassadors"] for w in momentum["weeks"]] == [4, 4, 4, 4, 1, 0]
    assert momentum["trend"] == -0.75


async def test_a_first_post_makes_a_trained_ambassador_active_in_the_journey(
    platform: Platform,
) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    ada = await invite(platform, org, f"ada-{uuid4().hex[:6]}@acme.dk")
    base = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}"
    consent = await platform.http.post(f"{base}/consent", json=CONSENT, headers=platform.auth)
    assert consent.status_code == 200, consent.text
    trained = await platform.http.post(
        f"{base}/trainings", json={"enablement_format": "workshop"}, headers=platform.auth
    )
    assert trained.json()["state"] == "trained"

    await publish(platform, "content", org, post(UUID(ada["id"]), days_ago=0.1))

    async def active() -> bool:
        answer = await platform.http.get(base, headers=platform.auth)
        return bool(answer.json()["state"] == "active")

    await eventually(active, timeout=30)  # metrics measured it; the journey applied it


async def test_a_posts_engagement_is_announced_once_per_new_observation(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    author = uuid4()
    item = uuid4()
    published = post(author, content_item_id=item)
    await publish(platform, "content", org, published)
    await known(platform, org, published.post_id)
    runtime = platform.runtimes["metrics"]

    async def announce_after(data: dict[str, Any], impressions: int) -> None:
        await send_snapshot(nats_client, topology, org, data)

        async def stored() -> bool:
            response = await platform.http.get(
                f"/api/v1/orgs/{org}/metrics/posts/{published.post_id}", headers=platform.auth
            )
            return bool(response.json()["totals"]["impressions"] == impressions)

        await eventually(stored, timeout=30)
        async with runtime.transaction() as session:
            await schedule.announce_engagement(session, runtime.outbox)

    await announce_after(snapshot(published.post_id, 20, 400, reactions=8, comments=2), 400)
    await announce_after(snapshot(published.post_id, 5, 1000, reactions=20, reshares=5), 1000)
    async with runtime.transaction() as session:  # nothing new: nothing announced
        assert await schedule.announce_engagement(session, runtime.outbox) == 0

    announced: list[CloudEvent] = []

    async def both_announced() -> bool:
        announced[:] = [
            e
            for e in await metrics_events(platform, nats_client, topology)
            if e.type == PostEngagementMeasured.spec.type and e.orgid == org
        ]
        return len(announced) >= 2

    await eventually(both_announced, timeout=30)
    facts = [PostEngagementMeasured.model_validate(e.data) for e in announced]
    assert [(f.impressions, f.reactions, f.comments, f.reshares) for f in facts] == [
        (400, 8, 2, 0),
        (1000, 20, 0, 5),
    ]
    assert {(f.post_id, f.ambassador_id, f.content_item_id) for f in facts} == {
        (published.post_id, author, item)
    }
    assert facts[1].engagement_rate == pytest.approx(25 / 1000)
