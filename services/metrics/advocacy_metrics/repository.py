"""Every query of the metrics service. Each one filters by organisation, or by ids that were
checked against it (a post's row carries its organisation and is compared before any write)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Insert,
    Row,
    Table,
    and_,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics.models import (
    MARK_SLOTS,
    ambassadors,
    bi_keys,
    company_latest,
    company_pages,
    company_posts,
    company_snapshots,
    daily_rollups,
    emv_rates,
    linkedin_budget,
    linkedin_members,
    linkedin_polls,
    momentum_drops,
    post_daily,
    post_latest,
    posts,
    programs,
    rollup_dirty,
    snapshots,
    tenants,
)
from advocacy_shared.db import LeanStatement, scoped_upsert
from advocacy_shared.envelope import utc_now
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)

COUNTS = ("impressions", "members_reached", "reactions", "comments", "reshares", "clicks")


def _insert(session: AsyncSession, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL alike)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def _insert_ignoring(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    if rows:
        statement: Insert = _insert(session, table).on_conflict_do_nothing()
        await session.execute(statement, list(rows))


async def _upsert_newer(
    session: AsyncSession, table: Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert, or replace a row only by a strictly newer observation (`observed_at`). Rows must
    be unique on `keys` (one statement may not touch a row twice)."""
    if not rows:
        return
    statement = _insert(session, table)
    replaced = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_=replaced,
        where=statement.excluded.observed_at > table.c.observed_at,
    )
    await session.execute(statement, list(rows))


# --- Posts and snapshots -------------------------------------------------------------------------


class _Post(NamedTuple):
    post_id: UUID
    organisation_id: UUID
    published_at: datetime
    withdrawn_at: datetime | None
    withdrawn_reason: str | None


async def post_rows(session: AsyncSession, post_ids: Iterable[UUID]) -> dict[UUID, Any]:
    """The posts with these ids, whatever their organisation (the caller compares it)."""
    ids = list(set(post_ids))
    if not ids:
        return {}
    if session.get_bind().dialect.name == "postgresql":  # one array parameter: a reused plan
        rows = await session.execute(
            text(
                "SELECT post_id, organisation_id, published_at, withdrawn_at, withdrawn_reason "
                "FROM posts WHERE post_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": ids},
        )
        return {row[0]: _Post(*row) for row in rows}
    query = select(
        posts.c.post_id,
        posts.c.organisation_id,
        posts.c.published_at,
        posts.c.withdrawn_at,
        posts.c.withdrawn_reason,
    ).where(posts.c.post_id.in_(ids))
    return {row.post_id: row for row in await session.execute(query)}


async def add_post(session: AsyncSession, values: dict[str, Any]) -> None:
    await _insert_ignoring(session, posts, [{**values, "changed_at": utc_now()}])


async def withdraw_post(
    session: AsyncSession, organisation_id: UUID, post_id: UUID, at: datetime, reason: str
) -> bool:
    result = await session.execute(
        update(posts)
        .where(posts.c.organisation_id == organisation_id, posts.c.post_id == post_id)
        .values(withdrawn_at=at, withdrawn_reason=reason, changed_at=utc_now())
    )
    return bool(getattr(result, "rowcount", 0))


async def forget_measurements(
    session: AsyncSession, organisation_id: UUID, post_ids: Sequence[UUID]
) -> None:
    """Delete what was measured of these posts (their author was erased)."""
    if not post_ids:
        return
    for table in (snapshots, post_latest, post_daily):
        await session.execute(
            delete(table).where(
                table.c.organisation_id == organisation_id, table.c.post_id.in_(post_ids)
            )
        )


async def posts_of_ambassador(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID
) -> list[UUID]:
    query = select(posts.c.post_id).where(
        posts.c.organisation_id == organisation_id, posts.c.ambassador_id == ambassador_id
    )
    return list((await session.execute(query)).scalars())


async def existing_snapshot_keys(
    session: AsyncSession, keys: Sequence[tuple[UUID, datetime, str]]
) -> set[tuple[UUID, datetime, str]]:
    if not keys:
        return set()
    post_ids = {k[0] for k in keys}
    query = select(snapshots.c.post_id, snapshots.c.observed_at, snapshots.c.source).where(
        snapshots.c.post_id.in_(post_ids)
    )
    wanted = set(keys)
    return {(r[0], r[1], r[2]) for r in await session.execute(query)} & wanted


SNAPSHOT_FIELDS = ("post_id", "observed_at", "source", "organisation_id", *COUNTS)

