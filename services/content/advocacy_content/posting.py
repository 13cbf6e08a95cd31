"""The publisher: posts due on the API path go to LinkedIn at their time, exactly once.

One pass (`Publisher.run_once`, every `posting_poll_seconds` or when woken):

1. **Claim** (one transaction): the post's row is locked; it becomes `posting`, its attempt
   counter goes up and an attempt row is written `pending` with its own id (the idempotency
   marker) and `next_attempt_at` = now + `posting_lease_seconds`. Committed *before* LinkedIn is
   called.
2. **Token**: the ambassadors service hands the person's token (`linkedin.token`, purpose
   posting); refused (consent withdrawn, not connected, expired) means nothing is sent.
3. **Reconcile** when an earlier attempt of the post is in doubt (`pending`: the publisher
   stopped between the call and its record; `unknown`: a time-out or a 5xx): with
   `r_member_social` the author's latest posts are searched for the same commentary, written
   since the first doubtful attempt; found, the post is published with that URN, nothing sent.
4. **Call** `POST /rest/posts` once (the adapter never retries a create). LinkedIn refuses the
   same commentary by the same author shortly after with 422 `DUPLICATE_POST` naming the first
   post: a resend of an attempt in doubt either creates the post (the first call never reached
   LinkedIn) or learns the URN of the one it did create. Either way it exists once. An attempt in
   doubt for longer than `posting_resend_within_hours` is not resent (LinkedIn's duplicate window
   is not documented): the post fails as `outcome_unknown` for a person to check.
5. **Record** (one transaction): the attempt's outcome, the post's new state, and for a live post
   `PostPublished` through the outbox, together.

A crash between 4 and 5 leaves the post `posting` with a `pending` attempt; once the lease has
run out, any replica's pass takes it up at step 1 as in doubt, and 3 or 4 find the post.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content import posts
from advocacy_content.models import PostAttemptRecord, PostRecord
from advocacy_content.repository import (
    PostRepository,
    attempts_since_everywhere,
    due_posts,
    organisations_with_due_reminders,
)
from advocacy_content.settings import ContentSettings
from advocacy_shared.contracts.errors import Conflict, RpcError
from advocacy_shared.contracts.linkedin import (
    TOKEN,
    TOKEN_REJECTED,
    GetLinkedInToken,
    LinkedInToken,
    LinkedInTokenRejected,
)
from advocacy_shared.contracts.posts import PostReminderRaised, ReconnectRequested
from advocacy_shared.envelope import utc_now
from advocacy_shared.lifecycle import woken
from advocacy_shared.linkedin import LinkedInRejected, LinkedInUnavailable
from advocacy_shared.linkedin import LinkedInTokenRejected as TokenRefused
from advocacy_shared.linkedin.client import LinkedInError
from advocacy_shared.linkedin.posts import (
    LinkedInDuplicate,
    LinkedInPostRefused,
    LinkedInPosts,
    LinkedInThrottled,
    escape_little_text,
)
from advocacy_shared.outbox import Outbox
from advocacy_shared.rpc import RpcClient
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.telemetry import (
    LINKEDIN_BUDGET_SPENT,
    LINKEDIN_POSTS_BUDGET,
    LINKEDIN_POSTS_TODAY,
)

log = logging.getLogger(__name__)

BATCH = 50
DOUBT_OUTCOMES = frozenset({"pending", "unknown"})


@dataclass
class Answer:
    """What one attempt learnt, to be recorded."""

    outcome: str
    """created, duplicate, found, throttled, refused, token_rejected, not_sent, unknown"""
    urn: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    failure: str | None = None
    reconnect: str | None = None  # token_rejected | not_connected


@dataclass(frozen=True)
class Claim:
    organisation_id: UUID
    post_id: UUID
    ambassador_id: UUID
    attempt_id: UUID
    number: int
    """The post's calls in this round (since it was last scheduled by a person)."""
    text: str
    doubt_since: datetime | None


