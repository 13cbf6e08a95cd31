"""Finding 10: an accepted invitation is good for one short-lived LinkedIn connection flow, bound
to the browser that started it, and for nothing once the connection is made."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text

from advocacy_shared.envelope import utc_now
from tests.actors import browser, organisation
from tests.e2e.test_ambassadors import invite
from tests.e2e.test_invitations import holder, issue
from tests.e2e.test_linkedin import service_overrides
from tests.linkedin import follow
from tests.security.conftest import Live

__all__ = ["service_overrides"]  # the LinkedIn sandbox, wired into the platform

ACCEPT = {"consent_version": "1", "allows_posting": True, "allows_analytics": True}


async def _accepted_invitation(live: Live, email: str) -> dict[str, str]:
    org = (await organisation(live, "Acme"))["id"]
    ambassador = await invite(live.platform, org, email)
    token = holder(await issue(live.platform, org, ambassador["id"]))
    accepted = await live.http.post("/api/v1/invitation/accept", json=ACCEPT, headers=token)
    assert accepted.status_code == 200, accepted.text
    return token


async def _start(client: httpx.AsyncClient, token: dict[str, str]) -> httpx.Response:
    return await client.post("/api/v1/invitation/linkedin", headers=token)


async def _come_back(client: httpx.AsyncClient, authorization: httpx.Response) -> int:
    """LinkedIn (the sandbox) approves and sends `client` to the callback: its status."""
    location = urlsplit(await follow(authorization.json()["authorization_url"]))
    return (await client.get(f"{location.path}?{location.query}")).status_code


async def test_the_flow_completes_only_in_the_browser_that_started_it(live: Live) -> None:
    token = await _accepted_invitation(live, "ada@acme.dk")
    async with browser(live) as attacker, browser(live) as victim:
        started = await _start(attacker, token)
        assert started.status_code == 200, started.text
        assert await _come_back(victim, started) == 400


async def test_one_state_at_a_time_and_none_after_the_connection(live: Live) -> None:
    token = await _accepted_invitation(live, "bob@acme.dk")
    async with browser(live) as employee:
        first = await _start(employee, token)
        second = await _start(employee, token)
        assert first.status_code == second.status_code == 200
        assert await _come_back(employee, first) == 400  # the second start voided it
        assert await _come_back(employee, second) == 200
        again = await _start(employee, token)
        assert again.status_code == 409, again.text


async def test_the_accepted_link_starts_flows_for_a_short_while_only(live: Live) -> None:
    token = await _accepted_invitation(live, "cleo@acme.dk")
    ambassadors: Any = live.platform.runtimes["ambassadors"]
    async with ambassadors.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE invitations SET responded_at = :at"),
            {"at": utc_now() - timedelta(days=2)},
        )
    async with browser(live) as employee:
        late = await _start(employee, token)
    assert late.status_code == 409, late.text
