"""The login throttle's rules, on a real database: free failures, doubling waits, starting over."""

from __future__ import annotations

from datetime import timedelta

import pytest

from advocacy_gateway import throttle
from advocacy_gateway.throttle import LoginKeys, Throttled, ThrottlePolicy
from advocacy_shared.envelope import utc_now
from tests.conftest import Gateway

POLICY = ThrottlePolicy(free_per_account=2, free_per_source=4)


def test_waits_double_from_the_first_failure_past_the_free_ones_up_to_the_cap() -> None:
    policy = ThrottlePolicy(free_per_account=5, max_delay=timedelta(minutes=30))
    waits = [policy.delay(failures, 5) for failures in range(1, 20)]
    assert waits[:5] == [None] * 5
    assert [w.total_seconds() for w in waits[5:10] if w is not None] == [2, 4, 8, 16, 32]
    assert waits[-1] == timedelta(minutes=30)


def test_accounts_are_keyed_alike_whether_or_not_they_exist_and_case_blind() -> None:
    assert LoginKeys.of("Acme", "Ada@X.example", "10.0.0.1") == LoginKeys.of(
        "acme", "ada@x.example", "10.0.0.1"
    )
    assert LoginKeys.of("acme", "ada@x.example", "10.0.0.1").account != (
        LoginKeys.of("globex", "ada@x.example", "10.0.0.1").account
    )


async def test_an_account_waits_after_its_free_failures_and_a_success_clears_it(
    gateway: Gateway,
) -> None:
    state = gateway.app.state.gateway
    keys = LoginKeys.of("acme", "ada@x.example", "10.0.0.1")
    now = utc_now()
    for _ in range(POLICY.free_per_account + 1):
        async with state.transaction() as session:
            await throttle.begin_attempt(session, POLICY, keys, now)
    with pytest.raises(Throttled) as refused:
        async with state.transaction() as session:
            await throttle.begin_attempt(session, POLICY, keys, now)
    assert refused.value.retry_after_seconds == 2
    later = now + timedelta(seconds=3)
    async with state.transaction() as session:
        await throttle.begin_attempt(session, POLICY, keys, later)  # the wait is over
    with pytest.raises(Throttled) as doubled:
        async with state.transaction() as session:
            await throttle.begin_attempt(session, POLICY, keys, later)
    assert doubled.value.retry_after_seconds == 4
    async with state.transaction() as session:
        await throttle.succeeded(session, POLICY, keys)
    other = LoginKeys.of("acme", "ada@x.example", "10.0.0.2")
    async with state.transaction() as session:
        await throttle.begin_attempt(session, POLICY, other, later)  # the account starts over


async def test_failures_older_than_a_day_are_forgotten(gateway: Gateway) -> None:
    state = gateway.app.state.gateway
    keys = LoginKeys.of("acme", "bob@x.example", "10.0.0.3")
    long_ago = utc_now() - timedelta(days=2)
    for _ in range(POLICY.free_per_account):
        async with state.transaction() as session:
            await throttle.begin_attempt(session, POLICY, keys, long_ago)
    async with state.transaction() as session:
        await throttle.begin_attempt(session, POLICY, keys)  # counted as the first again
