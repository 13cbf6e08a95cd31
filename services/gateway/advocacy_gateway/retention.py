"""Retention: the gateway's short-lived rows are purged on a schedule, not left to grow.

Some rows are written by requests that need no credential (a single sign-on start) or outlive
their use (expired sessions, spent idempotency records). A background task of the gateway deletes,
every `retention_interval_seconds`: sessions past their expiry, sign-in attempts past theirs, and
idempotency records older than their replay window, login throttles
forgotten (no failure for a day, no wait left), and the webhook intake's tombstones of erased
people after `ERASURE_RETENTION`. Each kind is purged in its own transaction;
several gateway replicas may sweep at once (the deletes are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from advocacy_gateway.repository import (
    IdempotencyRepository,
    LoginThrottleRepository,
    OidcRepository,
    SessionRepository,
)
from advocacy_gateway.throttle import ThrottlePolicy
from advocacy_gateway.webhooks.repository import purge_erasures_before
from advocacy_shared.envelope import utc_now
from advocacy_shared.lifecycle import first_pass_in, pause

log = logging.getLogger(__name__)

ERASURE_RETENTION = timedelta(days=90)
"""The webhook intake's tombstones outlive every message that could name an erased person: a
domain stream keeps messages 30 days, the dead-letter stream (which an operator may replay) 90."""

Purge = Callable[[AsyncSession, datetime], Awaitable[int]]


class RetentionSweeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        interval_seconds: float,
        idempotency_ttl: timedelta,
    ) -> None:
        self.sessions = sessions
        self.interval_seconds = interval_seconds
        self.purges: dict[str, Purge] = {
            "user_sessions": lambda s, now: SessionRepository(s).purge_expired(now),
            "oidc_login_attempts": lambda s, now: OidcRepository(s).purge_expired_attempts(now),
            "idempotency_records": lambda s, now: IdempotencyRepository(s).purge_before(
                now - idempotency_ttl
            ),
            "login_throttles": lambda s, now: LoginThrottleRepository(s).purge_before(
                now - ThrottlePolicy().forget_after
            ),
            "webhook_erasures": lambda s, now: purge_erasures_before(s, now - ERASURE_RETENTION),
        }
        self._task: asyncio.Task[None] | None = None

    async def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """One pass: how many rows of each kind were deleted."""
        moment = now or utc_now()
        purged: dict[str, int] = {}
        for name, purge in self.purges.items():
            async with self.sessions() as session, session.begin():
                purged[name] = await purge(session, moment)
        return purged

    async def run(self) -> None:
        """Sweep until cancelled. Never raises: a failed pass is logged and the next one retries."""
        await pause(first_pass_in(self.interval_seconds))
        while True:
            try:
                purged = await self.sweep()
                if any(purged.values()):
                    log.info("retention sweep", extra={"purged": purged})
            except Exception:
                log.exception("retention sweep failed; the next one retries")
            await pause(self.interval_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="gateway-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