_COUNT_LIST = ", ".join(COUNTS)
_UPDATE_COUNTS = ", ".join(f"{c} = excluded.{c}" for c in COUNTS)
_UNNEST = """
    SELECT * FROM unnest(
        CAST(:post_id AS uuid[]), CAST(:observed_at AS timestamptz[]),
        CAST(:source AS varchar[]), CAST(:organisation_id AS ORG_TYPE[]),
        CAST(:impressions AS bigint[]), CAST(:members_reached AS bigint[]),
        CAST(:reactions AS bigint[]), CAST(:comments AS bigint[]), CAST(:reshares AS bigint[]),
        CAST(:clicks AS bigint[])
    ) WITH ORDINALITY AS t(post_id, observed_at, source, organisation_id, COUNT_LIST, n)
"""
_WRITES = """
stored AS (
    INSERT INTO snapshots (post_id, observed_at, source, organisation_id, COUNT_LIST)
    SELECT post_id, observed_at, source, organisation_id, COUNT_LIST FROM s
    ON CONFLICT DO NOTHING
), latest AS (
    INSERT INTO post_latest (post_id, organisation_id, observed_at, source, COUNT_LIST,
        changed_at)
    SELECT DISTINCT ON (post_id) post_id, organisation_id, observed_at, source, COUNT_LIST,
        CAST(:now AS timestamptz)
    FROM s ORDER BY post_id, observed_at DESC, source
    ON CONFLICT (post_id) DO UPDATE SET observed_at = excluded.observed_at,
        source = excluded.source, organisation_id = excluded.organisation_id, UPDATE_COUNTS,
        changed_at = excluded.changed_at
    WHERE excluded.observed_at > post_latest.observed_at
), daily AS (
    INSERT INTO post_daily (post_id, day, organisation_id, observed_at, COUNT_LIST, changed_at)
    SELECT DISTINCT ON (post_id, (observed_at AT TIME ZONE 'UTC')::date)
        post_id, (observed_at AT TIME ZONE 'UTC')::date, organisation_id, observed_at,
        COUNT_LIST, CAST(:now AS timestamptz)
    FROM s ORDER BY post_id, (observed_at AT TIME ZONE 'UTC')::date, observed_at DESC, source
    ON CONFLICT (post_id, day) DO UPDATE SET observed_at = excluded.observed_at,
        organisation_id = excluded.organisation_id, UPDATE_COUNTS,
        changed_at = excluded.changed_at
    WHERE excluded.observed_at > post_daily.observed_at
), marks AS (
    INSERT INTO rollup_dirty (organisation_id, day, slot)
    SELECT DISTINCT organisation_id, (observed_at AT TIME ZONE 'UTC')::date,
        pg_backend_pid() % MARK_SLOTS
    FROM s ORDER BY 1, 2
    ON CONFLICT (organisation_id, day, slot) DO UPDATE SET day = excluded.day
)
"""
_CHECKED = """
checked AS (
    SELECT u.post_id, u.observed_at, u.source, p.organisation_id, COUNT_LIST, u.n,
        p.withdrawn_at,
        CASE
            WHEN p.post_id IS NULL THEN 'unknown'
            WHEN CAST(p.organisation_id AS varchar) <> u.organisation_id THEN 'organisation'
            WHEN u.observed_at > CAST(:now AS timestamptz) + CAST(:skew AS interval)
                THEN 'future'
            WHEN u.observed_at < p.published_at - CAST(:skew AS interval) THEN 'early'
        END AS problem
    FROM u LEFT JOIN posts p ON p.post_id = u.post_id
), s AS (
    SELECT post_id, observed_at, source, organisation_id, COUNT_LIST FROM checked
    WHERE NOT EXISTS (SELECT FROM checked WHERE problem IS NOT NULL)
        AND (withdrawn_at IS NULL OR observed_at <= withdrawn_at)
)
"""


def _sql(template: str) -> Any:
    return text(
        template.replace("UPDATE_COUNTS", _UPDATE_COUNTS)
        .replace("COUNT_LIST", _COUNT_LIST)
        .replace("MARK_SLOTS", str(MARK_SLOTS))
    )


_STORE = _sql(
    f"WITH s AS ({_UNNEST.replace('ORG_TYPE', 'uuid')}), {_WRITES} SELECT count(*) FROM s"  # noqa: S608 (constants)
)
"""One statement, one round trip, one prepared plan whatever the batch's size: the rows come as
arrays; the portable path's rules (each snapshot once, latest and daily values only forward,
rollup marks) in SQL. Data-modifying CTEs of one statement see the same snapshot of the tables,
which is all these need: each writes its own table. A mark that exists already is updated to
itself, which locks it until the commit (see `take_dirty_days`); each connection marks its own
slot of the day (`MARK_SLOTS`), so a second writer of the same day does not wait there for the
first's commit."""

_OBSERVE = LeanStatement(
    _sql(
        f"WITH u AS ({_UNNEST.replace('ORG_TYPE', 'varchar')}), {_CHECKED}, {_WRITES} "  # noqa: S608
        "SELECT n, problem FROM checked WHERE problem IS NOT NULL ORDER BY n LIMIT 1"
    )
)
"""`_STORE` for snapshot events, with the checks of `ingest.snapshots_observed` joined in: each
event's post looked up and compared (its organisation, as the event's `orgid` names it, and
its publication time), so the lookup costs no round trip and no rows to Python. Nothing is
written when any event has a problem; the first such event comes back (`n`: its position,
from 1), for the caller to raise. An event observed after its post's withdrawal is skipped.
Being one statement, it is atomic without a transaction: the snapshot consumer's batches run it
alone, on asyncpg, one round trip (`LeanStatement`, `one_statement`)."""


