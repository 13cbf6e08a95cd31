"""Login throttling: every failed sign-in costs the guesser time, per account and per source.

An attempt is counted *before* the password is checked, so a burst of parallel guesses counts in
full; a right password then clears the account's count (and takes its own attempt back off the
source's). Past `free` failures in a row, a key must wait before its next attempt, and each
further failure doubles the wait, up to `max_delay`: a guesser gets a handful of tries a day,
and while a key waits even the right password is refused (429 with Retry-After), unchecked.

Accounts are keyed by organisation and address whether or not the account exists, so the answer
never tells which addresses have accounts. Sources (the client address) get more slack, since
many people may sign in from behind one address. Failures older than `forget_after` start over.
When an existing organisation account starts waiting, `AccountThrottled` goes through the outbox.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_gateway.models import LoginThrottle, User
from advocacy_gateway.repository import LoginThrottleRepository
from advocacy_shared.contracts.identity import AccountThrottled
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThrottlePolicy:
    free_per_account: int = 5
    free_per_source: int = 30
    first_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=30)
    forget_after: timedelta = timedelta(hours=24)

    def delay(self, failures: int, free: int) -> timedelta | None:
        """How long to wait after this many failures in a row; None while still free."""
        beyond = failures - free
        if beyond <= 0:
            return None
        seconds = self.first_delay.total_seconds() * 2 ** min(beyond - 1, 30)
        return min(timedelta(seconds=seconds), self.max_delay)


class Throttled(Exception):
    """The account or the source must wait; the attempt was not checked."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("too many failed sign-ins")
        self.retry_after_seconds = max(1, math.ceil(retry_after.total_seconds()))


@dataclass(frozen=True)
class LoginKeys:
    account: str
    source: str

    @classmethod
    def of(cls, organisation: str | None, email: str, source: str) -> LoginKeys:
        account = f"account:{(organisation or '').lower()}:{email.lower()}"
        return cls(account=_hash(account), source=_hash(f"source:{source}"))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def begin_attempt(
    session: AsyncSession, policy: ThrottlePolicy, keys: LoginKeys, now: datetime | None = None
) -> None:
    """Refuse the attempt while either key waits; otherwise count it (as a failure, for now)."""
    now = now or utc_now()
    throttles = LoginThrottleRepository(session)
    account = await throttles.locked(keys.account)
    source = await throttles.locked(keys.source)
    waits = [
        row.blocked_until - now
        for row in (account, source)
        if row.blocked_until is not None and row.blocked_until > now
    ]
    if waits:
        raise Throttled(max(waits))
    _count_failure(account, policy, policy.free_per_account, now)
    _count_failure(source, policy, policy.free_per_source, now)
    throttles.save(account)
    throttles.save(source)


async def succeeded(session: AsyncSession, policy: ThrottlePolicy, keys: LoginKeys) -> None:
    """The right password: the account starts over, and the source gets its attempt back."""
    throttles = LoginThrottleRepository(session)
    await throttles.forget(keys.account)
    source = await throttles.locked(keys.source)
    source.failures = max(0, source.failures - 1)
    if policy.delay(source.failures, policy.free_per_source) is None:
        source.blocked_until = None
    throttles.save(source)


async def failed(
    session: AsyncSession,
    outbox: Outbox,
    policy: ThrottlePolicy,
    keys: LoginKeys,
    user: User | None,
    now: datetime | None = None,
) -> None:
    """The attempt was counted already; if it made an organisation's account wait, say so."""
    now = now or utc_now()
    throttles = LoginThrottleRepository(session)
    account = await throttles.locked(keys.account)
    source = await throttles.locked(keys.source)
    if _waiting(source, now):
        log.warning("sign-ins from a source wait until %s", source.blocked_until)
    if not _waiting(account, now) or user is None:
        return
    if user.organisation_id is None:  # a platform admin: no organisation to tell
        log.warning("sign-ins to platform admin %s wait until %s", user.id, account.blocked_until)
        return
    await _announce(session, outbox, user.organisation_id, user.id, account, now)


def _waiting(row: LoginThrottle, now: datetime) -> bool:
    return row.blocked_until is not None and row.blocked_until > now


def _count_failure(row: LoginThrottle, policy: ThrottlePolicy, free: int, now: datetime) -> None:
    if row.failures and now - row.last_failure_at > policy.forget_after:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    delay = policy.delay(row.failures, free)
    row.blocked_until = now + delay if delay is not None else None


async def _announce(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    user_id: UUID,
    account: LoginThrottle,
    now: datetime,
) -> None:
    assert account.blocked_until is not None
    await outbox.add(
        session,
        AccountThrottled(
            user_id=user_id,
            failures=account.failures,
            blocked_until=account.blocked_until,
            throttled_at=now,
        ),
        organisation_id=organisation_id,
        subject=str(user_id),
    )
