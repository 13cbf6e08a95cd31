"""The LinkedIn poller: a background task of the metrics service that reads the analytics of
every published post (and each organisation's company page) on the decaying schedule, within
the daily budgets. The logic is in `advocacy_metrics.service.polling`; this edge holds the
transactions and the calls, and never the one across the other: claim (commit), then the token
and LinkedIn, then record (commit).

Safe with several replicas: a claim leases each poll in the database, so two replicas never poll
the same post in one slot; a replica that stops mid-poll leaves a lease that runs out
(`linkedin_poll_lease_seconds`), after which the poll is due again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from advocacy_metrics.service import polling
from advocacy_metrics.service.polling import Budgets, PageClaim, PollClaim, Schedule
from advocacy_metrics.settings import MetricsSettings
from advocacy_shared.contracts.errors import Conflict, NotFound, RpcError
from advocacy_shared.contracts.linkedin import (
    TOKEN,
    TOKEN_REJECTED,
    GetLinkedInToken,
    LinkedInTokenRejected,
)
from advocacy_shared.crypto import SecretBox, SecretUnreadable
from advocacy_shared.envelope import utc_now
from advocacy_shared.lifecycle import woken
from advocacy_shared.linkedin import LinkedInError
from advocacy_shared.linkedin import LinkedInTokenRejected as TokenRefused
from advocacy_shared.linkedin.analytics import LinkedInAnalytics, PostCounts
from advocacy_shared.linkedin.posts import LinkedInThrottled
from advocacy_shared.rpc import RpcClient
from advocacy_shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = timedelta(days=1)


def schedule_of(settings: MetricsSettings) -> Schedule:
    return Schedule(
        steps=tuple(sorted(settings.linkedin_poll_schedule)),
        quiet=timedelta(hours=settings.linkedin_poll_quiet_hours),
        max_age=timedelta(days=settings.linkedin_poll_max_days),
    )


@dataclass
class Poller:
    settings: MetricsSettings
    analytics: Callable[[], LinkedInAnalytics]
    """Made when first needed: the official client's base URLs are process-wide."""
    rpc: Callable[[], RpcClient]
    secrets: SecretBox | None
    """None in production without `ADVOCACY_METRICS_ENCRYPTION_KEYS`: no company page then."""
    clock: Callable[[], datetime] = utc_now
    """Tests move it forward instead of waiting days."""
    schedule: Schedule = field(init=False)
    _wake: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.schedule = schedule_of(self.settings)

    @property
    def budgets(self) -> Budgets:
        return Budgets(
            per_member=self.settings.linkedin_calls_per_member_per_day,
            per_app=self.settings.linkedin_calls_per_day,
        )

    def wake(self) -> None:
        self._wake.set()

    async def run(self, runtime: ServiceRuntime) -> None:
        while True:
            await woken(self._wake, self.settings.linkedin_poll_seconds)
            self._wake.clear()
            try:
                await self.run_once(runtime)
            except Exception:
                log.exception("LinkedIn polling pass failed; trying again at the next interval")

    async def run_once(self, runtime: ServiceRuntime) -> int:
        """One pass: every due poll claimed now is made, then every due company page. Returns
        the posts polled."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.linkedin_poll_lease_seconds)
        async with runtime.transaction() as session:
            claims = await polling.claim_due(
                session, now, self.settings.linkedin_poll_batch, lease, self.budgets
            )
            pages = await polling.claim_pages(
                session, now, lease, self.budgets, self.settings.company_page_posts
            )
        for claim in claims:
            await self.poll(runtime, claim)
        for page in pages:
            await self.poll_page(runtime, page)
        return len(claims)

    async def poll(self, runtime: ServiceRuntime, claim: PollClaim) -> None:
        try:
            token = await self.rpc().call(
                TOKEN,
                GetLinkedInToken(
                    organisation_id=claim.organisation_id,
                    ambassador_id=claim.ambassador_id,
                    purpose="analytics",
                ),
            )
        except (Conflict, NotFound) as exc:
            async with runtime.transaction() as session:
                await polling.record_reconnect(
                    session, claim, self.clock(), f"no token: {exc.message}"
                )
            return
        except RpcError as exc:
            await self._failed(runtime, claim, f"no token: {exc.message}")
            return
        try:
            counts = await self.analytics().member_post(token.access_token, claim.post_urn)
        except TokenRefused as exc:
            await self._report_rejected(claim.organisation_id, claim.ambassador_id)
            async with runtime.transaction() as session:
                await polling.record_reconnect(session, claim, self.clock(), str(exc))
            return
        except LinkedInThrottled as exc:
            async with runtime.transaction() as session:
                await polling.record_throttled(session, claim, self._after(exc), str(exc))
            return
        except LinkedInError as exc:
            await self._failed(runtime, claim, str(exc))
            return
        await self._record(runtime, claim, counts)

    async def _record(self, runtime: ServiceRuntime, claim: PollClaim, counts: PostCounts) -> None:
        async with runtime.transaction() as session:
            await polling.record_counts(session, claim, counts, self.clock(), self.schedule)

    async def _failed(self, runtime: ServiceRuntime, claim: PollClaim, error: str) -> None:
        retry_at = self.clock() + timedelta(minutes=self.settings.linkedin_poll_retry_minutes)
        async with runtime.transaction() as session:
            await polling.record_failure(session, claim, retry_at, error)

    def _after(self, exc: LinkedInThrottled) -> datetime:
        """`Retry-After` when LinkedIn gave one (at most a day), else midnight UTC."""
        now = self.clock()
        if exc.retry_after is None:
            return polling.next_midnight(now)
        return now + min(timedelta(seconds=exc.retry_after), MAX_RETRY_AFTER)

    async def _report_rejected(self, organisation_id: UUID, ambassador_id: UUID) -> None:
        """LinkedIn refused the token: the ambassadors service marks the connection expired."""
        try:
            await self.rpc().call(
                TOKEN_REJECTED,
                LinkedInTokenRejected(organisation_id=organisation_id, ambassador_id=ambassador_id),
            )
        except RpcError as exc:
            log.warning("could not report the rejected token", extra={"error": exc.message})

    async def poll_page(self, runtime: ServiceRuntime, claim: PageClaim) -> None:
        """The page's latest posts and their lifetime statistics, as company snapshots."""
        retry_at = self.clock() + timedelta(minutes=self.settings.linkedin_poll_retry_minutes)
        try:
            if self.secrets is None:
                raise SecretUnreadable("no encryption key is configured")
            token = self.secrets.open(claim.sealed_token)
            analytics = self.analytics()
            found = await analytics.organization_posts(
                token, claim.organization_urn, self.settings.company_page_posts
            )
            statistics = await analytics.share_statistics(
                token, claim.organization_urn, [post.urn for post in found]
            )
        except (TokenRefused, SecretUnreadable) as exc:
            async with runtime.transaction() as session:
                await polling.record_page_failure(session, claim, str(exc), retry_at=None)
            return
        except LinkedInThrottled as exc:
            async with runtime.transaction() as session:
                await polling.record_page_failure(
                    session, claim, str(exc), retry_at=self._after(exc)
                )
            return
        except LinkedInError as exc:
            async with runtime.transaction() as session:
                await polling.record_page_failure(session, claim, str(exc), retry_at=retry_at)
            return
        now = self.clock()
        observed = [
            (post.urn, post.created_at, statistics[post.urn])
            for post in found
            if post.urn in statistics
        ]
        next_at = now + timedelta(minutes=self.settings.company_page_poll_minutes)
        async with runtime.transaction() as session:
            await polling.record_page(session, claim, observed, now, next_at)


class _Polling:
    poller: Poller | None = None

    def __call__(self) -> Poller:
        if self.poller is None:
            raise RuntimeError("the metrics service's LinkedIn poller is not set up")
        return self.poller


polling_wiring = _Polling()
"""The poller of the process's metrics runtime, for the handlers (schedule, clock) and tests."""