def next_midnight(now: datetime) -> datetime:
    """LinkedIn's daily quotas reset at midnight UTC."""
    tomorrow = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0, 1), tzinfo=UTC)


def midnight(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time(0, 0), tzinfo=UTC)


class Publisher:
    """Posts due posts through the LinkedIn adapter; raises manual-path reminders."""

    def __init__(
        self,
        settings: ContentSettings,
        linkedin: Callable[[], LinkedInPosts],
        rpc: Callable[[], RpcClient],
    ) -> None:
        """`linkedin` makes the adapter when first needed: it sets the official client's base
        URLs process-wide, which a process that never posts should leave alone."""
        self.settings = settings
        self.linkedin = linkedin
        self.rpc = rpc
        self._wake = asyncio.Event()
        self.after_linkedin_answer: Callable[[UUID], Awaitable[None]] | None = None
        """Runs between LinkedIn's answer and the record's commit: where a test injects a crash."""

    def wake(self) -> None:
        self._wake.set()

    async def run(self, runtime: ServiceRuntime) -> None:
        while True:
            try:
                await self.run_once(runtime)
            except Exception:
                log.exception("posting pass failed; trying again at the next interval")
            await woken(self._wake, self.settings.posting_poll_seconds)
            self._wake.clear()

    async def run_once(self, runtime: ServiceRuntime) -> int:
        """One pass: every due post attempted once, every due reminder raised. Posts handled."""
        now = utc_now()
        async with runtime.sessions() as session:
            due = await due_posts(session, now, BATCH)
            reminding = await organisations_with_due_reminders(session, now, BATCH)
        for organisation_id, post_id in due:
            await self.publish(runtime, organisation_id, post_id)
        for organisation_id in reminding:
            async with runtime.transaction() as session:
                await self.remind(session, runtime.outbox, organisation_id, now)
        return len(due)

    async def publish(self, runtime: ServiceRuntime, organisation_id: UUID, post_id: UUID) -> None:
        async with runtime.transaction() as session:
            claim = await self.claim(session, organisation_id, post_id)
        if claim is None:
            return
        answer = await self.attempt(claim)
        if self.after_linkedin_answer is not None:
            await self.after_linkedin_answer(post_id)
        if answer.outcome == "token_rejected":
            await self._report_rejected(claim)
        async with runtime.transaction() as session:
            await self.record(session, runtime.outbox, claim, answer)

    async def claim(
        self, session: AsyncSession, organisation_id: UUID, post_id: UUID
    ) -> Claim | None:
        """Step 1: lock, check, and mark the attempt before anything is sent."""
        now = utc_now()
        repository = PostRepository(session, organisation_id)
        record = await repository.locked(post_id)
        if (
            record is None
            or record.path != "api"
            or record.state not in ("scheduled", "posting")
            or record.next_attempt_at is None
            or record.next_attempt_at > now
        ):
            return None  # another replica took it, or it moved meanwhile
        latest = await repository.latest_attempt(post_id)
        if latest is not None and latest.outcome == "pending":
            latest.outcome = "unknown"
            latest.finished_at = now
            latest.error = "no outcome recorded: the publisher stopped during the attempt"
        doubt_since = await self._doubt_since(repository, post_id)
        if record.attempts >= self.settings.posting_max_attempts:
            self._fail(record, "attempts_exhausted", "no attempt left", now)
            return None
        resend_within = timedelta(hours=self.settings.posting_resend_within_hours)
        if doubt_since is not None and now - doubt_since > resend_within:
            self._fail(
                record,
                "outcome_unknown",
                "an attempt's outcome is unknown for too long to send again: check the "
                "ambassador's LinkedIn profile, then report the post's URL or schedule it again",
                now,
            )
            return None
        if await self._over_budget(session, repository, record, now):
            return None
        posts.move(record, "posting", now)
        record.attempts += 1
        record.next_attempt_at = now + timedelta(seconds=self.settings.posting_lease_seconds)
        attempt = PostAttemptRecord(
            organisation_id=organisation_id,
            post_id=post_id,
            ambassador_id=record.ambassador_id,
            number=await repository.attempt_count(post_id) + 1,
            started_at=now,
            outcome="pending",
        )
        repository.add(attempt)
        return Claim(
            organisation_id=organisation_id,
            post_id=post_id,
            ambassador_id=record.ambassador_id,
            attempt_id=attempt.id,
            number=record.attempts,
            text=record.text,
            doubt_since=doubt_since,
        )

    @staticmethod
    async def _doubt_since(repository: PostRepository, post_id: UUID) -> datetime | None:
        """When the first attempt whose outcome is unknown started (none: nothing in doubt)."""
        return await repository.first_attempt_at(post_id, DOUBT_OUTCOMES)

    async def _over_budget(
        self,
        session: AsyncSession,
        repository: PostRepository,
        record: PostRecord,
        now: datetime,
    ) -> bool:
        """The member's and the app's daily budgets (LinkedIn's quotas, kept on our side)."""
        since = midnight(now)
        mine = await repository.attempts_since(record.ambassador_id, since)
        everyone = await attempts_since_everywhere(session, since)
        LINKEDIN_POSTS_TODAY.set(everyone)
        LINKEDIN_POSTS_BUDGET.set(self.settings.posts_per_day)
        if (
            mine < self.settings.posts_per_ambassador_per_day
            and everyone < self.settings.posts_per_day
        ):
            return False
        LINKEDIN_BUDGET_SPENT.labels(
            "app" if everyone >= self.settings.posts_per_day else "member"
        ).inc()
        if record.state == "posting":
            posts.move(record, "scheduled", now)
        record.next_attempt_at = next_midnight(now)
        record.last_error = "the daily posting budget is spent: posting after midnight UTC"
        record.updated_at = now
        return True

    def _fail(self, record: PostRecord, failure: str, error: str, now: datetime) -> None:
        if record.state == "scheduled":
            posts.move(record, "posting", now)
        posts.move(record, "failed", now)
        record.failure = failure
        record.last_error = error[:500]
        record.next_attempt_at = None

    async def attempt(self, claim: Claim) -> Answer:
        """Steps 2 to 4: the token, reconciliation of a doubtful earlier attempt, the call."""
        try:
            token = await self.rpc().call(
                TOKEN,
                GetLinkedInToken(
                    organisation_id=claim.organisation_id,
                    ambassador_id=claim.ambassador_id,
                    purpose="posting",
                ),
            )
        except Conflict as exc:
            consent = "consent" in exc.message
            return Answer(
                "not_sent",
                error=exc.message,
                failure="no_consent" if consent else "reconnect_needed",
                reconnect=None if consent else "not_connected",
            )
        except RpcError as exc:
            return Answer("not_sent", error=exc.message, retry_at=self._retry_at(claim))
        if claim.doubt_since is not None:
            found = await self._find_existing(token, claim)
            if found is not None:
                return Answer("found", urn=found)
        try:
            urn = await self.linkedin().create(token.access_token, token.member_urn, claim.text)
        except LinkedInDuplicate as exc:
            if exc.urn is None:
                return Answer("unknown", error=str(exc), failure="outcome_unknown")
            return Answer("duplicate", urn=exc.urn)
        except TokenRefused as exc:
            return Answer(
                "token_rejected",
                error=str(exc),
                failure="reconnect_needed",
                reconnect="token_rejected",
            )
        except LinkedInThrottled as exc:
            after = exc.retry_after
            retry_at = (
                utc_now() + timedelta(seconds=min(after, 86_400.0))
                if after is not None
                else next_midnight(utc_now())
            )
            return Answer("throttled", error=str(exc), retry_at=retry_at)
        except LinkedInPostRefused as exc:
            return Answer("refused", error=f"{exc}: {exc.detail}", failure="refused")
        except LinkedInRejected as exc:
            return Answer("refused", error=str(exc), failure="refused")
        except LinkedInUnavailable as exc:
            return Answer("unknown", error=str(exc), retry_at=self._retry_at(claim))
        except LinkedInError as exc:
            return Answer("unknown", error=str(exc), retry_at=self._retry_at(claim))
        return Answer("created", urn=urn)

    async def _find_existing(self, token: LinkedInToken, claim: Claim) -> str | None:
        """Step 3: the post LinkedIn may already have, when the token may read the member's
        posts (`r_member_social`); None when it cannot tell or found none."""
        if "r_member_social" not in token.scopes or claim.doubt_since is None:
            return None
        wanted = escape_little_text(claim.text)
        since = claim.doubt_since - timedelta(minutes=1)
        try:
            found = await self.linkedin().find_by_author(token.access_token, token.member_urn)
        except LinkedInError as exc:
            log.warning("could not look the post up on LinkedIn", extra={"error": str(exc)})
            return None
        for post in found:
            if post.commentary == wanted and (post.created_at is None or post.created_at >= since):
                return post.urn
        return None

    def _retry_at(self, claim: Claim) -> datetime:
        delay = self.settings.posting_retry_seconds * 2 ** max(claim.number - 1, 0)
        return utc_now() + timedelta(seconds=min(delay, 3600.0))

    async def _report_rejected(self, claim: Claim) -> None:
        """LinkedIn refused the token: the ambassadors service marks the connection expired."""
        try:
            await self.rpc().call(
                TOKEN_REJECTED,
                LinkedInTokenRejected(
                    organisation_id=claim.organisation_id, ambassador_id=claim.ambassador_id
                ),
            )
        except RpcError as exc:
            log.warning("could not report the rejected token", extra={"error": exc.message})

    async def record(
        self, session: AsyncSession, outbox: Outbox, claim: Claim, answer: Answer
    ) -> None:
        """Step 5: the attempt's outcome, the post's state and its events, in one transaction."""
        now = utc_now()
        repository = PostRepository(session, claim.organisation_id)
        record = await repository.locked(claim.post_id)
        attempt = await repository.attempt(claim.attempt_id)
        if attempt is not None:
            attempt.outcome = answer.outcome
            attempt.finished_at = now
            attempt.linkedin_post_urn = answer.urn
            attempt.error = answer.error[:500] if answer.error else None
        if record is None or record.state != "posting" or record.attempts != claim.number:
            return  # erased, or another replica took over after the lease: it records its own
        if answer.urn is not None:
            posts.move(record, "published", now)
            record.linkedin_post_urn = answer.urn
            record.post_url = posts.post_url_of(self.settings.linkedin.web_base_url, answer.urn)
            record.published_at = now
            record.next_attempt_at = None
            record.failure = None
            record.last_error = None
            await outbox.add(session, posts.published(record, "scheduled"), claim.organisation_id)
            return
        if answer.failure is not None:
            self._fail(record, answer.failure, answer.error or answer.failure, now)
            if answer.reconnect is not None:
                await outbox.add(
                    session,
                    ReconnectRequested(
                        ambassador_id=record.ambassador_id,
                        post_id=record.id,
                        reason="token_rejected"
                        if answer.reconnect == "token_rejected"
                        else "not_connected",
                        requested_at=now,
                    ),
                    claim.organisation_id,
                )
            return
        posts.move(record, "scheduled", now)
        record.next_attempt_at = answer.retry_at or self._retry_at(claim)
        record.last_error = (answer.error or "")[:500] or None
        record.updated_at = now

    async def remind(
        self, session: AsyncSession, outbox: Outbox, organisation_id: UUID, now: datetime
    ) -> None:
        """Posts on the manual path whose time has come: remind the ambassador, once."""
        repository = PostRepository(session, organisation_id)
        for due in await repository.due_reminders(now, BATCH):
            record = await repository.locked(due.id)
            if record is None or record.state != "scheduled" or record.reminded_at is not None:
                continue
            record.reminded_at = now
            await outbox.add(
                session,
                PostReminderRaised(
                    post_id=record.id,
                    ambassador_id=record.ambassador_id,
                    kind="manual_post_due",
                    due_at=record.scheduled_at or now,
                    raised_at=now,
                ),
                organisation_id,
            )
