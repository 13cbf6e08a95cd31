"""The kept API keys and organisations (advocacy_gateway.lookups): a revocation takes effect at
once on the replica that made it, and within `auth_cache_seconds` on every other one."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import update
from sqlmodel import col

from advocacy_gateway.lookups import TtlCache
from advocacy_gateway.models import ApiKey
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import utc_now
from tests.actors import bearer, new_key, new_organisation
from tests.conftest import Gateway

CACHE_SECONDS = 0.5


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"auth_cache_seconds": CACHE_SECONDS}


async def status_with(gateway: Gateway, org: str, key: dict[str, Any]) -> int:
    return (await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(key))).status_code


async def test_a_key_revoked_by_another_replica_stops_working_within_the_bound(
    gateway: Gateway,
) -> None:
    org = await new_organisation(gateway)
    key = await new_key(gateway, org, "bi")
    assert await status_with(gateway, org, key) == 200  # now kept by this replica

    # Another replica revokes it: straight in the shared database, unseen by this process.
    engine = create_engine(gateway.settings.effective_database_url())
    async with session_factory(engine)() as session, session.begin():
        await session.execute(
            update(ApiKey).where(col(ApiKey.id) == UUID(key["id"])).values(revoked_at=utc_now())
        )
    await engine.dispose()
    revoked_at = asyncio.get_running_loop().time()

    while await status_with(gateway, org, key) != 401:
        assert asyncio.get_running_loop().time() - revoked_at < CACHE_SECONDS + 2.0
        await asyncio.sleep(0.05)
    assert await status_with(gateway, org, key) == 401


@pytest.mark.parametrize("gateway_overrides", [{"auth_cache_seconds": 60}])
async def test_a_key_revoked_on_this_replica_stops_at_once_however_long_keys_are_kept(
    gateway: Gateway,
) -> None:
    org = await new_organisation(gateway)
    key = await new_key(gateway, org, "bi")
    assert await status_with(gateway, org, key) == 200
    revoked = await gateway.http.delete(
        f"/api/v1/orgs/{org}/api-keys/{key['id']}", headers=gateway.auth
    )
    assert revoked.status_code == 204
    assert await status_with(gateway, org, key) == 401


def test_an_entry_expires_after_its_time_and_unknowns_are_never_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr("advocacy_gateway.lookups.time.monotonic", lambda: now[0])
    cache: TtlCache[str] = TtlCache(ttl=2.0, max_entries=2)
    cache.put("a", "row a")
    now[0] += 1.9
    assert cache.get("a") == "row a"
    now[0] += 0.2
    assert cache.get("a") is None

    async def missing() -> str | None:
        return None

    assert asyncio.run(cache.get_or_load("b", missing)) is None
    assert cache.get("b") is None

    for name in ("c", "d", "e"):
        cache.put(name, name)
    assert cache.get("c") is None  # bounded: the oldest went first
    assert cache.get("e") == "e"


def test_a_cache_of_zero_seconds_keeps_nothing() -> None:
    cache: TtlCache[str] = TtlCache(ttl=0)
    cache.put("a", "row a")
    assert cache.get("a") is None


async def test_concurrent_misses_load_a_row_once() -> None:
    cache: TtlCache[str] = TtlCache(ttl=60)
    loads = 0
    started, release = asyncio.Event(), asyncio.Event()

    async def load() -> str | None:
        nonlocal loads
        loads += 1
        started.set()
        await release.wait()
        return f"row {loads}"

    waiting = [asyncio.ensure_future(cache.get_or_load("a", load)) for _ in range(64)]
    await started.wait()
    await asyncio.sleep(0)  # every caller has asked by now
    release.set()
    assert set(await asyncio.gather(*waiting)) == {"row 1"}
    assert loads == 1
    assert cache.get("a") == "row 1"


async def test_a_row_discarded_while_it_loads_is_not_kept_and_is_loaded_again() -> None:
    cache: TtlCache[str] = TtlCache(ttl=60)
    rows = iter(["before the revocation", "after the revocation"])
    release = asyncio.Event()

    async def load() -> str | None:
        row = next(rows)
        if row == "before the revocation":
            await release.wait()
        return row

    first = asyncio.ensure_future(cache.get_or_load("a", load))
    await asyncio.sleep(0)
    cache.discard("a")  # a revocation committed while the first load was in flight
    assert await cache.get_or_load("a", load) == "after the revocation"
    release.set()
    assert await first == "before the revocation"  # its own caller got what it read
    assert cache.get("a") == "after the revocation"


async def test_a_caller_that_gives_up_does_not_cancel_the_load_for_the_others() -> None:
    cache: TtlCache[str] = TtlCache(ttl=60)
    release = asyncio.Event()

    async def load() -> str | None:
        await release.wait()
        return "row"

    impatient = asyncio.ensure_future(cache.get_or_load("a", load))
    patient = asyncio.ensure_future(cache.get_or_load("a", load))
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    assert await patient == "row"
    assert impatient.cancelled()
    assert cache.get("a") == "row"
