"""Daily rollups: per UTC day and per dimension, the sum of the values each post had at the end
of that day (its last observation on or before it, carried forward), for the posts observed so
far. Dimensions: `ambassador`, `program`, `discipline`, `segment` (a post counts in each of its
author's segments), `track` (`ambassadors` or `leadership`). Leaders' posts roll up only in the
`leadership` track, so that every other figure leaves them out.

Snapshot ingestion only marks the (organisation, day) it touched; `refresh` takes the marks and
recomputes, from the earliest marked day to today, every organisation with marks (a background
task every `rollup_interval_seconds`); marks taken before the recomputation, so that a batch
committed meanwhile is never left unrolled (`repository.take_dirty_days`). A value carried
forward is the day's own when no newer one came: a
counter that went down rolls up lower, as observed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics import repository
from advocacy_metrics.service import measures
from advocacy_metrics.service.reports import today

FIELDS = ("impressions", "reach", "reactions", "comments", "reshares", "clicks")


async def refresh(session: AsyncSession) -> int:
    """Recompute the rollups of every organisation with marked days; returns how many."""
    marked = await repository.take_dirty_days(session)
    for organisation_id, days in marked.items():
        await refresh_organisation(session, organisation_id, min(days))
    return len(marked)


async def refresh_organisation(session: AsyncSession, organisation_id: UUID, since: date) -> None:
    until = max(today(), since)
    rows = await repository.daily_values(session, organisation_id, until)
    segments = {
        row.ambassador_id: list(row.segments or [])
        for row in await repository.ambassadors_of(session, organisation_id, enrolled_only=False)
    }
    sums: dict[tuple[str, str, date, str], list[int]] = defaultdict(lambda: [0] * 7)
    by_post: dict[UUID, list[Any]] = defaultdict(list)
    for row in rows:
        by_post[row.post_id].append(row)
    for series in by_post.values():
        first = series[0]
        track = "leadership" if first.leadership else "ambassadors"
        keys = [
            ("ambassador", str(first.ambassador_id)),
            ("program", str(first.program_id) if first.program_id else "none"),
            ("discipline", first.discipline or "none"),
            ("track", track),
            *(("segment", s) for s in segments.get(first.ambassador_id) or ["none"]),
        ]
        for day, values in _carried(series, since, until):
            for dimension, key in keys:
                total = sums[(track, dimension, day, key)]
                total[0] += 1
                for n, value in enumerate(values, start=1):
                    total[n] += value
    await repository.replace_rollups(
        session,
        organisation_id,
        since,
        [
            {
                "organisation_id": organisation_id,
                "track": track,
                "dimension": dimension,
                "day": day,
                "key": key[:80],
                "posts": total[0],
                **dict(zip(FIELDS, total[1:], strict=True)),
            }
            for (track, dimension, day, key), total in sums.items()
        ],
    )


def _carried(series: list[Any], since: date, until: date) -> list[tuple[date, list[int]]]:
    """(day, values) for each day from `since` (or the first observation) to `until`."""
    out: list[tuple[date, list[int]]] = []
    index = 0
    current: list[int] | None = None
    day = min(since, series[0].day)
    while day <= until:
        while index < len(series) and series[index].day <= day:
            row = series[index]
            current = [
                row.impressions or 0,
                measures.reach_of(row),
                row.reactions or 0,
                row.comments or 0,
                row.reshares or 0,
                row.clicks or 0,
            ]
            index += 1
        if current is not None and day >= since:
            out.append((day, current))
        day += timedelta(days=1)
    return out
