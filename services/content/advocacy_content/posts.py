"""Posts: the state machine and the commands on it (docs/posting.md). No commits and no broker
here: the edges own both; events go to the outbox given.

    draft ──► scheduled ──► posting ──► published
      │           │  ▲          │
      │           │  └──────────┤ (429: later; an unknown outcome: reconcile)
      ▼           ▼             ▼
  cancelled ◄─────────────── failed ──► scheduled (again, e.g. after reconnecting)

A post on the manual path never is `posting`: at its time a reminder is raised, and it is
`published` when the ambassador reports its URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content.models import PostRecord
from advocacy_content.post_rules import compliance_violations, post_source
from advocacy_content.repository import PostRepository
from advocacy_shared.contracts.ambassadors import Ambassador
from advocacy_shared.contracts.content import PostPublished, PostSource, PostWithdrawn
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound
from advocacy_shared.contracts.linkedin import LinkedInConnection
from advocacy_shared.contracts.posts import (
    CancelReason,
    CreatePost,
    EditPost,
    FailureKind,
    PathChoice,
    Post,
    PostPath,
    PostState,
    ReportPostUrl,
    SchedulePost,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.linkedin.posts import (
    activity_urn_from_url,
    created_at_of,
    permalink,
    post_urn_from_url,
    share_url,
)
from advocacy_shared.outbox import Outbox

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"scheduled", "cancelled"}),
    "scheduled": frozenset({"scheduled", "posting", "published", "cancelled", "draft"}),
    "posting": frozenset({"published", "scheduled", "posting", "failed"}),
    "failed": frozenset({"scheduled", "published", "cancelled"}),
    "published": frozenset(),
    "cancelled": frozenset(),
}
EDITABLE = frozenset({"draft", "scheduled", "failed"})
MAY_POST = frozenset({"consented", "connected", "trained", "active", "quiet"})
PAST_TOLERANCE = timedelta(seconds=5)
"""A schedule this close to now counts as now (clocks and round trips), not as the past."""
POSTING_SCOPE = "w_member_social"


@dataclass(frozen=True)
class Author:
    """What the ambassadors service says of a post's author at the time of writing."""

    ambassador_id: UUID
    program_id: UUID | None
    leadership: bool
    state: str
    allows_posting: bool
    connection: str  # not_connected | connected | expired
    may_post_by_api: bool

    @classmethod
    def of(cls, ambassador: Ambassador, connection: LinkedInConnection | None) -> Author:
        status = connection.status if connection is not None else "not_connected"
        return cls(
            ambassador_id=ambassador.id,
            program_id=ambassador.program_id,
            leadership=ambassador.profile.leadership,
            state=ambassador.state,
            allows_posting=bool(ambassador.consent and ambassador.consent.allows_posting),
            connection=status,
            may_post_by_api=(
                status == "connected"
                and connection is not None
                and POSTING_SCOPE in connection.scopes
            ),
        )


def path_for(author: Author, choice: PathChoice) -> PostPath:
    """The path a post takes, or a Conflict naming what stands in the way."""
    if author.state not in MAY_POST:
        raise Conflict(
            f"the ambassador is {author.state}: nothing can be posted for them",
            {"rule": "ambassador_state", "state": author.state},
        )
    if not author.allows_posting:
        raise Conflict(
            "the ambassador's consent does not allow posting on their behalf",
            {"rule": "consent"},
        )
    if choice == "manual":
        return "manual"
    if author.may_post_by_api:
        return "api"
    if choice == "api" or author.connection != "connected":
        reason = {
            "not_connected": "the ambassador has not connected LinkedIn",
            "expired": "the ambassador's LinkedIn connection has expired: ask them to reconnect",
            "connected": "the LinkedIn connection does not allow posting (w_member_social)",
        }[author.connection]
        raise Conflict(
            f"{reason}; choose the manual path (path=manual) to post through a share link",
            {"rule": "linkedin_connection", "connection": author.connection},
        )
    return "manual"  # connected without the posting scope: a share link


def not_in_past(scheduled_at: datetime | None, now: datetime) -> datetime | None:
    """The time to schedule at (now for one a round trip late), or an Invalid naming the rule."""
    if scheduled_at is None:
        return None
    if scheduled_at.tzinfo is None:
        raise Invalid(
            "scheduled_at must carry a time zone (e.g. 2026-12-24T09:00:00Z)",
            {"rule": "schedule_timezone"},
        )
    if scheduled_at < now - PAST_TOLERANCE:
        raise Invalid(
            f"scheduled_at {scheduled_at.isoformat()} is in the past",
            {"rule": "schedule_in_past"},
        )
    return max(scheduled_at, now)


