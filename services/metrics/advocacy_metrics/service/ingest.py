"""Posts to measure and their snapshots: from the content service's events, from other tools'
snapshot events on NATS (in batches), and from bulk imports.

A snapshot is refused when it names another organisation's post (dead-lettered at once, as
retrying cannot mend it) or is inconsistent: observed before its post was published (beyond
`CLOCK_SKEW`) or in the future. A snapshot of a post not known yet is retried (its
`PostPublished` may still be on its way) and dead-lettered when it stays unknown. One observed
after the post was withdrawn is dropped: the post is no longer measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics import repository
from advocacy_metrics.service import people
from advocacy_shared.consumers import MalformedEvent
from advocacy_shared.contracts.content import PostPublished, PostWithdrawn
from advocacy_shared.contracts.metrics import (
    CompanyPostMetricsObserved,
    ImportResult,
    ImportRow,
    ImportSnapshots,
    PostMetricsObserved,
    RowFailure,
)
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.outbox import Outbox

CLOCK_SKEW = timedelta(minutes=5)
COUNT_FIELDS = repository.COUNTS


class UnknownPost(Exception):
    """No post with this id was published yet (retried: its PostPublished may be late)."""


class Refused(MalformedEvent):
    """A snapshot that can never be stored: another organisation's post, or inconsistent."""


async def post_published(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, fact: PostPublished
) -> bool:
    """Whether the post is new (a second publication, or an erased author's, changes nothing)."""
    known = await repository.post_rows(session, [fact.post_id])
    if fact.post_id in known:
        return False
    await repository.add_post(
        session,
        {
            "post_id": fact.post_id,
            "organisation_id": organisation_id,
            "ambassador_id": fact.ambassador_id,
            "program_id": fact.program_id,
            "content_item_id": fact.content_item_id,
            "discipline": fact.discipline,
            "leadership": fact.leadership,
            "linkedin_post_urn": fact.linkedin_post_urn,
            "source": fact.source,
            "published_at": fact.published_at,
            "withdrawn_at": None,
            "withdrawn_reason": None,
        },
    )
    await people.posted(session, outbox, organisation_id, fact)
    return True


async def post_withdrawn(session: AsyncSession, organisation_id: UUID, fact: PostWithdrawn) -> None:
    await repository.withdraw_post(
        session, organisation_id, fact.post_id, fact.withdrawn_at, fact.reason
    )
    if fact.reason == "author_erased":
        await repository.forget_measurements(session, organisation_id, [fact.post_id])


def _problem(observed_at: datetime, published_at: datetime, now: datetime) -> str | None:
    if observed_at > now + CLOCK_SKEW:
        return "observed_at is in the future"
    if observed_at < published_at - CLOCK_SKEW:
        return "observed_at is before the post was published"
    return None


def _counts(snapshot: Any) -> dict[str, Any]:
    return {name: getattr(snapshot, name) for name in COUNT_FIELDS}


async def snapshots_observed(
    session: AsyncSession, batch: Sequence[tuple[PostMetricsObserved, CloudEvent]]
) -> None:
    """Store a batch of snapshot events; raises (failing the whole batch) on any refused one, so
    that the batch consumer isolates it. On PostgreSQL the checks run in the storing statement
    (`repository.observe_snapshots`), below in Python: the same rules."""
    if session.get_bind().dialect.name == "postgresql":
        columns: dict[str, list[Any]] = {
            name: [getattr(data, name) for data, _ in batch] for name in SNAPSHOT_DATA_FIELDS
        }
        columns["organisation_id"] = [envelope.orgid for _, envelope in batch]
        found = await repository.observe_snapshots(session, columns, CLOCK_SKEW)
        if found is not None:
            raise _refusal(batch[found.n - 1][0].post_id, found.problem)
        return
    known = await repository.post_rows(session, (data.post_id for data, _ in batch))
    now = utc_now()
    rows: list[dict[str, Any]] = []
    for data, envelope in batch:
        post = known.get(data.post_id)
        if post is None:
            raise _refusal(data.post_id, "unknown")
        if str(post.organisation_id) != envelope.orgid:
            raise _refusal(data.post_id, "organisation")
        problem = _problem(data.observed_at, post.published_at, now)
        if problem is not None:
            raise Refused(problem)
        if post.withdrawn_at is not None and data.observed_at > post.withdrawn_at:
            continue
        rows.append(
            {
                "organisation_id": post.organisation_id,
                "post_id": data.post_id,
                "observed_at": data.observed_at,
                "source": data.source,
                **_counts(data),
            }
        )
    await repository.store_snapshots(session, rows)


