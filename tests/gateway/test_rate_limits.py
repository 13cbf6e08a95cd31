"""Rate limits per credential: 429 with Retry-After past the burst; other callers unaffected."""

from __future__ import annotations

from typing import Any

import pytest

from tests.actors import bearer, new_key, new_organisation
from tests.conftest import Gateway


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    # One token a minute: a loaded machine that takes seconds over these requests refills none.
    return {"rate_limit_burst": 5, "rate_limit_per_minute": 1}


async def test_a_caller_past_its_burst_gets_429_with_retry_after_and_others_do_not(
    gateway: Gateway,
) -> None:
    org = await new_organisation(gateway)  # request 1 of the admin key
    key = await new_key(gateway, org, "bi")  # request 2
    statuses = [
        (await gateway.http.get(f"/api/v1/orgs/{org}", headers=gateway.auth)).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    refused = await gateway.http.get(f"/api/v1/orgs/{org}", headers=gateway.auth)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["type"] == "urn:advocacy:problem:rate-limited"

    other = await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(key))
    assert other.status_code == 200
    assert other.headers["RateLimit-Remaining"] == "4"


async def test_health_endpoints_are_limited_per_address_and_keys_keep_their_own(
    gateway: Gateway,
) -> None:
    statuses = [(await gateway.http.get("/healthz")).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    org = await gateway.http.get("/api/v1/orgs", headers=gateway.auth)
    assert org.status_code == 200