async def _compliant(session: AsyncSession, organisation_id: UUID, text: str) -> None:
    broken = await compliance_violations(session, organisation_id, text)
    if broken:
        raise Invalid(
            "the text breaks the organisation's compliance rules: " + "; ".join(broken),
            {"rule": "compliance", "violations": broken[:20]},
        )


def move(record: PostRecord, to: str, now: datetime) -> None:
    """Move a post to another state, or a Conflict naming the moves its state allows."""
    allowed = TRANSITIONS[record.state]
    if to not in allowed:
        shown = ", ".join(sorted(allowed)) or "none"
        raise Conflict(
            f"a {record.state} post cannot become {to} (allowed: {shown})",
            {"rule": "post_state", "state": record.state},
        )
    record.state = to
    record.updated_at = now


async def create(
    session: AsyncSession, request: CreatePost, author: Author, web_base_url: str
) -> Post:
    """Write a post (a draft, or scheduled when a time is given)."""
    now = utc_now()
    path = path_for(author, request.path)
    scheduled_at = not_in_past(request.scheduled_at, now)
    await _compliant(session, request.organisation_id, request.text)
    source = await post_source(
        session,
        request.organisation_id,
        request.ambassador_id,
        request.suggestion_id,
        request.content_item_id,
        request.discipline,
        scheduled_at or now,
    )
    record = PostRecord(
        organisation_id=request.organisation_id,
        ambassador_id=request.ambassador_id,
        program_id=author.program_id,
        content_item_id=source.content_item_id,
        suggestion_id=request.suggestion_id,
        discipline=source.discipline,
        leadership=author.leadership,
        language=request.language,
        topics=list(request.topics),
        text=request.text,
        path=path,
        state="scheduled" if scheduled_at else "draft",
        scheduled_at=scheduled_at,
        next_attempt_at=scheduled_at if path == "api" else None,
        created_by=request.created_by,
        created_at=now,
        updated_at=now,
    )
    PostRepository(session, request.organisation_id).add(record)
    await session.flush()
    return view(record, web_base_url)


async def existing(posts: PostRepository, post_id: UUID) -> PostRecord:
    record = await posts.locked(post_id)
    if record is None:
        raise NotFound(f"no post {post_id} in this organisation")
    return record


async def edit(session: AsyncSession, request: EditPost, web_base_url: str) -> Post:
    now = utc_now()
    repository = PostRepository(session, request.organisation_id)
    record = await existing(repository, request.post_id)
    if record.state not in EDITABLE:
        raise Conflict(
            f"a {record.state} post cannot be edited", {"rule": "post_state", "state": record.state}
        )
    if request.text is not None:
        await _compliant(session, request.organisation_id, request.text)
        record.text = request.text
    if request.scheduled_at is not None:
        await _schedule(repository, record, not_in_past(request.scheduled_at, now), now)
    record.updated_at = now
    return view(record, web_base_url)


async def _schedule(
    posts: PostRepository, record: PostRecord, at: datetime | None, now: datetime
) -> None:
    """Schedule (again). A failed post scheduled again by a person starts a new round of
    attempts, and its attempts whose outcome was unknown are `dismissed`: the person checked
    that the post is not on LinkedIn (docs/posting.md)."""
    if record.state == "failed":
        record.attempts = 0
        await posts.dismiss_doubtful(record.id)
    move(record, "scheduled", now)
    record.scheduled_at = at
    record.next_attempt_at = at if record.path == "api" else None
    record.failure = None
    record.reminded_at = None


async def schedule(
    session: AsyncSession, request: SchedulePost, author: Author, web_base_url: str
) -> Post:
    """Schedule a draft, move a scheduled post, or schedule a failed one again (after the
    ambassador reconnected): consent and connection are checked again."""
    now = utc_now()
    at = not_in_past(request.scheduled_at, now)
    repository = PostRepository(session, request.organisation_id)
    record = await existing(repository, request.post_id)
    path = path_for(author, "api" if record.path == "api" else "manual")
    record.path = path
    await _schedule(repository, record, at, now)
    return view(record, web_base_url)


async def cancel(session: AsyncSession, organisation_id: UUID, post_id: UUID, base: str) -> Post:
    now = utc_now()
    record = await existing(PostRepository(session, organisation_id), post_id)
    if record.state == "posting":
        raise Conflict(
            "the post is being published on LinkedIn right now; it cannot be cancelled",
            {"rule": "post_state", "state": record.state},
        )
    move(record, "cancelled", now)
    record.cancel_reason = "cancelled"
    record.next_attempt_at = None
    return view(record, base)


REPORTED_POST_MAX_AGE = timedelta(days=365)
CLOCK_SKEW = timedelta(minutes=5)


