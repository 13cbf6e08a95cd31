"""Finding 3: guessing passwords costs the guesser, not the platform.

After a few wrong passwords the right one no longer signs in at once (429 with Retry-After), the
account's organisation hears of it (an event through the outbox), and Argon2 runs off the event
loop, so a burst of bogus logins does not stall everybody else's requests."""

from __future__ import annotations

import asyncio
import logging
import statistics
import threading
import time
from typing import Any
from uuid import UUID

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import col, select

from advocacy_gateway import security
from advocacy_gateway.models import User
from advocacy_gateway.repository import UserRepository
from advocacy_gateway.settings import GatewaySettings
from advocacy_shared.crypto import new_key
from tests.actors import admin_key, organisation, try_add_member
from tests.security.conftest import Live

PASSWORD = "the right passphrase"


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    """The request rate limit lifted: every 429 here is the login throttle's own, and the stall
    test may poll `/healthz` as fast as it answers."""
    return {"rate_limit_per_minute": 1_000_000, "rate_limit_burst": 1_000_000}


async def test_after_many_wrong_passwords_the_right_one_waits(live: Live) -> None:
    org = await organisation(live, "Guessed")
    key = await admin_key(live, org["id"])
    added = await try_add_member(
        live, org["id"], key, "ada@guessed.example", "analyst", password=PASSWORD
    )
    assert added.status_code == 201, added.text

    def login(password: str) -> dict[str, str]:
        # The organisation is named the way each version of the API accepts, so the attack
        # reaches the account on either.
        return {"email": "ada@guessed.example", "password": password}

    organisation_field = {"organisation": org["slug"]}
    probe = await live.http.post("/api/v1/auth/login", json={**login("x"), **organisation_field})
    scoped = probe.status_code != 422
    extra = organisation_field if scoped else {}
    refusals = [probe.status_code] if scoped else []
    for attempt in range(20):
        response = await live.http.post(
            "/api/v1/auth/login", json={**login(f"guess number {attempt}"), **extra}
        )
        refusals.append(response.status_code)
    assert set(refusals) <= {401, 429}
    assert 429 in refusals

    right = await live.http.post("/api/v1/auth/login", json={**login(PASSWORD), **extra})
    assert right.status_code == 429, right.text
    assert right.json()["type"].endswith("login-throttled"), right.text
    assert int(right.headers["Retry-After"]) >= 1
    assert "set-cookie" not in right.headers

    async with live.platform.gateway.app.state.gateway.sessions() as session:
        payloads = (await session.execute(text("SELECT payload FROM outbox"))).scalars().all()
    throttled = [p for p in payloads if "advocacy.gateway.account.throttled.v1" in p]
    assert throttled, "no AccountThrottled event in the outbox"
    assert added.json()["user_id"] in throttled[0]


