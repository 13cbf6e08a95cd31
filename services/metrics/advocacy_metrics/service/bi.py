"""The BI datasets (docs/metrics.md, "BI export"): a star schema read a page at a time.

The fact table `post_days` (each post's last observation of each UTC day) with the dimensions
`posts` (content, with its latest values), `ambassadors` (pseudonymised, with momentum), and the
aggregates `rollups`, `participation` and `momentum`. Rows are lists in `BI_COLUMNS` order.

Incremental datasets (`BI_INCREMENTAL`) give the rows written in (`since`, `until`], a page at a
time by key: the caller (the gateway) fixes `until` for the whole export and returns it as the
next export's `since`. The others are computed whole for each export.

Ambassadors appear only as `ambassador_key`, an HMAC of their id under a key of the organisation's
own: stable across exports, not reversible, different in every organisation. Leadership rows
(a leader's posts, their days, the leadership track's rollups, leaders) only when the caller may
see leadership metrics.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics import repository
from advocacy_metrics.service import reports
from advocacy_shared.contracts.errors import Invalid
from advocacy_shared.contracts.metrics import (
    BI_COLUMNS,
    BiCell,
    ExportPage,
    ExportRows,
    GetMomentum,
    GetParticipation,
)

MOMENTUM_WEEKS = 8
COUNT_NAMES = repository.COUNTS


def cell(value: Any) -> BiCell:
    """A value as the page carries it: ids and times as strings (ISO 8601)."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def pseudonymiser(secret: str) -> Callable[[UUID | None], str | None]:
    key = secret.encode()

    def pseudonym(ambassador_id: UUID | None) -> str | None:
        if ambassador_id is None:
            return None
        return hmac.new(key, ambassador_id.bytes, hashlib.sha256).hexdigest()[:32]

    return pseudonym


def track_of(leadership: bool) -> str:
    return "leadership" if leadership else "ambassadors"


async def export_page(session: AsyncSession, request: ExportPage) -> ExportRows:
    until = request.until
    if until is None or until.tzinfo is None:
        raise Invalid("until must be given, with a time zone")
    if request.since is not None and request.since.tzinfo is None:
        raise Invalid("since must have a time zone")
    secret = await repository.bi_secret(session, request.organisation_id, secrets.token_hex(32))
    pseudonym = pseudonymiser(secret)
    exporter = _EXPORTERS[request.dataset]
    rows, after = await exporter(session, request, until, pseudonym)
    return ExportRows(rows=[[cell(v) for v in row] for row in rows], after=after, until=until)


Pseudonym = Callable[[UUID | None], str | None]
Page = tuple[list[list[Any]], list[str] | None]


def _next(rows: list[Any], limit: int, key: Callable[[Any], list[str]]) -> list[str] | None:
    """The last row's key when the page is full (there may be more), else None (the end)."""
    return key(rows[-1]) if len(rows) >= limit else None


def _after(request: ExportPage, size: int) -> list[str] | None:
    if request.after is not None and len(request.after) != size:
        raise Invalid(f"after names {size} values for {request.dataset}")
    return request.after


async def _post_days(
    session: AsyncSession, request: ExportPage, until: datetime, pseudonym: Pseudonym
) -> Page:
    after = _after(request, 2)
    found = await repository.post_days_page(
        session,
        request.organisation_id,
        since=request.since,
        until=until,
        after=(UUID(after[0]), date.fromisoformat(after[1])) if after else None,
        limit=request.limit,
        leadership=request.leadership,
    )
    rows = [
        [
            r.post_id,
            r.day,
            pseudonym(r.ambassador_id),
            r.program_id,
            r.content_item_id,
            r.discipline,
            track_of(r.leadership),
            r.published_at,
            r.observed_at,
            *(getattr(r, name) for name in COUNT_NAMES),
            r.changed_at,
        ]
        for r in found
    ]
    return rows, _next(found, request.limit, lambda r: [str(r.post_id), r.day.isoformat()])


async def _posts(
    session: AsyncSession, request: ExportPage, until: datetime, pseudonym: Pseudonym
) -> Page:
    after = _after(request, 1)
    found = await repository.posts_page(
        session,
        request.organisation_id,
        since=request.since,
        until=until,
        after=UUID(after[0]) if after else None,
        limit=request.limit,
        leadership=request.leadership,
    )
    rows = [
        [
            r.post_id,
            pseudonym(r.ambassador_id),
            r.program_id,
            r.content_item_id,
            r.discipline,
            track_of(r.leadership),
            r.source,
            r.published_at,
            r.withdrawn_at,
            r.observed_at,
            *(getattr(r, name) for name in COUNT_NAMES),
            max(r.changed_at, r.latest_changed),
        ]
        for r in found
    ]
    return rows, _next(found, request.limit, lambda r: [str(r.post_id)])