def reported_publication_time(urn: str, now: datetime) -> datetime:
    """When a reported post went out: the time its LinkedIn id carries, when that is plausible
    (within the last year, not ahead of our clock by more than a little skew); else the time it
    is reported. An ambassador often reports a post days after writing it, and participation and
    momentum count it on the day it went out."""
    made = created_at_of(urn)
    if made is None or not now - REPORTED_POST_MAX_AGE <= made <= now + CLOCK_SKEW:
        return now
    return min(made, now)


async def report_url(
    session: AsyncSession, outbox: Outbox, request: ReportPostUrl, web_base_url: str
) -> Post:
    """The manual path: the ambassador posted it and reports the post's URL; its URN is read
    from the URL and the post is published."""
    now = utc_now()
    urn = post_urn_from_url(request.url) or activity_urn_from_url(request.url)
    if urn is None:
        raise Invalid(
            "the URL names no LinkedIn post: copy the post's link (…/feed/update/urn:li:share:…/)",
            {"rule": "post_url"},
        )
    if not request.url.startswith(("https://", "http://")):
        raise Invalid("the URL must be an http(s) link", {"rule": "post_url"})
    record = await existing(PostRepository(session, request.organisation_id), request.post_id)
    if record.state == "posting":
        raise Conflict("the service is publishing this post right now", {"rule": "post_state"})
    move(record, "published", now)
    record.linkedin_post_urn = urn
    record.post_url = request.url
    record.published_at = reported_publication_time(urn, now)
    record.next_attempt_at = None
    record.failure = None
    await outbox.add(session, published(record, "manual"), record.organisation_id)
    return view(record, web_base_url)


async def close_open(
    session: AsyncSession,
    organisation_id: UUID,
    ambassador_id: UUID,
    before: datetime,
    reason: CancelReason,
) -> int:
    """Cancel the ambassador's posts that are not live yet and were written before `before`
    (consent revoked, offboarded): a fact redelivered later cancels nothing written since."""
    posts = PostRepository(session, organisation_id)
    now = utc_now()
    cancelled = 0
    for post_id in await posts.open_of(ambassador_id, before):
        record = await posts.locked(post_id)
        if record is None or record.state not in ("draft", "scheduled", "failed"):
            continue
        move(record, "cancelled", now)
        record.cancel_reason = reason
        record.next_attempt_at = None
        cancelled += 1
    return cancelled


async def erase(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, ambassador_id: UUID
) -> None:
    """The ambassador is erased: their posts go, and published ones are no longer measured."""
    posts = PostRepository(session, organisation_id)
    now = utc_now()
    for record in await posts.of_ambassador(ambassador_id):
        if record.state == "published":
            await outbox.add(
                session,
                PostWithdrawn(
                    post_id=record.id,
                    ambassador_id=ambassador_id,
                    reason="author_erased",
                    withdrawn_at=now,
                ),
                organisation_id,
            )
    await posts.delete_of_ambassador(ambassador_id)


def published(record: PostRecord, source: PostSource) -> PostPublished:
    return PostPublished(
        post_id=record.id,
        ambassador_id=record.ambassador_id,
        program_id=record.program_id,
        content_item_id=record.content_item_id,
        suggestion_id=record.suggestion_id,
        discipline=record.discipline,
        leadership=record.leadership,
        language=record.language,
        topics=list(record.topics or [])[:50],
        linkedin_post_urn=record.linkedin_post_urn,
        post_url=record.post_url,
        source=source,
        published_at=record.published_at or utc_now(),
    )


def view(record: PostRecord, web_base_url: str) -> Post:
    manual_open = record.path == "manual" and record.state in ("draft", "scheduled", "failed")
    return Post(
        id=record.id,
        organisation_id=record.organisation_id,
        ambassador_id=record.ambassador_id,
        program_id=record.program_id,
        content_item_id=record.content_item_id,
        suggestion_id=record.suggestion_id,
        discipline=record.discipline,
        leadership=record.leadership,
        language=record.language,
        topics=list(record.topics or []),
        text=record.text,
        path=cast(PostPath, record.path),
        state=cast(PostState, record.state),
        scheduled_at=record.scheduled_at,
        attempts=record.attempts,
        next_attempt_at=record.next_attempt_at,
        last_error=record.last_error,
        failure=cast(FailureKind | None, record.failure),
        cancel_reason=cast(CancelReason | None, record.cancel_reason),
        linkedin_post_urn=record.linkedin_post_urn,
        post_url=record.post_url,
        share_url=share_url(web_base_url, record.text) if manual_open else None,
        published_at=record.published_at,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def post_url_of(web_base_url: str, urn: str) -> str:
    return permalink(web_base_url, urn)
