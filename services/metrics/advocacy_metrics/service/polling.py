"""Polling LinkedIn's analytics: which posts are due, within which budgets, and what an answer
changes. The edge (`advocacy_metrics.polling`) runs a pass in three steps, none of which holds a
transaction while LinkedIn answers:

1. **Claim** (one transaction): due polls are selected (PostgreSQL locks them with
   `SKIP LOCKED`), each is leased to this replica (`lease_id`, `lease_until`: a conditional
   update, so of two replicas exactly one gets it, in SQLite as in PostgreSQL) and its calls are
   counted against the app's and the member's daily budgets (a reservation that either fits under
   the limit or is not made). Committed before LinkedIn is called.
2. **Call**: the member's token (`linkedin.token`, purpose analytics), then LinkedIn.
3. **Record** (one transaction): the counts enter as a `PostMetricsObserved` snapshot (source
   `linkedin`) through the same ingest as every other snapshot, and the poll's next time is set
   by the schedule, or the member waits (a 429 until `Retry-After`, a 401 until reconnected).

**The schedule** (`Schedule`): a post is polled when published, then at intervals that grow
with its age (by default hourly in its first day, every 3 hours to day 3, twice a day to day 7,
daily to day 28, weekly after), and no more once no count changed for `quiet` (72 h) or at
`max_age` (90 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics import repository
from advocacy_metrics.service import ingest
from advocacy_shared.consumers import MalformedEvent
from advocacy_shared.contracts.content import PostPublished
from advocacy_shared.contracts.errors import Invalid, NotFound
from advocacy_shared.contracts.metrics import (
    CompanyPage,
    CompanyPostMetricsObserved,
    GetCompanyPage,
    PostMetricsObserved,
    SetCompanyPage,
)
from advocacy_shared.crypto import SecretBox
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.linkedin.analytics import CALLS_PER_POST, PostCounts

SOURCE = "linkedin"
POLLED_URN_PREFIXES = ("urn:li:share:", "urn:li:ugcPost:")
"""Posts LinkedIn's analytics accept (an activity URN from a manual permalink is not)."""


@dataclass(frozen=True)
class Schedule:
    steps: tuple[tuple[float, float], ...]
    """(age in hours up to which, interval in minutes), ages ascending; the last interval
    holds past the last age."""
    quiet: timedelta
    max_age: timedelta

    def interval(self, age: timedelta) -> timedelta:
        hours = age.total_seconds() / 3600
        for up_to, minutes in self.steps:
            if hours < up_to:
                return timedelta(minutes=minutes)
        return timedelta(minutes=self.steps[-1][1])

    def next_poll(
        self, published_at: datetime, last_change_at: datetime | None, now: datetime
    ) -> datetime | None:
        """When to poll again after a poll at `now`; None: stop (quiet, or too old)."""
        if now - published_at >= self.max_age:
            return None
        if last_change_at is not None and now - last_change_at >= self.quiet:
            return None
        return min(now + self.interval(now - published_at), published_at + self.max_age)


@dataclass(frozen=True)
class Budgets:
    per_member: int
    per_app: int


@dataclass(frozen=True)
class PollClaim:
    organisation_id: UUID
    post_id: UUID
    ambassador_id: UUID
    post_urn: str
    lease_id: UUID


def next_midnight(now: datetime) -> datetime:
    """LinkedIn's daily quotas reset at midnight UTC."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)


def _day(now: datetime) -> date:
    return now.astimezone(UTC).date()


async def start(
    session: AsyncSession,
    organisation_id: UUID,
    fact: PostPublished,
    schedule: Schedule,
    now: datetime,
) -> None:
    """A published post with a share or ugcPost URN is polled from now on (none older than the
    schedule's `max_age`)."""
    urn = fact.linkedin_post_urn
    if urn is None or not urn.startswith(POLLED_URN_PREFIXES):
        return
    young = now - fact.published_at < schedule.max_age
    await repository.add_poll(
        session,
        {
            "post_id": fact.post_id,
            "organisation_id": organisation_id,
            "ambassador_id": fact.ambassador_id,
            "post_urn": urn,
            "published_at": fact.published_at,
            "state": "due" if young else "stopped",
            "next_poll_at": now if young else None,
            "lease_id": None,
            "lease_until": None,
            "polls": 0,
            "last_polled_at": None,
            "last_change_at": None,
            "last_counts": None,
            "last_error": None,
        },
    )


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease: timedelta, budgets: Budgets
) -> list[PollClaim]:
    """Step 1: lease the due polls and reserve their calls. A member whose budget is spent
    waits for midnight UTC; when the app's is spent, the pass ends."""
    day = _day(now)
    claims: list[PollClaim] = []
    for row in await repository.due_polls(session, now, limit):
        lease_id = uuid4()
        if not await repository.take_lease(
            session, repository.POLLS, row.post_id, now, lease_id, now + lease
        ):
            continue  # another replica holds it
        if not await repository.reserve_calls(
            session, repository.APP_BUDGET, day, CALLS_PER_POST, budgets.per_app
        ):
            await repository.finish_lease(session, repository.POLLS, row.post_id, lease_id, {})
            break
        if not await repository.reserve_calls(
            session, str(row.ambassador_id), day, CALLS_PER_POST, budgets.per_member
        ):
            await repository.release_calls(session, repository.APP_BUDGET, day, CALLS_PER_POST)
            await repository.finish_lease(session, repository.POLLS, row.post_id, lease_id, {})
            await repository.set_member_wait(
                session,
                row.organisation_id,
                row.ambassador_id,
                paused_until=next_midnight(now),
                reason="the member's daily analytics budget is spent",
            )
            continue
        claims.append(
            PollClaim(row.organisation_id, row.post_id, row.ambassador_id, row.post_urn, lease_id)
        )
    return claims


