"""kill -9 of the metrics service, a real `python -m advocacy_metrics serve` process, three times
during an ingest of snapshot events from NATS (issue 14: 200,000 events; the suite runs
`ADVOCACY_FAULT_METRICS_EVENTS`, 10,000 by default, so that CI stays well under a minute; run
`ADVOCACY_FAULT_METRICS_EVENTS=200000 pytest tests/fault/test_kill_metrics.py` for the issue's
size). It is started again after each kill, as a supervisor would.

Afterwards every snapshot is stored exactly once, and the latest values, the daily values and the
daily rollups equal those of an uninterrupted run: the same events stored in one pass, through
the same service code, into a second database.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from advocacy_devtools.testing import MakeDatabase
from advocacy_metrics.models import posts
from advocacy_metrics.service import ingest, rollups
from advocacy_metrics.settings import MetricsSettings
from advocacy_shared.contracts.metrics import PostMetricsObserved
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.streams import ensure_streams
from advocacy_shared.topology import Topology
from tests.fault.conftest import FaultReport
from tests.fault.processes import ServiceProcess, child_environment
from tests.shared.helpers import eventually

pytestmark = pytest.mark.timeout(1800)  # 200,000 events under load when asked for

EVENTS = int(os.environ.get("ADVOCACY_FAULT_METRICS_EVENTS", "10000"))
POSTS = 200
KILLS = 3
COMPARED = {
    "post_latest": "post_id",
    "post_daily": "post_id, day",
    "daily_rollups": "organisation_id, track, dimension, day, key",
}


def post_rows(organisation_id: uuid.UUID, count: int) -> list[dict[str, Any]]:
    """Posts in three programs, two disciplines, one in ten a leader's, published 40 days ago."""
    published_at = datetime.now(UTC) - timedelta(days=40)
    return [
        {
            "post_id": uuid.uuid4(),
            "organisation_id": organisation_id,
            "ambassador_id": uuid.uuid4(),
            "program_id": uuid.UUID(int=n % 3 + 1),
            "content_item_id": None,
            "discipline": ("engineering", "sales")[n % 2],
            "leadership": n % 10 == 0,
            "linkedin_post_urn": None,
            "source": "manual",
            "published_at": published_at,
            "withdrawn_at": None,
            "withdrawn_reason": None,
            "changed_at": published_at,
        }
        for n in range(count)
    ]


def snapshot_events(organisation_id: uuid.UUID, post_ids: Sequence[uuid.UUID]) -> list[CloudEvent]:
    """`EVENTS` distinct snapshots spread over the last 30 days, counts growing per post."""
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=29) / EVENTS
    return [
        CloudEvent(
            source="/fault",
            type=PostMetricsObserved.spec.type,
            data={
                "post_id": str(post_ids[n % len(post_ids)]),
                "observed_at": (start + n * step).isoformat(),
                "source": "fault",
                "impressions": 1000 + n,
                "members_reached": 500 + n // 2,
                "reactions": n % 97,
                "comments": n % 13,
                "reshares": n % 5,
            },
            orgid=str(organisation_id),
            correlationid="fault",
        )
        for n in range(EVENTS)
    ]


async def add_posts(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        await connection.execute(posts.insert(), rows)


async def uninterrupted(url: str, rows: list[dict[str, Any]], events: list[CloudEvent]) -> None:
    """The reference: the same events stored by the same code in one pass, then the rollups."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        await add_posts(engine, rows)
        batch = [(PostMetricsObserved.model_validate(e.data), e) for e in events]
        for n in range(0, len(batch), 5000):
            async with sessions() as session, session.begin():
                await ingest.snapshots_observed(session, batch[n : n + 5000])
        async with sessions() as session, session.begin():
            await rollups.refresh(session)
    finally:
        await engine.dispose()


async def table(engine: AsyncEngine, name: str) -> list[tuple[Any, ...]]:
    """A compared table's rows without `changed_at` (when each was written differs)."""
    async with engine.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM {name} ORDER BY {COMPARED[name]}"))  # noqa: S608
        keep = [n for n, column in enumerate(result.keys()) if column != "changed_at"]
        return [tuple(row[n] for n in keep) for row in result]


async def scalar(engine: AsyncEngine, query: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(query))).scalar_one())