SNAPSHOT_DATA_FIELDS = tuple(f for f in repository.SNAPSHOT_FIELDS if f != "organisation_id")


def _refusal(post_id: UUID, problem: str) -> Exception:
    """The exception for a snapshot's problem (as `repository.SnapshotProblem` names it)."""
    if problem == "unknown":
        return UnknownPost(f"no post {post_id} has been published")
    if problem == "organisation":
        return Refused(f"post {post_id} belongs to another organisation")
    if problem == "future":
        return Refused("observed_at is in the future")
    return Refused("observed_at is before the post was published")


async def company_snapshots_observed(
    session: AsyncSession, batch: Sequence[tuple[CompanyPostMetricsObserved, CloudEvent]]
) -> None:
    now = utc_now()
    rows: list[dict[str, Any]] = []
    for data, envelope in batch:
        if data.observed_at > now + CLOCK_SKEW:
            raise Refused("observed_at is in the future")
        rows.append(
            {
                "organisation_id": UUID(envelope.orgid),
                "post_urn": data.post_urn,
                "program_id": data.program_id,
                "content_item_id": data.content_item_id,
                "published_at": data.published_at,
                "observed_at": data.observed_at,
                "source": data.source,
                **_counts(data),
            }
        )
    await repository.store_company_snapshots(session, rows)


async def import_snapshots(session: AsyncSession, request: ImportSnapshots) -> ImportResult:
    """Store valid rows, report the others by row number (the rest of the file is kept)."""
    organisation_id = request.organisation_id
    employee = [r for r in request.rows if r.post_id is not None]
    company = [r for r in request.rows if r.company_post_urn is not None]
    known = await repository.post_rows(session, (r.post_id for r in employee if r.post_id))
    now = utc_now()
    failures: list[RowFailure] = []
    good: list[ImportRow] = []
    for row in employee:
        assert row.post_id is not None
        post = known.get(row.post_id)
        if post is None or post.organisation_id != organisation_id:
            # Another organisation's post is reported as unknown: its existence is not told.
            failures.append(RowFailure(row=row.row, reason=f"no post {row.post_id} is known"))
            continue
        problem = _problem(row.observed_at, post.published_at, now)
        if problem is None and post.withdrawn_at and row.observed_at > post.withdrawn_at:
            problem = "observed after the post was withdrawn"
        if problem is not None:
            failures.append(RowFailure(row=row.row, reason=problem))
            continue
        good.append(row)
    keys = [(r.post_id, r.observed_at, r.source) for r in good if r.post_id]
    seen: set[tuple[UUID, datetime, str]] = await repository.existing_snapshot_keys(session, keys)
    duplicates = stored = 0
    rows: list[dict[str, Any]] = []
    for row in good:
        assert row.post_id is not None
        key = (row.post_id, row.observed_at, row.source)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        rows.append(
            {
                "organisation_id": organisation_id,
                "post_id": row.post_id,
                "observed_at": row.observed_at,
                "source": row.source,
                **_counts(row),
            }
        )
    await repository.store_snapshots(session, rows)
    stored += len(rows)
    company_good = []
    for row in company:
        if row.observed_at > now + CLOCK_SKEW:
            failures.append(RowFailure(row=row.row, reason="observed_at is in the future"))
        else:
            company_good.append(row)
    company_keys = [(r.company_post_urn or "", r.observed_at, r.source) for r in company_good]
    company_seen = await repository.existing_company_keys(session, organisation_id, company_keys)
    company_rows: list[dict[str, Any]] = []
    for row, company_key in zip(company_good, company_keys, strict=True):
        if company_key in company_seen:
            duplicates += 1
            continue
        company_seen.add(company_key)
        company_rows.append(
            {
                "organisation_id": organisation_id,
                "post_urn": company_key[0],
                "program_id": row.program_id,
                "content_item_id": None,
                "published_at": None,
                "observed_at": row.observed_at,
                "source": row.source,
                **_counts(row),
            }
        )
    await repository.store_company_snapshots(session, company_rows)
    stored += len(company_rows)
    failures.sort(key=lambda f: f.row)
    return ImportResult(stored=stored, duplicates=duplicates, failures=failures)
