"""A batch of snapshot events is checked against its posts before anything is stored (on
PostgreSQL inside the storing statement, elsewhere in Python): the first event with a problem
fails the whole batch with its reason, and a snapshot observed after its post's withdrawal is
skipped. Real database: whichever the run uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from advocacy_metrics.models import posts, snapshots
from advocacy_metrics.service import ingest
from advocacy_shared.contracts.metrics import PostMetricsObserved
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent
from tests.metrics.snapshots import post_row, snapshot

NOW = datetime.now(UTC)


def post(organisation_id: uuid.UUID, withdrawn_at: datetime | None = None) -> dict[str, Any]:
    return post_row(organisation_id, NOW - timedelta(days=10), NOW, withdrawn_at)


def event(
    organisation_id: uuid.UUID, post_id: uuid.UUID, days_ago: float
) -> tuple[PostMetricsObserved, CloudEvent]:
    return snapshot(organisation_id, post_id, NOW - timedelta(days=days_ago))


async def test_the_first_problem_fails_the_batch_and_a_withdrawn_posts_later_snapshot_is_skipped(
    make_database: Any,
) -> None:
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    mine, foreign = post(ours), post(theirs)
    withdrawn = post(ours, withdrawn_at=NOW - timedelta(days=2))
    engine = create_engine(await make_database("metrics_checks", "advocacy_metrics"))
    sessions = session_factory(engine)
    try:
        async with engine.begin() as connection:
            await connection.execute(posts.insert(), [mine, foreign, withdrawn])

        good = event(ours, mine["post_id"], 1)
        problems = [
            (event(ours, uuid.uuid4(), 1), ingest.UnknownPost, "has been published"),
            (event(ours, foreign["post_id"], 1), ingest.Refused, "another organisation"),
            (event(ours, mine["post_id"], -1), ingest.Refused, "in the future"),
            (event(ours, mine["post_id"], 11), ingest.Refused, "before the post was published"),
        ]
        for bad, kind, reason in problems:
            with pytest.raises(kind, match=reason):
                async with sessions() as session, session.begin():
                    await ingest.snapshots_observed(session, [good, bad, good])

        async with sessions() as session, session.begin():
            assert await session.scalar(select(func.count()).select_from(snapshots)) == 0
            await ingest.snapshots_observed(
                session,
                [
                    good,
                    event(ours, withdrawn["post_id"], 3),  # before the withdrawal: kept
                    event(ours, withdrawn["post_id"], 1),  # after it: skipped
                ],
            )
        async with sessions() as session:
            stored = await session.execute(select(snapshots.c.post_id, snapshots.c.observed_at))
            assert sorted((p, o) for p, o in stored) == sorted(
                [
                    (mine["post_id"], good[0].observed_at),
                    (withdrawn["post_id"], NOW - timedelta(days=3)),
                ]
            )
    finally:
        await engine.dispose()