class SnapshotProblem(NamedTuple):
    n: int
    problem: str
    """unknown (no such post), organisation (another's post), future, early (before the post)"""


async def observe_snapshots(
    session: AsyncSession, columns: dict[str, list[Any]], skew: timedelta
) -> SnapshotProblem | None:
    """Check and store snapshot events on PostgreSQL (`_OBSERVE`); `columns` holds the
    `SNAPSHOT_FIELDS` as lists, `organisation_id` being the events' `orgid` strings. Returns the
    first event with a problem (then nothing was written), or None."""
    row = await _OBSERVE.first(session, **columns, now=utc_now(), skew=skew)
    return None if row is None else SnapshotProblem(row[0], row[1])


async def store_snapshots(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store snapshots (organisation_id, post_id, observed_at, source and the counts): each once;
    the post's latest and its day's last observation move only forward; the days touched are
    marked for the rollups.

    On PostgreSQL the batch goes in one statement (`_STORE`)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        await _store_snapshots_postgresql(session, rows)
        return
    await _insert_ignoring(session, snapshots, rows)
    now = utc_now()
    latest: dict[UUID, dict[str, Any]] = {}
    daily: dict[tuple[UUID, date], dict[str, Any]] = {}
    dirty: set[tuple[UUID, date]] = set()
    for row in rows:
        post_id, observed_at = row["post_id"], row["observed_at"]
        current = latest.get(post_id)
        if current is None or observed_at > current["observed_at"]:
            latest[post_id] = {**row, "changed_at": now}
        day = observed_at.date()
        key = (post_id, day)
        current = daily.get(key)
        if current is None or observed_at > current["observed_at"]:
            daily[key] = {
                "post_id": post_id,
                "day": day,
                "organisation_id": row["organisation_id"],
                "observed_at": observed_at,
                **{name: row[name] for name in COUNTS},
                "changed_at": now,
            }
        dirty.add((row["organisation_id"], day))
    await _upsert_newer(session, post_latest, ["post_id"], list(latest.values()))
    await _upsert_newer(session, post_daily, ["post_id", "day"], list(daily.values()))
    await _insert_ignoring(
        session, rollup_dirty, [{"organisation_id": o, "day": d} for o, d in sorted(dirty)]
    )


async def _store_snapshots_postgresql(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> None:
    values: dict[str, Any] = {name: [row[name] for row in rows] for name in SNAPSHOT_FIELDS}
    await session.execute(_STORE, {**values, "now": utc_now()})


async def store_company_snapshots(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Company-page snapshots (organisation_id, post_urn, observed_at, source, counts, and the
    post's program_id, content_item_id, published_at)."""
    if not rows:
        return
    described: dict[tuple[UUID, str], dict[str, Any]] = {}
    for row in rows:
        described.setdefault(
            (row["organisation_id"], row["post_urn"]),
            {
                "organisation_id": row["organisation_id"],
                "post_urn": row["post_urn"],
                "program_id": row.get("program_id"),
                "content_item_id": row.get("content_item_id"),
                "published_at": row.get("published_at"),
                "first_observed_at": row["observed_at"],
            },
        )
    await _insert_ignoring(session, company_posts, list(described.values()))
    fields = ("organisation_id", "post_urn", "observed_at", "source", *COUNTS)
    plain = [{name: row[name] for name in fields} for row in rows]
    await _insert_ignoring(session, company_snapshots, plain)
    latest: dict[tuple[UUID, str], dict[str, Any]] = {}
    for row in plain:
        key = (row["organisation_id"], row["post_urn"])
        if key not in latest or row["observed_at"] > latest[key]["observed_at"]:
            latest[key] = row
    await _upsert_newer(
        session, company_latest, ["organisation_id", "post_urn"], list(latest.values())
    )


async def existing_company_keys(
    session: AsyncSession, organisation_id: UUID, keys: Sequence[tuple[str, datetime, str]]
) -> set[tuple[str, datetime, str]]:
    if not keys:
        return set()
    query = select(
        company_snapshots.c.post_urn, company_snapshots.c.observed_at, company_snapshots.c.source
    ).where(
        company_snapshots.c.organisation_id == organisation_id,
        company_snapshots.c.post_urn.in_({k[0] for k in keys}),
    )
    return {(r[0], r[1], r[2]) for r in await session.execute(query)} & set(keys)


# --- Reading posts with their latest values ------------------------------------------------------


def _with_latest() -> Any:
    return select(
        posts.c.post_id,
        posts.c.ambassador_id,
        posts.c.program_id,
        posts.c.discipline,
        posts.c.leadership,
        posts.c.published_at,
        posts.c.withdrawn_at,
        post_latest.c.observed_at,
        *(post_latest.c[name] for name in COUNTS),
    ).select_from(posts.outerjoin(post_latest, post_latest.c.post_id == posts.c.post_id))


async def posts_with_latest(
    session: AsyncSession,
    organisation_id: UUID,
    *,
    since: datetime,
    before: datetime,
    leadership: bool | None,
    program_id: UUID | None = None,
) -> list[Row[Any]]:
    """Posts published in [since, before) with their latest values (None where unmeasured); an
    erased author's posts are left out."""
    query = _with_latest().where(
        posts.c.organisation_id == organisation_id,
        posts.c.published_at >= since,
        posts.c.published_at < before,
        func.coalesce(posts.c.withdrawn_reason, "") != "author_erased",
    )
    if leadership is not None:
        query = query.where(posts.c.leadership == leadership)
    if program_id is not None:
        query = query.where(posts.c.program_id == program_id)
    return list(await session.execute(query))


async def post_with_latest(
    session: AsyncSession, organisation_id: UUID, post_id: UUID
) -> Row[Any] | None:
    query = _with_latest().where(
        posts.c.organisation_id == organisation_id, posts.c.post_id == post_id
    )
    return (await session.execute(query)).first()


async def company_with_latest(
    session: AsyncSession,
    organisation_id: UUID,
    *,
    since: datetime,
    before: datetime,
    program_id: UUID | None,
) -> list[Row[Any]]:
    """Company-page posts published (or, undated, first observed) in [since, before)."""
    when = func.coalesce(company_posts.c.published_at, company_posts.c.first_observed_at)
    query = (
        select(company_posts.c.post_urn, company_posts.c.program_id, *company_latest.c)
        .select_from(
            company_posts.join(
                company_latest,
                and_(
                    company_latest.c.organisation_id == company_posts.c.organisation_id,
                    company_latest.c.post_urn == company_posts.c.post_urn,
                ),
            )
        )
        .where(company_posts.c.organisation_id == organisation_id, when >= since, when < before)
    )
    if program_id is not None:
        query = query.where(company_posts.c.program_id == program_id)
    return list(await session.execute(query))


async def last_posts(
    session: AsyncSession, organisation_id: UUID, ambassador_ids: Sequence[UUID]
) -> dict[UUID, datetime]:
    """Each ambassador's latest post (withdrawn ones count: they were posted)."""
    if not ambassador_ids:
        return {}
    query = (
        select(posts.c.ambassador_id, func.max(posts.c.published_at))
        .where(
            posts.c.organisation_id == organisation_id, posts.c.ambassador_id.in_(ambassador_ids)
        )
        .group_by(posts.c.ambassador_id)
    )
    return {row[0]: row[1] for row in await session.execute(query)}


# --- Rollups -------------------------------------------------------------------------------------


_TAKE_MARKS = text(
    "DELETE FROM rollup_dirty AS d USING (SELECT organisation_id, day, slot FROM rollup_dirty "
    "ORDER BY organisation_id, day, slot FOR UPDATE) AS l "
    "WHERE d.organisation_id = l.organisation_id AND d.day = l.day AND d.slot = l.slot "
    "RETURNING d.organisation_id, d.day"
)
"""Takes the marks in (organisation, day, slot) order; an ingestion locks its marks in
(organisation, day) order, all of one slot: no deadlock."""


async def take_dirty_days(session: AsyncSession) -> dict[UUID, list[date]]:
    """Remove and return the marked days, before their rollups are recomputed.

    Taking them first is what keeps a concurrent ingestion's days from being lost: ingestion
    marks a day with a row lock held to its commit (ON CONFLICT DO UPDATE), so this waits for a
    batch that marked an already marked day, and the recomputation that follows reads its values;
    a batch that commits later marks the day again for the next pass. (Clearing the marks after
    the recomputation lost a batch committed in between: found by the kill -9 fault test.)"""
    if session.get_bind().dialect.name == "postgresql":
        rows = list(await session.execute(_TAKE_MARKS))
    else:  # SQLite has one writer at a time
        rows = list(
            await session.execute(
                delete(rollup_dirty).returning(rollup_dirty.c.organisation_id, rollup_dirty.c.day)
            )
        )
    marked: dict[UUID, set[date]] = {}
    for organisation_id, day in rows:  # a day marked in several slots comes once
        marked.setdefault(UUID(str(organisation_id)), set()).add(day)
    return {organisation_id: sorted(days) for organisation_id, days in marked.items()}


async def daily_values(session: AsyncSession, organisation_id: UUID, until: date) -> list[Row[Any]]:
    """Every post's daily last observations up to `until`, by post then day (erased authors
    excluded), with what the rollups group by."""
    query = (
        select(
            post_daily.c.post_id,
            post_daily.c.day,
            *(post_daily.c[name] for name in COUNTS),
            posts.c.ambassador_id,
            posts.c.program_id,
            posts.c.discipline,
            posts.c.leadership,
        )
        .select_from(post_daily.join(posts, posts.c.post_id == post_daily.c.post_id))
        .where(
            post_daily.c.organisation_id == organisation_id,
            posts.c.organisation_id == organisation_id,
            post_daily.c.day <= until,
            func.coalesce(posts.c.withdrawn_reason, "") != "author_erased",
        )
        .order_by(post_daily.c.post_id, post_daily.c.day)
    )
    return list(await session.execute(query))


async def replace_rollups(
    session: AsyncSession, organisation_id: UUID, since: date, rows: Sequence[dict[str, Any]]
) -> None:
    await session.execute(
        delete(daily_rollups).where(
            daily_rollups.c.organisation_id == organisation_id, daily_rollups.c.day >= since
        )
    )
    if rows:
        now = utc_now()
        await session.execute(daily_rollups.insert(), [{**row, "changed_at": now} for row in rows])


async def rollups(
    session: AsyncSession,
    organisation_id: UUID,
    *,
    track: str,
    dimension: str,
    since: date,
    until: date,
    limit: int,
) -> list[Row[Any]]:
    query = (
        select(daily_rollups)
        .where(
            daily_rollups.c.organisation_id == organisation_id,
            daily_rollups.c.track == track,
            daily_rollups.c.dimension == dimension,
            daily_rollups.c.day >= since,
            daily_rollups.c.day <= until,
        )
        .order_by(daily_rollups.c.day, daily_rollups.c.key)
        .limit(limit)
    )
    return list(await session.execute(query))


# --- Ambassadors and programs --------------------------------------------------------------------


async def ambassador(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID
) -> Row[Any] | None:
    query = select(ambassadors).where(
        ambassadors.c.organisation_id == organisation_id,
        ambassadors.c.ambassador_id == ambassador_id,
    )
    return (await session.execute(query)).first()


async def save_ambassador(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID, values: dict[str, Any]
) -> None:
    """Create the ambassador's row or change it (only within the organisation)."""
    if await ambassador(session, organisation_id, ambassador_id) is None:
        defaults: dict[str, Any] = {
            "program_id": None,
            "leadership": False,
            "segments": [],
            "enrolled": False,
            "enrolled_at": None,
            "left_at": None,
            "version": None,
            "momentum": None,
        }
        await session.execute(
            ambassadors.insert().values(
                ambassador_id=ambassador_id,
                organisation_id=organisation_id,
                **{**defaults, **values},
            )
        )
        return
    await session.execute(
        update(ambassadors)
        .where(
            ambassadors.c.organisation_id == organisation_id,
            ambassadors.c.ambassador_id == ambassador_id,
        )
        .values(**values)
    )


async def delete_ambassador(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID
) -> None:
    await session.execute(
        delete(ambassadors).where(
            ambassadors.c.organisation_id == organisation_id,
            ambassadors.c.ambassador_id == ambassador_id,
        )
    )


async def ambassadors_of(
    session: AsyncSession,
    organisation_id: UUID,
    *,
    program_id: UUID | None = None,
    leadership: bool | None = None,
    enrolled_only: bool = True,
) -> list[Row[Any]]:
    query = select(ambassadors).where(ambassadors.c.organisation_id == organisation_id)
    if enrolled_only:
        query = query.where(ambassadors.c.enrolled_at.is_not(None))
    if program_id is not None:
        query = query.where(ambassadors.c.program_id == program_id)
    if leadership is not None:
        query = query.where(ambassadors.c.leadership == leadership)
    return list(await session.execute(query.order_by(ambassadors.c.ambassador_id)))


async def organisations_with_ambassadors(session: AsyncSession) -> list[UUID]:
    query = select(ambassadors.c.organisation_id).distinct()
    return list((await session.execute(query)).scalars())


async def save_program(
    session: AsyncSession, organisation_id: UUID, program_id: UUID, values: dict[str, Any]
) -> None:
    """Insert the program's copy (a pilot until told) or change `values` of it, in one
    statement; another organisation's row is never touched."""
    statement = scoped_upsert(
        session.get_bind().dialect.name, programs, "program_id", tuple(sorted(values))
    )
    row = {"phase": "pilot", "start_date": None, **values}
    await session.execute(
        statement, {**row, "program_id": program_id, "organisation_id": organisation_id}
    )


async def all_programs(session: AsyncSession) -> list[Row[Any]]:
    return list(await session.execute(select(programs).order_by(programs.c.program_id)))


async def record_drop(
    session: AsyncSession, organisation_id: UUID, program_id: UUID, week_start: date
) -> bool:
    """Whether this (program, week) drop is new (recorded now) or was already announced."""
    query = select(momentum_drops.c.program_id).where(
        momentum_drops.c.program_id == program_id, momentum_drops.c.week_start == week_start
    )
    if (await session.execute(query)).first() is not None:
        return False
    await session.execute(
        momentum_drops.insert().values(
            program_id=program_id, week_start=week_start, organisation_id=organisation_id
        )
    )
    return True


# --- EMV rates -----------------------------------------------------------------------------------


async def emv_rate_rows(session: AsyncSession, organisation_id: UUID) -> list[Row[Any]]:
    query = (
        select(emv_rates)
        .where(emv_rates.c.organisation_id == organisation_id)
        .order_by(emv_rates.c.currency)
    )
    return list(await session.execute(query))


async def save_emv_rates(
    session: AsyncSession, organisation_id: UUID, currency: str, values: dict[str, Any]
) -> None:
    if values.get("is_default"):
        await session.execute(
            update(emv_rates)
            .where(emv_rates.c.organisation_id == organisation_id)
            .values(is_default=False)
        )
    await session.execute(
        delete(emv_rates).where(
            emv_rates.c.organisation_id == organisation_id, emv_rates.c.currency == currency
        )
    )
    await session.execute(
        emv_rates.insert().values(organisation_id=organisation_id, currency=currency, **values)
    )


async def organisations_with_unannounced_engagement(session: AsyncSession) -> list[UUID]:
    """The organisations (across all: the periodic pass) with posts measured since announced."""
    query = (
        select(posts.c.organisation_id)
        .select_from(posts.join(post_latest, post_latest.c.post_id == posts.c.post_id))
        .where(_unannounced())
        .distinct()
    )
    return list((await session.execute(query)).scalars())


def _unannounced() -> Any:
    return and_(
        posts.c.withdrawn_at.is_(None),
        or_(
            posts.c.engagement_announced_at.is_(None),
            post_latest.c.observed_at > posts.c.engagement_announced_at,
        ),
    )


async def unannounced_engagement(
    session: AsyncSession, organisation_id: UUID, limit: int
) -> list[Row[Any]]:
    """The organisation's measured posts, not withdrawn, whose latest values are newer than the
    last announced."""
    query = (
        select(
            posts.c.post_id,
            posts.c.ambassador_id,
            posts.c.content_item_id,
            post_latest.c.observed_at,
            *(post_latest.c[name] for name in COUNTS),
        )
        .select_from(posts.join(post_latest, post_latest.c.post_id == posts.c.post_id))
        .where(posts.c.organisation_id == organisation_id, _unannounced())
        .order_by(post_latest.c.observed_at, posts.c.post_id)
        .limit(limit)
    )
    return list(await session.execute(query))


async def mark_engagement_announced(
    session: AsyncSession, organisation_id: UUID, post_id: UUID, observed_at: datetime
) -> None:
    await session.execute(
        update(posts)
        .where(posts.c.organisation_id == organisation_id, posts.c.post_id == post_id)
        .values(engagement_announced_at=observed_at)
    )


# --- LinkedIn polling ----------------------------------------------------------------------------

APP_BUDGET = "app"
"""The budget row of the LinkedIn app itself, shared by every organisation it serves."""


@dataclass(frozen=True)
class Leased:
    """A table of scheduled LinkedIn reads that replicas take turns on: a row (by its `key`
    column) is free to take when it is in state `due_state`, its `next_poll_at` has come and no
    lease holds it."""

    table: Table
    key: str
    due_state: str

    def free(self, now: datetime) -> list[ColumnElement[bool]]:
        columns = self.table.c
        return [
            columns.state == self.due_state,
            columns.next_poll_at <= now,
            or_(columns.lease_until.is_(None), columns.lease_until <= now),
        ]


POLLS = Leased(linkedin_polls, "post_id", "due")
"""A post's analytics polls, by post."""
COMPANY_PAGES = Leased(company_pages, "organisation_id", "active")
"""An organisation's company page statistics, by organisation."""


async def add_poll(session: AsyncSession, values: dict[str, Any]) -> None:
    await _insert_ignoring(session, linkedin_polls, [values])


async def withdraw_poll(session: AsyncSession, organisation_id: UUID, post_id: UUID) -> None:
    await session.execute(
        update(linkedin_polls)
        .where(
            linkedin_polls.c.organisation_id == organisation_id,
            linkedin_polls.c.post_id == post_id,
        )
        .values(state="withdrawn", next_poll_at=None)
    )


async def forget_polls(session: AsyncSession, organisation_id: UUID, ambassador_id: UUID) -> None:
    """An erased ambassador: their polls and their LinkedIn waits are gone."""
    for table in (linkedin_polls, linkedin_members):
        await session.execute(
            delete(table).where(
                table.c.organisation_id == organisation_id,
                table.c.ambassador_id == ambassador_id,
            )
        )


async def due_polls(session: AsyncSession, now: datetime, limit: int) -> list[Row[Any]]:
    """Polls due now whose member is neither waiting for a reconnection nor paused by a 429, and
    which no replica holds: the oldest first. PostgreSQL locks them, skipping rows another
    transaction holds (`SKIP LOCKED`); the lease taken next decides in either database."""
    waiting = (
        select(linkedin_members.c.ambassador_id)
        .where(
            linkedin_members.c.ambassador_id == linkedin_polls.c.ambassador_id,
            or_(
                linkedin_members.c.reconnect_since.is_not(None),
                linkedin_members.c.paused_until > now,
            ),
        )
        .exists()
    )
    query = (
        select(
            linkedin_polls.c.post_id,
            linkedin_polls.c.organisation_id,
            linkedin_polls.c.ambassador_id,
            linkedin_polls.c.post_urn,
        )
        .where(*POLLS.free(now), ~waiting)
        .order_by(linkedin_polls.c.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=linkedin_polls)
    )
    return list(await session.execute(query))


async def take_lease(
    session: AsyncSession, leased: Leased, key: UUID, now: datetime, lease_id: UUID, until: datetime
) -> bool:
    """The row is this replica's until `until`, unless another one holds it or it moved on."""
    result = await session.execute(
        update(leased.table)
        .where(leased.table.c[leased.key] == key, *leased.free(now))
        .values(lease_id=lease_id, lease_until=until)
    )
    return bool(getattr(result, "rowcount", 0))


async def finish_lease(
    session: AsyncSession, leased: Leased, key: UUID, lease_id: UUID, values: dict[str, Any]
) -> bool:
    """Record a read's outcome and free the row's lease, if the lease is still this one's."""
    result = await session.execute(
        update(leased.table)
        .where(leased.table.c[leased.key] == key, leased.table.c.lease_id == lease_id)
        .values(lease_id=None, lease_until=None, **values)
    )
    return bool(getattr(result, "rowcount", 0))


async def poll_row(session: AsyncSession, organisation_id: UUID, post_id: UUID) -> Row[Any] | None:
    query = select(linkedin_polls).where(
        linkedin_polls.c.organisation_id == organisation_id, linkedin_polls.c.post_id == post_id
    )
    return (await session.execute(query)).first()


async def reserve_calls(
    session: AsyncSession, scope: str, day: date, calls: int, limit: int
) -> bool:
    """Count `calls` against `scope`'s budget of `day` if they fit under `limit`. The row's lock
    (PostgreSQL) or the write lock (SQLite) makes concurrent reservations take turns, so the
    budget is never exceeded."""
    await _insert_ignoring(session, linkedin_budget, [{"scope": scope, "day": day, "calls": 0}])
    result = await session.execute(
        update(linkedin_budget)
        .where(
            linkedin_budget.c.scope == scope,
            linkedin_budget.c.day == day,
            linkedin_budget.c.calls + calls <= limit,
        )
        .values(calls=linkedin_budget.c.calls + calls)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_calls(session: AsyncSession, scope: str, day: date, calls: int) -> None:
    await session.execute(
        update(linkedin_budget)
        .where(linkedin_budget.c.scope == scope, linkedin_budget.c.day == day)
        .values(calls=linkedin_budget.c.calls - calls)
    )


async def calls_of(session: AsyncSession, scope: str, day: date) -> int:
    query = select(linkedin_budget.c.calls).where(
        linkedin_budget.c.scope == scope, linkedin_budget.c.day == day
    )
    return int((await session.execute(query)).scalar() or 0)


async def prune_budgets(session: AsyncSession, before: date) -> None:
    await session.execute(delete(linkedin_budget).where(linkedin_budget.c.day < before))


async def member_wait(session: AsyncSession, ambassador_id: UUID) -> Row[Any] | None:
    query = select(linkedin_members).where(linkedin_members.c.ambassador_id == ambassador_id)
    return (await session.execute(query)).first()


async def set_member_wait(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID, **values: Any
) -> None:
    """Pause a member's polls (`paused_until`) or hold them until reconnected
    (`reconnect_since`)."""
    statement = _insert(session, linkedin_members).values(
        ambassador_id=ambassador_id,
        organisation_id=organisation_id,
        **{"paused_until": None, "reconnect_since": None, "reason": None, **values},
    )
    statement = statement.on_conflict_do_update(
        index_elements=["ambassador_id"],
        set_=values,
        where=linkedin_members.c.organisation_id == organisation_id,
    )
    await session.execute(statement)


async def member_reconnected(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID
) -> None:
    """A new connection: the member's polls resume, the due ones at once."""
    await session.execute(
        update(linkedin_members)
        .where(
            linkedin_members.c.organisation_id == organisation_id,
            linkedin_members.c.ambassador_id == ambassador_id,
        )
        .values(reconnect_since=None, reason=None)
    )


# --- Company pages -------------------------------------------------------------------------------


async def company_page(session: AsyncSession, organisation_id: UUID) -> Row[Any] | None:
    query = select(company_pages).where(company_pages.c.organisation_id == organisation_id)
    return (await session.execute(query)).first()


async def save_company_page(session: AsyncSession, values: dict[str, Any]) -> None:
    statement = _insert(session, company_pages).values(**values)
    replaced = {name: statement.excluded[name] for name in values if name != "organisation_id"}
    await session.execute(
        statement.on_conflict_do_update(index_elements=["organisation_id"], set_=replaced)
    )


async def due_company_pages(session: AsyncSession, now: datetime, limit: int) -> list[Row[Any]]:
    query = (
        select(company_pages.c.organisation_id)
        .where(*COMPANY_PAGES.free(now))
        .order_by(company_pages.c.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.execute(query))


async def program_of(session: AsyncSession, organisation_id: UUID, program_id: UUID) -> bool:
    """Whether the organisation has this program (known from `ProgramCreated`)."""
    query = select(programs.c.program_id).where(
        programs.c.organisation_id == organisation_id, programs.c.program_id == program_id
    )
    return (await session.execute(query)).first() is not None


# --- BI export -----------------------------------------------------------------------------------


async def bi_secret(session: AsyncSession, organisation_id: UUID, fresh: str) -> str:
    """The organisation's pseudonym key, created (as `fresh`) on its first export."""
    query = select(bi_keys.c.secret).where(bi_keys.c.organisation_id == organisation_id)
    secret = (await session.execute(query)).scalar()
    if secret is not None:
        return str(secret)
    await _insert_ignoring(
        session, bi_keys, [{"organisation_id": organisation_id, "secret": fresh}]
    )
    return str((await session.execute(query)).scalar_one())


def _changed(column: Any, since: datetime | None, until: datetime) -> Any:
    """Written in (since, until]."""
    if since is None:
        return column <= until
    return and_(column > since, column <= until)


async def post_days_page(
    session: AsyncSession,
    organisation_id: UUID,
    *,
    since: datetime | None,
    until: datetime,
    after: tuple[UUID, date] | None,
    limit: int,
    leadership: bool,
) -> list[Row[Any]]:
    """Daily values written in (since, until] with their post's dimensions, by (post, day)."""
    query = (
        select(
            post_daily.c.post_id,
            post_daily.c.day,
            posts.c.ambassador_id,
            posts.c.program_id,
            posts.c.content_item_id,
            posts.c.discipline,
            posts.c.leadership,
            posts.c.published_at,
            post_daily.c.observed_at,
            *(post_daily.c[name] for name in COUNTS),
            post_daily.c.changed_at,
        )
        .select_from(post_daily.join(posts, posts.c.post_id == post_daily.c.post_id))
        .where(
            post_daily.c.organisation_id == organisation_id,
            posts.c.organisation_id == organisation_id,
            _changed(post_daily.c.changed_at, since, until),
        )
        .order_by(post_daily.c.post_id, post_daily.c.day)
        .limit(limit)
    )
    if not leadership:
        query = query.where(posts.c.leadership.is_(False))
    if after is not None:
        query = query.where(tuple_(post_daily.c.post_id, post_daily.c.day) > tuple_(*after))
    return list(await session.execute(query))


async def posts_page(
    session: AsyncSession,
    organisation_id: UUID,
    *,
    since: datetime | None,
    until: datetime,
    after: UUID | None,
    limit: int,
    leadership: bool,
) -> list[Row[Any]]:
    """Posts whose row or latest values were written in (since, until], by post id."""
    query = (
        _with_latest()
        .add_columns(
            posts.c.content_item_id,
            posts.c.source,
            func.coalesce(post_latest.c.changed_at, posts.c.changed_at).label("latest_changed"),
            posts.c.changed_at,
        )
        .where(
            posts.c.organisation_id == organisation_id,
            or_(
                _changed(posts.c.changed_at, since, until),
                _changed(post_latest.c.changed_at, since, until),
            ),
        )
        .order_by(posts.c.post_id)
        .limit(limit)
    )
    if not leadership:
        query = query.where(posts.c.leadership.is_(False))
    if after is not None:
        query = query.where(posts.c.post_id > after)
    return list(await session.execute(query))


async def rollups_page(
    session: AsyncSession,
    organisation_id: UUID,
    *,
    since: datetime | None,
    until: datetime,
    after: tuple[str, str, date, str] | None,
    limit: int,
    leadership: bool,
) -> list[Row[Any]]:
    """Rollup rows written in (since, until], by (track, dimension, day, key)."""
    order = (daily_rollups.c.track, daily_rollups.c.dimension, daily_rollups.c.day)
    query = (
        select(daily_rollups)
        .where(
            daily_rollups.c.organisation_id == organisation_id,
            _changed(daily_rollups.c.changed_at, since, until),
        )
        .order_by(*order, daily_rollups.c.key)
        .limit(limit)
    )
    if not leadership:
        query = query.where(daily_rollups.c.track == "ambassadors")
    if after is not None:
        query = query.where(tuple_(*order, daily_rollups.c.key) > tuple_(*after))
    return list(await session.execute(query))


async def ambassadors_page(
    session: AsyncSession,
    organisation_id: UUID,
    *,
    after: UUID | None,
    limit: int,
    leadership: bool,
) -> list[Row[Any]]:
    """Every ambassador of the organisation (enrolled or not), by id."""
    query = (
        select(ambassadors)
        .where(ambassadors.c.organisation_id == organisation_id)
        .order_by(ambassadors.c.ambassador_id)
        .limit(limit)
    )
    if not leadership:
        query = query.where(ambassadors.c.leadership.is_(False))
    if after is not None:
        query = query.where(ambassadors.c.ambassador_id > after)
    return list(await session.execute(query))


async def program_ids(session: AsyncSession, organisation_id: UUID) -> list[UUID]:
    query = (
        select(programs.c.program_id)
        .where(programs.c.organisation_id == organisation_id)
        .order_by(programs.c.program_id)
    )
    return list((await session.execute(query)).scalars())