async def _rollups(
    session: AsyncSession, request: ExportPage, until: datetime, pseudonym: Pseudonym
) -> Page:
    after = _after(request, 4)
    found = await repository.rollups_page(
        session,
        request.organisation_id,
        since=request.since,
        until=until,
        after=(after[0], after[1], date.fromisoformat(after[2]), after[3]) if after else None,
        limit=request.limit,
        leadership=request.leadership,
    )

    def key(r: Any) -> str:
        return (pseudonym(UUID(r.key)) or "") if r.dimension == "ambassador" else r.key

    rows = [
        [
            r.day,
            r.track,
            r.dimension,
            key(r),
            r.posts,
            r.impressions,
            r.reach,
            r.reactions,
            r.comments,
            r.reshares,
            r.clicks,
            r.changed_at,
        ]
        for r in found
    ]
    return rows, _next(
        found, request.limit, lambda r: [r.track, r.dimension, r.day.isoformat(), r.key]
    )


async def _ambassadors(
    session: AsyncSession, request: ExportPage, until: datetime, pseudonym: Pseudonym
) -> Page:
    after = _after(request, 1)
    found = await repository.ambassadors_page(
        session,
        request.organisation_id,
        after=UUID(after[0]) if after else None,
        limit=request.limit,
        leadership=request.leadership,
    )
    last = await repository.last_posts(
        session, request.organisation_id, [r.ambassador_id for r in found]
    )
    end = reports.bounds(until.date(), until.date())[1]
    rows = []
    for r in found:
        posted_at = last.get(r.ambassador_id)
        days = (end - posted_at).days if posted_at is not None else None
        state = (
            "never_posted"
            if days is None
            else ("quiet" if days >= reports.QUIET_AFTER_DAYS else "active")
        )
        rows.append(
            [
                pseudonym(r.ambassador_id),
                r.program_id,
                track_of(r.leadership),
                ";".join(r.segments or []),
                r.enrolled_at,
                r.left_at,
                posted_at,
                days,
                state,
            ]
        )
    return rows, _next(found, request.limit, lambda r: [str(r.ambassador_id)])


async def _participation(
    session: AsyncSession, request: ExportPage, until: datetime, _pseudonym: Pseudonym
) -> Page:
    """One row per program (and one for all, `program_id` empty) and track, as of `until`."""
    tracks = ["ambassadors", "leadership"] if request.leadership else ["ambassadors"]
    programs = await repository.program_ids(session, request.organisation_id)
    rows: list[list[Any]] = []
    for program_id in [None, *programs[: request.limit // 2 - 1]]:
        for track in tracks:
            got = await reports.participation(
                session,
                GetParticipation(
                    organisation_id=request.organisation_id,
                    program_id=program_id,
                    as_of=until.date(),
                    track=track,
                ),
            )
            rows.append(
                [
                    program_id,
                    track,
                    got.as_of,
                    got.window_days,
                    got.enrolled,
                    got.posted,
                    got.rate,
                ]
            )
    return rows, None


async def _momentum(
    session: AsyncSession, request: ExportPage, until: datetime, _pseudonym: Pseudonym
) -> Page:
    """The weekly activity (leadership apart) per program and for all, with the trend."""
    programs = await repository.program_ids(session, request.organisation_id)
    rows: list[list[Any]] = []
    for program_id in [None, *programs[: request.limit // MOMENTUM_WEEKS - 1]]:
        got = await reports.momentum(
            session,
            GetMomentum(
                organisation_id=request.organisation_id,
                program_id=program_id,
                weeks=MOMENTUM_WEEKS,
                as_of=until.date(),
            ),
        )
        rows.extend(
            [program_id, w.week_start, w.active_ambassadors, w.posts, got.trend] for w in got.weeks
        )
    return rows, None


_EXPORTERS = {
    "post_days": _post_days,
    "posts": _posts,
    "rollups": _rollups,
    "ambassadors": _ambassadors,
    "participation": _participation,
    "momentum": _momentum,
}
assert set(_EXPORTERS) == set(BI_COLUMNS)