async def test_kill_9_of_the_metrics_service_three_times_during_an_ingest(
    nats_server_url: str,
    nats_client: NatsClient,
    make_database: MakeDatabase,
    topology: Topology,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, topology, MetricsSettings(namespace=topology.namespace))
    organisation_id = uuid.uuid4()
    rows = post_rows(organisation_id, POSTS)
    events = snapshot_events(organisation_id, [r["post_id"] for r in rows])
    url = await make_database("metrics", "advocacy_metrics")
    engine = create_engine(url)
    await add_posts(engine, rows)
    subject = PostMetricsObserved.spec.subject(topology)
    env = child_environment(
        {
            "NATS_URL": nats_server_url,
            "ADVOCACY_NAMESPACE": topology.namespace,
            "ADVOCACY_METRICS_DATABASE_URL": url,
            "ADVOCACY_DATA_DIR": str(tmp_path),
            "ADVOCACY_CONSUMER_ACK_WAIT_SECONDS": "2",
            "ADVOCACY_ROLLUP_INTERVAL_SECONDS": "1",  # rollup passes get killed too
        }
    )
    service = ServiceProcess("advocacy_metrics", env, tmp_path / "metrics.log")

    chunks = KILLS + 2
    bounds = [EVENTS * n // chunks for n in range(chunks + 1)]

    async def publish(chunk: int) -> None:
        for event in events[bounds[chunk] : bounds[chunk + 1]]:
            await nats_client.publish(subject, event.to_bytes(), headers={"Nats-Msg-Id": event.id})
        await nats_client.flush()

    async def applied() -> int:
        """Snapshots stored: once each, by their key (the batches write no inbox rows)."""
        return await scalar(engine, "SELECT count(*) FROM snapshots")

    # The events come in KILLS + 2 chunks: two at first, one more after each restart. Kill k comes
    # once k chunks are stored, with the next one still coming in; the chunk published after the
    # restart can only be stored by the restarted service, so its recovery is always measurable
    # (were everything published at once, a fast service could store it all before the last kill).
    recoveries: list[float] = []
    try:
        service.start()
        await service.answering("metrics")
        await publish(0)
        await publish(1)
        for kill in range(1, KILLS + 1):

            async def past(threshold: int = bounds[kill]) -> bool:
                return await applied() >= threshold

            await eventually(past, timeout=600, interval=0.1)
            service.kill()
            killed = time.monotonic()
            service.start()
            await service.answering("metrics")  # fails at once, with its log, if it died
            before = await applied()
            await publish(kill + 1)

            async def moving(before: int = before) -> bool:
                return await applied() > before

            await eventually(moving, timeout=120, interval=0.1)
            recoveries.append(time.monotonic() - killed)

        async def caught_up() -> bool:
            return await applied() >= EVENTS

        await eventually(caught_up, timeout=900, interval=0.2)
        service.stop()
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            await rollups.refresh(session)  # what marks the last killed pass left

        reference_url = await make_database("metrics_reference", "advocacy_metrics")
        await uninterrupted(reference_url, rows, events)
        reference = create_engine(reference_url)
        try:
            ours = {name: await table(engine, name) for name in COMPARED}
            theirs = {name: await table(reference, name) for name in COMPARED}
        finally:
            await reference.dispose()
        stored = await applied()
        leftover_marks = await scalar(engine, "SELECT count(*) FROM rollup_dirty")
    finally:
        service.stop()
        await engine.dispose()

    ids = {event.id for event in events}
    assert len(ids) == EVENTS
    different = {name: len(set(ours[name]) ^ set(theirs[name])) for name in COMPARED}
    row = fault_report.add(
        f"kill -9 of the metrics service x{KILLS} (snapshots)",
        events=EVENTS,
        lost=EVENTS - stored,
        applied_twice=different["daily_rollups"],  # a snapshot counted twice raises a sum
        out_of_order=different["post_latest"] + different["post_daily"],
        recovery_seconds=max(recoveries),
    )
    assert len(recoveries) == KILLS
    assert (row.lost, row.applied_twice, row.out_of_order) == (0, 0, 0), (row, different)
    assert ours == theirs
    assert leftover_marks == 0
    assert len(ours["daily_rollups"]) > POSTS  # the comparison compares something
