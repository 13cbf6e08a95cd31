"""Helpers for the identity attacks: organisations, their admins' keys, members, browsers."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.gateway.fake_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp
from tests.security.conftest import Live


async def organisation(live: Live, name: str) -> dict[str, Any]:
    response = await live.http.post("/api/v1/orgs", json={"name": name}, headers=live.admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def admin_key(live: Live, org_id: str) -> dict[str, str]:
    """The organisation's admin: an API key with the admin scope."""
    response = await live.http.post(
        f"/api/v1/orgs/{org_id}/api-keys",
        json={"name": "org admin", "scopes": ["admin"]},
        headers=live.admin,
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


async def add_member(
    live: Live, org_id: str, auth: dict[str, str], email: str, role: str, **extra: Any
) -> httpx.Response:
    return await live.http.post(
        f"/api/v1/orgs/{org_id}/members",
        json={"email": email, "display_name": email.split("@")[0], "role": role, **extra},
        headers=auth,
    )


def browser(live: Live) -> httpx.AsyncClient:
    """A browser of its own (its own cookie jar) speaking to the platform."""
    return httpx.AsyncClient(base_url=live.base_url, timeout=30)


async def configure_sso(live: Live, org_id: str, auth: dict[str, str], idp: FakeIdp) -> None:
    response = await live.http.put(
        f"/api/v1/orgs/{org_id}/sso/oidc",
        json={"issuer": idp.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        headers=auth,
    )
    assert response.status_code == 200, response.text


async def sign_in_through_sso(client: httpx.AsyncClient, slug: str) -> httpx.Response:
    """A browser starts at the platform, passes the provider, and comes back to the callback."""
    start = await client.get(f"/api/v1/auth/oidc/{slug}/login")
    assert start.status_code == 302, start.text
    async with httpx.AsyncClient() as outside:
        at_provider = await outside.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    return await client.get(back.path, params=params)