@pytest.mark.usefixtures("production_argon2")
async def test_bogus_logins_do_not_stall_other_requests(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified_on: list[str] = []
    verify = security.verify_password

    def recording_verify(password_hash: str | None, password: str) -> bool:
        verified_on.append(threading.current_thread().name)
        return bool(verify(password_hash, password))

    monkeypatch.setattr(security, "verify_password", recording_verify)
    org = await organisation(live, "Stalled")
    key = await admin_key(live, org["id"])
    for n in range(-1, 8):  # real accounts, so every wrong password costs a real verification
        added = await try_add_member(
            live, org["id"], key, f"user-{n}@stalled.example", "analyst", password=PASSWORD
        )
        assert added.status_code == 201, added.text

    async def bogus(n: int) -> None:
        response = await live.http.post(
            "/api/v1/auth/login",
            json={
                "organisation": org["slug"],
                "email": f"user-{n}@stalled.example",
                "password": "not the password at all",
            },
        )
        assert response.status_code == 401, response.text

    await bogus(-1)  # warm: connections, pools and the first request's one-off costs
    assert (await live.http.get("/healthz")).status_code == 200
    started = time.monotonic()
    logins = asyncio.ensure_future(asyncio.gather(*(bogus(n) for n in range(8))))
    latencies = []
    while not logins.done():
        asked = time.monotonic()
        health = await live.http.get("/healthz")
        latencies.append(time.monotonic() - asked)
        assert health.status_code == 200
    await logins
    logins_took = time.monotonic() - started
    # On the event loop, a health check queues behind every Argon2 verification before it: at
    # most about one answers per login, each after a whole verification. Off the loop they flow.
    # (One slow outlier, a SQLite lock or a collection pause, says nothing of the loop.)
    assert len(latencies) >= 3 * 8, (latencies, logins_took)
    # Every verification ran in the bounded Argon2 pool, none on the event loop's thread.
    assert len(verified_on) >= 9
    assert all(name.startswith("argon2") for name in verified_on), verified_on
    assert statistics.median(latencies) < logins_took / 10, (latencies, logins_took)


def test_the_hashing_settings_default_to_rfc_9106_and_a_weaker_one_is_warned_of_or_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cheapest: dict[str, Any] = {"password_hash_time_cost": 1, "password_hash_memory_kib": 8}
    with caplog.at_level(logging.WARNING, logger="advocacy_gateway.security"):
        production = security.configured_hasher(GatewaySettings())
        assert caplog.records == []
        cheap = security.configured_hasher(GatewaySettings(**cheapest, password_hash_parallelism=1))
    (warned,) = caplog.records
    assert "weaker than OWASP's minimum" in warned.getMessage()
    assert (production.time_cost, production.memory_cost, production.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    )
    made = cheap.hash(PASSWORD)
    assert made.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert production.verify(made, PASSWORD)  # a hash verifies by its own parameters

    production_settings: dict[str, Any] = {
        "environment": "production",
        "admin_api_key": "a-real-secret",
        "nats_url": "nats://nats-1:4222",
        "database_url": "postgresql://db/gateway",
        "encryption_keys": new_key(),
    }
    assert not GatewaySettings(**production_settings).weak_password_hashing
    weak_ones: list[dict[str, Any]] = [
        {"password_hash_time_cost": 1},
        {"password_hash_memory_kib": 19 * 1024 - 1},
    ]
    for weak in weak_ones:
        with pytest.raises(ValidationError, match="weaker than OWASP's minimum"):
            GatewaySettings(**production_settings, **weak)


async def stored_hash(live: Live, email: str) -> str:
    state = live.platform.gateway.app.state.gateway
    async with state.sessions() as session:
        query = select(User.password_hash).where(col(User.email) == email)
        return str((await session.execute(query)).scalar_one())


async def test_a_sign_in_rehashes_a_password_hashed_with_other_parameters_once(
    live: Live,
) -> None:
    """Raising the `password_hash_*` settings reaches an existing account at its next sign-in;
    a wrong password changes nothing."""
    org = await organisation(live, "Rehashed")
    key = await admin_key(live, org["id"])
    email = "ada@rehashed.example"
    added = await try_add_member(live, org["id"], key, email, "analyst", password=PASSWORD)
    assert added.status_code == 201, added.text
    made = await stored_hash(live, email)
    assert made.startswith("$argon2id$v=19$m=8,t=1,p=1$")  # the tests' cheapest

    def login(password: str) -> dict[str, str]:
        return {"organisation": org["slug"], "email": email, "password": password}

    cheapest = security.use_password_hasher(
        PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    )
    try:
        wrong = await live.http.post("/api/v1/auth/login", json=login("not the password"))
        assert wrong.status_code == 401, wrong.text
        assert await stored_hash(live, email) == made
        right = await live.http.post("/api/v1/auth/login", json=login(PASSWORD))
        assert right.status_code == 200, right.text
        rehashed = await stored_hash(live, email)
        assert rehashed.startswith("$argon2id$v=19$m=16,t=2,p=1$"), rehashed
        again = await live.http.post("/api/v1/auth/login", json=login(PASSWORD))
        assert again.status_code == 200, again.text
        assert await stored_hash(live, email) == rehashed
    finally:
        security.use_password_hasher(cheapest)

    # A rehash whose sign-in read the hash before a password change stores nothing: the
    # changed password stays.
    state = live.platform.gateway.app.state.gateway
    async with state.transaction() as session:
        user = await UserRepository(session).by_email(UUID(org["id"]), email)
        assert user is not None
        stale = UserRepository(session).replace_password_hash(user.id, made, "$argon2id$stale")
        assert await stale is False
    assert await stored_hash(live, email) == rehashed
