"""Helpers for identity tests: organisations, members, keys and signed-in browsers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import Gateway

PASSWORD = "correct horse battery staple"


async def new_organisation(gateway: Gateway, name: str = "Acme") -> str:
    response = await gateway.http.post("/api/v1/orgs", json={"name": name}, headers=gateway.auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def add_member(gateway: Gateway, org_id: str, email: str, role: str) -> dict[str, Any]:
    response = await gateway.http.post(
        f"/api/v1/orgs/{org_id}/members",
        json={
            "email": email,
            "display_name": email.split("@")[0],
            "role": role,
            "password": PASSWORD,
        },
        headers=gateway.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_key(gateway: Gateway, org_id: str, *scopes: str, **extra: Any) -> dict[str, Any]:
    response = await gateway.http.post(
        f"/api/v1/orgs/{org_id}/api-keys",
        json={"name": f"{'+'.join(scopes)} key", "scopes": list(scopes), **extra},
        headers=gateway.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


@dataclass
class Browser:
    """A signed-in browser: its own cookie jar and the session's CSRF token."""

    http: httpx.AsyncClient
    csrf: str

    def unsafe(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


async def sign_in(
    gateway: Gateway, email: str, password: str = PASSWORD, *, organisation: str | None
) -> Browser:
    """Sign in to an organisation's account (its id or slug), or, with None, a platform admin's."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway.app), base_url="http://gateway"
    )
    response = await client.post(
        "/api/v1/auth/login",
        json={"organisation": organisation, "email": email, "password": password},
    )
    assert response.status_code == 200, response.text
    return Browser(http=client, csrf=response.json()["csrf_token"])
