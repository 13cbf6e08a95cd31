"""The BI export through the gateway: Parquet read back with pyarrow and CSV with the csv module
hold the hand-computed values; another organisation's rows never appear; leadership rows only
for callers who may see them; `since` gives only what changed; pages join up."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from nats.aio.client import Client as NatsClient

from advocacy_devtools import cli
from advocacy_devtools.embedded_nats import free_port
from advocacy_metrics.service import bi, rollups
from advocacy_shared.contracts.metrics import BI_COLUMNS, ExportPage
from advocacy_shared.envelope import utc_now
from advocacy_shared.topology import Topology
from tests.actors import bearer, new_key
from tests.conftest import Platform
from tests.e2e.test_metrics import known, onboarded, post, send_snapshot
from tests.e2e.test_planner import publish
from tests.e2e.test_skeleton import create_organisation
from tests.loopback import LoopbackServer
from tests.shared.helpers import eventually

TODAY = utc_now().date()
D2, D1 = TODAY - timedelta(days=2), TODAY - timedelta(days=1)


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"bi_export_settle_seconds": 0}  # the test reads what it has just stored


def at(day: Any, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=UTC).isoformat()


def snap(post_id: UUID, when: str, impressions: int, **counts: Any) -> dict[str, Any]:
    return {
        "post_id": str(post_id),
        "observed_at": when,
        "source": "tool:bi_test",
        "impressions": impressions,
        "reactions": 0,
        "comments": 0,
        "reshares": 0,
        **counts,
    }


async def export(
    platform: Platform, org: str, dataset: str, headers: dict[str, str], **params: str
) -> tuple[list[dict[str, Any]], str]:
    """The dataset's rows (as Python values) and the export's until."""
    response = await platform.http.get(
        f"/api/v1/orgs/{org}/metrics/export/{dataset}", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    until = response.headers["Advocacy-Export-Until"]
    if params.get("format") == "csv":
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.text))), until
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(pa.BufferReader(response.content))
    assert table.schema.names == [name for name, _ in BI_COLUMNS[dataset]]
    return table.to_pylist(), until


def counts(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        row[n] for n in ("impressions", "members_reached", "reactions", "comments", "reshares")
    )


async def test_bi_datasets_hold_hand_computed_values_for_their_organisation_and_callers(
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
    post_a = post(a, days_ago=3, discipline="engineering")
    post_b, post_leader = post(b, days_ago=3), post(leader, leadership=True, days_ago=3)
    foreign = post(uuid4(), days_ago=3)
    await publish(platform, "content", org, post_a, post_b, post_leader)
    await publish(platform, "content", other, foreign)
    for org_id, published in [(org, post_a), (org, post_leader), (other, foreign)]:
        await known(platform, org_id, published.post_id)
    sent = [
        (org, snap(post_a.post_id, at(D2, 12), 1000, members_reached=800, reactions=10)),
        (org, snap(post_a.post_id, at(D2, 18), 1200, members_reached=900, reactions=12)),
        (
            org,
            snap(
                post_a.post_id,
                at(D1, 12),
                2000,
                members_reached=1500,
                reactions=30,
                comments=5,
                reshares=2,
            ),
        ),
        (org, snap(post_b.post_id, at(D1, 8), 500, reactions=5)),
        (org, snap(post_leader.post_id, at(D1, 9), 3000, members_reached=2000)),
        (other, snap(foreign.post_id, at(D1, 9), 777)),
    ]
    for org_id, data in sent:
        await send_snapshot(nats_client, topology, org_id, data)
    bi_key = bearer(await new_key(platform.gateway, org, "bi"))

    async def all_stored() -> bool:
        rows, _ = await export(platform, org, "post_days", platform.auth)
        return len(rows) == 4

    await eventually(all_stored, timeout=30)
    async with platform.runtimes["metrics"].transaction() as session:
        await rollups.refresh(session)

    # The fact table for a `bi` key: each post's last observation of each day, no leader's post.
    days, first_until = await export(platform, org, "post_days", bi_key)
    by_post = {(UUID(r["post_id"]), r["day"]): r for r in days}
    assert set(by_post) == {(post_a.post_id, D2), (post_a.post_id, D1), (post_b.post_id, D1)}
    assert counts(by_post[(post_a.post_id, D2)]) == (1200, 900, 12, 0, 0)
    assert counts(by_post[(post_a.post_id, D1)]) == (2000, 1500, 30, 5, 2)
    assert counts(by_post[(post_b.post_id, D1)]) == (500, None, 5, 0, 0)
    assert by_post[(post_a.post_id, D1)]["observed_at"] == datetime.combine(D1, time(12), UTC)
    assert by_post[(post_a.post_id, D1)]["discipline"] == "engineering"
    assert {r["track"] for r in days} == {"ambassadors"}
    key_a = by_post[(post_a.post_id, D2)]["ambassador_key"]
    assert key_a == by_post[(post_a.post_id, D1)]["ambassador_key"]  # stable
    assert key_a != by_post[(post_b.post_id, D1)]["ambassador_key"]
    assert len(key_a) == 32
    assert str(a) not in {r["ambassador_key"] for r in days}

    # The organisation's admin sees the leader's day too; the other organisation only its own.
    with_leaders, _ = await export(platform, org, "post_days", platform.auth)
    assert {(UUID(r["post_id"]), r["track"]) for r in with_leaders} >= {
        (post_leader.post_id, "leadership")
    }
    theirs, _ = await export(platform, other, "post_days", platform.auth)
    assert [(UUID(r["post_id"]), r["impressions"]) for r in theirs] == [(foreign.post_id, 777)]
    for dataset in BI_COLUMNS:
        rows, _ = await export(platform, org, dataset, platform.auth, format="csv")
        assert str(foreign.post_id) not in repr(rows)
    refused = await platform.http.get(f"/api/v1/orgs/{other}/metrics/export/posts", headers=bi_key)
    assert refused.status_code in {403, 404}

    # Rollups as CSV: sums of the values carried to each day; leadership only to the admin.
    rows, _ = await export(platform, org, "rollups", bi_key, format="csv")
    by_track = {(r["day"], r["key"]): r for r in rows if r["dimension"] == "track"}
    assert by_track[(D2.isoformat(), "ambassadors")]["impressions"] == "1200"
    assert by_track[(D1.isoformat(), "ambassadors")]["impressions"] == "2500"
    assert by_track[(D1.isoformat(), "ambassadors")]["reach"] == "2000"  # 1500 + b's 500
    assert by_track[(TODAY.isoformat(), "ambassadors")]["posts"] == "2"  # carried forward
    assert {r["track"] for r in rows} == {"ambassadors"}
    ambassador_keys = {r["key"] for r in rows if r["dimension"] == "ambassador"}
    assert key_a in ambassador_keys
    assert str(a) not in ambassador_keys
    admin_rows, _ = await export(platform, org, "rollups", platform.auth, format="csv")
    leader_day = [r for r in admin_rows if r["track"] == "leadership" and r["dimension"] == "track"]
    assert (leader_day[0]["day"], leader_day[0]["impressions"]) == (D1.isoformat(), "3000")

    # Participation: 2 of the 3 enrolled ambassadors posted; leaders apart, for the admin only.
    part, _ = await export(platform, org, "participation", bi_key)
    assert [(r["program_id"], r["track"], r["enrolled"], r["posted"]) for r in part] == [
        (None, "ambassadors", 3, 2)
    ]
    assert abs(part[0]["rate"] - 2 / 3) < 1e-9
    part_all, _ = await export(platform, org, "participation", platform.auth)
    assert [(r["track"], r["enrolled"], r["posted"]) for r in part_all][1] == ("leadership", 1, 1)
    people, _ = await export(platform, org, "ambassadors", bi_key)
    assert sorted(r["state"] for r in people) == ["active", "active", "never_posted"]
    momentum, _ = await export(platform, org, "momentum", bi_key)
    assert sum(r["posts"] for r in momentum) == 2
    assert len(momentum) == 8

    # Incremental: only what was written after the first export's until.
    await send_snapshot(
        nats_client, topology, org, snap(post_b.post_id, at(D1, 20), 700, reactions=6)
    )

    async def changed() -> bool:
        rows, _ = await export(platform, org, "post_days", bi_key, since=first_until)
        return len(rows) == 1

    await eventually(changed, timeout=30)
    delta, _ = await export(platform, org, "post_days", bi_key, since=first_until, format="csv")
    assert [(r["post_id"], r["day"], r["impressions"]) for r in delta] == [
        (str(post_b.post_id), D1.isoformat(), "700")
    ]
    latest, _ = await export(platform, org, "posts", bi_key, since=first_until)
    assert [(UUID(r["post_id"]), r["impressions"]) for r in latest] == [(post_b.post_id, 700)]


async def test_an_export_reads_page_after_page_by_key(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    published = [post(uuid4(), days_ago=3) for _ in range(5)]
    await publish(platform, "content", org, *published)
    for p in published:
        await known(platform, org, p.post_id)
        await send_snapshot(nats_client, topology, org, snap(p.post_id, at(D1, 9), 100))

    async def stored() -> bool:
        rows, _ = await export(platform, org, "post_days", platform.auth)
        return len(rows) == 5

    await eventually(stored, timeout=30)
    request = ExportPage(organisation_id=UUID(org), dataset="post_days", until=utc_now(), limit=2)
    seen: list[str] = []
    pages = 0
    while True:
        async with platform.runtimes["metrics"].transaction() as session:
            page = await bi.export_page(session, request)
        pages += 1
        seen.extend(str(row[0]) for row in page.rows)
        if page.after is None:
            break
        request = request.model_copy(update={"after": page.after})
    assert pages == 3
    assert seen == sorted(str(p.post_id) for p in published)


async def test_the_cli_writes_a_dataset_to_a_parquet_file(
    platform: Platform, nats_client: NatsClient, topology: Topology, tmp_path: Path
) -> None:
    org = (await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"]
    key = (await new_key(platform.gateway, org, "bi"))["key"]
    published = post(uuid4(), days_ago=3)
    await publish(platform, "content", org, published)
    await known(platform, org, published.post_id)
    await send_snapshot(nats_client, topology, org, snap(published.post_id, at(D1, 9), 321))

    async def stored() -> bool:
        rows, _ = await export(platform, org, "post_days", platform.auth)
        return len(rows) == 1

    await eventually(stored, timeout=30)
    target = tmp_path / "post_days.parquet"
    server = LoopbackServer(platform.gateway.app, free_port())
    await server.start()
    argv = ["metrics", "export", "post_days", "--org", org, "--key", key, "-o", str(target)]
    argv += ["--url", f"http://127.0.0.1:{server.port}"]
    try:
        with pytest.raises(SystemExit) as exited:
            await asyncio.to_thread(cli.main, argv)
        assert exited.value.code == 0
    finally:
        await server.stop()
    rows = pq.read_table(target).to_pylist()
    assert [(UUID(r["post_id"]), r["day"], r["impressions"]) for r in rows] == [
        (published.post_id, D1, 321)
    ]
