"""The LinkedIn sandbox wired into the platform's tests: the `sandbox` fixture (the sandbox on a
loopback port, its URL in `state.url`), the services' LinkedIn settings that point at it, and an
ambassador's connection through it (consent, the gateway's authorize, the browser's round trip at
LinkedIn, the callback).

A plugin (named in tests/conftest.py), so that every test module asks for `sandbox` by name; a
module wires it into the services by overriding `service_overrides` with `linkedin_settings`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from advocacy_devtools.embedded_nats import free_port
from advocacy_devtools.linkedin_sandbox import SandboxSettings, create_sandbox
from advocacy_shared.linkedin import MEMBER_SCOPES, LinkedInSettings
from tests.conftest import Platform
from tests.e2e.test_ambassadors import CONSENT, invite
from tests.loopback import LoopbackServer

CLIENT_ID = "e2e-app"
CALLBACK = "http://gateway/api/v1/linkedin/callback"
CLIENT_SECRET = "e2e-linkedin-client-secret"
PAGE_ADMIN_SCOPES = (*MEMBER_SCOPES, "rw_organization_admin")
"""A member's scopes and a company page administrator's (the page's statistics)."""


@pytest.fixture
async def sandbox() -> AsyncIterator[FastAPI]:
    app = create_sandbox(
        SandboxSettings(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uris=(CALLBACK,),
            auto_approve=True,
        )
    )
    app.state.url = f"http://127.0.0.1:{free_port()}"
    server = LoopbackServer(app, int(app.state.url.rsplit(":", 1)[1]))
    await server.start()
    yield app
    await server.stop()


def linkedin_settings(url: str, scopes: tuple[str, ...] = MEMBER_SCOPES) -> LinkedInSettings:
    """A service's LinkedIn app, at the sandbox on `url`: few, quick retries."""
    return LinkedInSettings(
        scopes=scopes,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url=CALLBACK,
        oauth_base_url=f"{url}/oauth/v2",
        rest_base_url=f"{url}/rest",
        v2_base_url=f"{url}/v2",
        web_base_url=url,
        allowed_networks=("127.0.0.1/32",),  # the sandbox, on loopback
        max_attempts=2,
        backoff_initial_seconds=0.01,
    )


async def consented(
    platform: Platform, org: str, email: str, *, program_id: str | None = None, **consent: Any
) -> str:
    """An invited ambassador (into `program_id`'s program, if given) who consented: its path."""
    invited = {"program_id": program_id} if program_id else {}
    ambassador = await invite(platform, org, email, **invited)
    base = f"/api/v1/orgs/{org}/ambassadors/{ambassador['id']}"
    response = await platform.http.post(
        f"{base}/consent", json={**CONSENT, **consent}, headers=platform.auth
    )
    assert response.status_code == 200, response.text
    return base


async def connected(
    platform: Platform, org: str, email: str, *, program_id: str | None = None
) -> str:
    """An ambassador who consented and connected LinkedIn: its path."""
    base = await consented(platform, org, email, program_id=program_id)
    assert (await connect(platform, base)).status_code == 200
    return base


async def authorization_url(platform: Platform, base: str) -> str:
    response = await platform.http.post(f"{base}/linkedin/authorize", headers=platform.auth)
    assert response.status_code == 200, response.text
    url: str = response.json()["authorization_url"]
    return url


async def follow(url: str) -> str:
    """The ambassador's browser at LinkedIn (the sandbox): where it is sent back to."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    location: str = response.headers["location"]
    assert location.startswith(CALLBACK)
    return location


async def callback(platform: Platform, location: str) -> httpx.Response:
    return await platform.http.get(location.removeprefix("http://gateway"))


async def connect(platform: Platform, base: str) -> httpx.Response:
    return await callback(platform, await follow(await authorization_url(platform, base)))
