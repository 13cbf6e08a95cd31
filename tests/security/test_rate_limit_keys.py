"""Finding 4: rate limits are keyed on the resolved caller, failed authentications cost the source
address, X-Forwarded-For counts only from trusted proxies, and every endpoint is covered."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.actors import new_key, new_organisation
from tests.security.conftest import SLOW_MACHINE, Live

BURST = 6


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    # The test client reaches the gateway from 127.0.0.1, which is the trusted proxy here.
    return {
        **SLOW_MACHINE,
        "rate_limit_burst": BURST,
        "rate_limit_per_minute": 1,
        "trusted_proxies": ["127.0.0.1/32"],
    }


async def _statuses(live: Live, n: int, path: str, headers: dict[str, str]) -> list[int]:
    return [(await live.http.get(path, headers=headers)).status_code for _ in range(n)]


async def test_spellings_of_one_key_share_one_bucket(live: Live) -> None:
    org = await new_organisation(live)
    key = (await new_key(live, org, "bi"))["key"]
    spellings = ["Bearer", "bearer", "BEARER", "bEaReR", "BeArEr", "beareR", "BEARer", "bearER"]
    statuses = [
        (
            await live.http.get(f"/api/v1/orgs/{org}", headers={"Authorization": f"{s} {key}"})
        ).status_code
        for s in spellings
    ]
    assert statuses == [200] * BURST + [429] * (len(spellings) - BURST)


async def test_random_credentials_buy_no_fresh_bucket(live: Live) -> None:
    org = await new_organisation(live)
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    statuses = [
        (
            await live.http.get(
                f"/api/v1/orgs/{org}",
                headers={**forwarded, "Authorization": f"Bearer {secrets.token_hex(8)}"},
            )
        ).status_code
        for _ in range(BURST + 2)
    ]
    assert statuses == [401] * BURST + [429, 429]
    cookie = {**forwarded, "Cookie": f"advocacy_session={secrets.token_hex(8)}"}
    assert (await live.http.get(f"/api/v1/orgs/{org}", headers=cookie)).status_code == 429
    # The admin key, from the same address, has a bucket of its own.
    admin = await live.http.get(f"/api/v1/orgs/{org}", headers={**forwarded, **live.admin})
    assert admin.status_code == 200


async def test_anonymous_callers_behind_a_trusted_proxy_have_buckets_of_their_own(
    live: Live,
) -> None:
    junk = {"X-Forwarded-For": "198.51.100.66", "Invitation-Token": "x" * 40}
    statuses = await _statuses(live, BURST + 1, "/api/v1/invitation", junk)
    assert statuses[-1] == 429
    employee = {"X-Forwarded-For": "198.51.100.7"}
    assert (await live.http.get("/invitation", headers=employee)).status_code == 200
    # A spoofed left-most hop changes nothing: the proxy appended the real address on the right.
    spoofed = {"X-Forwarded-For": "192.0.2.1, 198.51.100.66"}
    assert (await live.http.get("/invitation", headers=spoofed)).status_code == 429


async def test_readiness_and_single_sign_on_start_are_limited(live: Live) -> None:
    readyz = await _statuses(live, BURST + 1, "/readyz", {"X-Forwarded-For": "192.0.2.10"})
    assert readyz[-1] == 429
    sso = await _statuses(
        live, BURST + 1, "/api/v1/auth/oidc/no-such-org/login", {"X-Forwarded-For": "192.0.2.11"}
    )
    assert sso[-1] == 429
    health = await _statuses(live, BURST + 1, "/healthz", {"X-Forwarded-For": "192.0.2.12"})
    assert health[-1] == 429


@pytest.mark.parametrize(
    "gateway_overrides", [{"rate_limit_burst": BURST, "rate_limit_per_minute": 1}]
)
async def test_forwarded_for_from_an_untrusted_peer_is_ignored(live: Live) -> None:
    statuses = [
        (await live.http.get("/readyz", headers={"X-Forwarded-For": f"192.0.2.{i}"})).status_code
        for i in range(BURST + 1)
    ]
    assert statuses[-1] == 429