def _fingerprint(counts: PostCounts) -> str:
    values = (
        counts.impressions,
        counts.members_reached,
        counts.reactions,
        counts.comments,
        counts.reshares,
    )
    return ",".join("" if value is None else str(value) for value in values)


async def record_counts(
    session: AsyncSession, claim: PollClaim, counts: PostCounts, now: datetime, schedule: Schedule
) -> None:
    """Step 3: the snapshot through the ingest path, and the next poll by the schedule."""
    fact = PostMetricsObserved(
        post_id=claim.post_id,
        observed_at=now,
        source=SOURCE,
        impressions=counts.impressions,
        members_reached=counts.members_reached,
        reactions=counts.reactions,
        comments=counts.comments,
        reshares=counts.reshares,
    )
    envelope = CloudEvent(
        source="/advocacy/metrics",
        type=PostMetricsObserved.spec.type,
        data=fact.model_dump(mode="json"),
        orgid=str(claim.organisation_id),
        correlationid=f"linkedin-poll:{claim.lease_id}",
    )
    try:
        await ingest.snapshots_observed(session, [(fact, envelope)])
    except (MalformedEvent, ingest.UnknownPost) as exc:
        await record_failure(session, claim, now + schedule.interval(timedelta(0)), str(exc))
        return
    row = await repository.poll_row(session, claim.organisation_id, claim.post_id)
    if row is None or row.lease_id != claim.lease_id:
        return  # the lease ran out and another replica took the poll over: it records its own
    fingerprint = _fingerprint(counts)
    changed = row.last_change_at is None or fingerprint != row.last_counts
    last_change = now if changed else row.last_change_at
    following = schedule.next_poll(row.published_at, last_change, now)
    await repository.finish_lease(
        session,
        repository.POLLS,
        claim.post_id,
        claim.lease_id,
        {
            "state": "due" if following is not None else "stopped",
            "next_poll_at": following,
            "polls": row.polls + 1,
            "last_polled_at": now,
            "last_change_at": last_change,
            "last_counts": fingerprint,
            "last_error": None,
        },
    )


async def record_failure(
    session: AsyncSession, claim: PollClaim, retry_at: datetime, error: str
) -> None:
    """LinkedIn failed (5xx, no answer, a refusal): the poll is tried again at `retry_at`."""
    await repository.finish_lease(
        session,
        repository.POLLS,
        claim.post_id,
        claim.lease_id,
        {"next_poll_at": retry_at, "last_error": error[:300]},
    )


async def record_throttled(
    session: AsyncSession, claim: PollClaim, until: datetime, error: str
) -> None:
    """A 429: none of the member's posts is polled before `until` (`Retry-After`, else midnight
    UTC); this poll stays due."""
    await repository.set_member_wait(
        session, claim.organisation_id, claim.ambassador_id, paused_until=until, reason=error[:300]
    )
    await repository.finish_lease(
        session, repository.POLLS, claim.post_id, claim.lease_id, {"last_error": error[:300]}
    )


async def record_reconnect(
    session: AsyncSession, claim: PollClaim, now: datetime, error: str
) -> None:
    """A 401, or no token to be had: none of the member's posts is polled until the ambassador
    reconnects (`LinkedInConnected`)."""
    await repository.set_member_wait(
        session,
        claim.organisation_id,
        claim.ambassador_id,
        reconnect_since=now,
        reason=error[:300],
    )
    await repository.finish_lease(
        session, repository.POLLS, claim.post_id, claim.lease_id, {"last_error": error[:300]}
    )


async def reconnected(session: AsyncSession, organisation_id: UUID, ambassador_id: UUID) -> None:
    await repository.member_reconnected(session, organisation_id, ambassador_id)


async def withdrawn(session: AsyncSession, organisation_id: UUID, post_id: UUID) -> None:
    await repository.withdraw_poll(session, organisation_id, post_id)


# --- Company pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageClaim:
    organisation_id: UUID
    organization_urn: str
    sealed_token: str
    program_id: UUID | None
    lease_id: UUID


def page_calls(posts: int) -> int:
    """A page's read: the posts finder, then the statistics 20 shares a call."""
    return 1 + -(-posts // 20)


async def claim_pages(
    session: AsyncSession, now: datetime, lease: timedelta, budgets: Budgets, posts: int
) -> list[PageClaim]:
    day = _day(now)
    claims: list[PageClaim] = []
    for (organisation_id,) in await repository.due_company_pages(session, now, 20):
        lease_id = uuid4()
        if not await repository.take_lease(
            session, repository.COMPANY_PAGES, organisation_id, now, lease_id, now + lease
        ):
            continue
        if not await repository.reserve_calls(
            session, repository.APP_BUDGET, day, page_calls(posts), budgets.per_app
        ):
            await repository.finish_lease(
                session, repository.COMPANY_PAGES, organisation_id, lease_id, {}
            )
            break
        page = await repository.company_page(session, organisation_id)
        assert page is not None
        claims.append(
            PageClaim(
                organisation_id,
                page.organization_urn,
                page.sealed_token,
                page.program_id,
                lease_id,
            )
        )
    return claims


async def record_page(
    session: AsyncSession,
    claim: PageClaim,
    observed: list[tuple[str, datetime | None, PostCounts]],
    now: datetime,
    next_at: datetime,
) -> None:
    """The page's posts enter as `CompanyPostMetricsObserved` snapshots through the ingest."""
    batch: list[tuple[CompanyPostMetricsObserved, CloudEvent]] = []
    for urn, published_at, counts in observed:
        fact = CompanyPostMetricsObserved(
            post_urn=urn,
            program_id=claim.program_id,
            published_at=published_at,
            observed_at=now,
            source=SOURCE,
            impressions=counts.impressions,
            members_reached=(
                min(counts.members_reached, counts.impressions)
                if counts.members_reached is not None
                else None
            ),
            reactions=counts.reactions,
            comments=counts.comments,
            reshares=counts.reshares,
            clicks=counts.clicks,
        )
        envelope = CloudEvent(
            source="/advocacy/metrics",
            type=CompanyPostMetricsObserved.spec.type,
            data=fact.model_dump(mode="json"),
            orgid=str(claim.organisation_id),
            correlationid=f"linkedin-page:{claim.lease_id}",
        )
        batch.append((fact, envelope))
    if batch:
        await ingest.company_snapshots_observed(session, batch)
    await repository.finish_lease(
        session,
        repository.COMPANY_PAGES,
        claim.organisation_id,
        claim.lease_id,
        {"next_poll_at": next_at, "last_polled_at": now, "last_error": None},
    )


async def record_page_failure(
    session: AsyncSession,
    claim: PageClaim,
    error: str,
    *,
    retry_at: datetime | None,
) -> None:
    """`retry_at` None: LinkedIn refused the token; the page waits until it is set again."""
    values: dict[str, Any] = {"last_error": error[:300]}
    if retry_at is None:
        values |= {"state": "token_rejected", "next_poll_at": None}
    else:
        values["next_poll_at"] = retry_at
    await repository.finish_lease(
        session, repository.COMPANY_PAGES, claim.organisation_id, claim.lease_id, values
    )


def _shown(page: Any) -> CompanyPage:
    return CompanyPage(
        organization_urn=page.organization_urn,
        program_id=page.program_id,
        state=page.state,
        last_polled_at=page.last_polled_at,
        next_poll_at=page.next_poll_at,
        last_error=page.last_error,
    )


async def set_company_page(
    session: AsyncSession, secrets: SecretBox, request: SetCompanyPage, now: datetime
) -> CompanyPage:
    """Configure (or replace) the organisation's page: read at once, then on its interval."""
    organisation_id, fields = request.organisation_id, request.page
    if fields.program_id is not None and not await repository.program_of(
        session, organisation_id, fields.program_id
    ):
        raise Invalid(f"no program {fields.program_id} in this organisation")
    await repository.save_company_page(
        session,
        {
            "organisation_id": organisation_id,
            "organization_urn": fields.organization_urn,
            "sealed_token": secrets.seal(fields.access_token),
            "program_id": fields.program_id,
            "state": "active",
            "next_poll_at": now,
            "lease_id": None,
            "lease_until": None,
            "last_error": None,
            "updated_at": now,
        },
    )
    page = await repository.company_page(session, organisation_id)
    return _shown(page)


async def get_company_page(session: AsyncSession, request: GetCompanyPage) -> CompanyPage:
    page = await repository.company_page(session, request.organisation_id)
    if page is None:
        raise NotFound("no LinkedIn company page is configured")
    return _shown(page)
