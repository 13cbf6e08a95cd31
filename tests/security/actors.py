"""The attack suite's cast over real HTTP: organisations, keys, members and signed-in browsers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from tests.security.conftest import Live

PASSWORD = "correct horse battery staple"


async def new_organisation(live: Live, name: str = "Acme") -> str:
    response = await live.http.post("/api/v1/orgs", json={"name": name}, headers=live.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_key(live: Live, org_id: str, *scopes: str) -> dict[str, Any]:
    response = await live.http.post(
        f"/api/v1/orgs/{org_id}/api-keys",
        json={"name": f"{'+'.join(scopes)} key", "scopes": list(scopes)},
        headers=live.admin,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


async def add_member(live: Live, org_id: str, email: str, role: str) -> dict[str, Any]:
    response = await live.http.post(
        f"/api/v1/orgs/{org_id}/members",
        json={
            "email": email,
            "display_name": email.split("@")[0],
            "role": role,
            "password": PASSWORD,
        },
        headers=live.admin,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Browser:
    """A signed-in browser over real HTTP: its own cookie jar and the session's CSRF token."""

    http: httpx.AsyncClient
    csrf: str

    def unsafe(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


async def sign_in(
    live: Live, email: str, password: str = PASSWORD, *, organisation: str | None
) -> Browser:
    """Sign in to an organisation's account (its id or slug), or, with None, a platform admin's."""
    client = httpx.AsyncClient(base_url=live.base_url, timeout=30)
    response = await client.post(
        "/api/v1/auth/login",
        json={"organisation": organisation, "email": email, "password": password},
    )
    assert response.status_code == 200, response.text
    return Browser(http=client, csrf=response.json()["csrf_token"])


async def ready_organisation(live: Live, name: str = "Acme") -> str:
    """An organisation every service has provisioned (the planner serves its playbook)."""
    org = await new_organisation(live, name)
    for _ in range(200):
        response = await live.http.get(f"/api/v1/orgs/{org}/playbook", headers=live.admin)
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            return org
        await asyncio.sleep(0.05)
    raise AssertionError("the planner never provisioned the organisation")


async def new_program(live: Live, org: str) -> str:
    response = await live.http.post(
        f"/api/v1/orgs/{org}/programs", json=PROGRAM, headers=live.admin
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


PROGRAM: dict[str, Any] = {
    "name": "LinkedIn pilot 2027",
    "owner": "Head of communications",
    "objectives": ["Sales & lead generation"],
    "disciplines": ["social_selling"],
    "capacity": {"fte_share": 0.5},
    "start_date": "2027-01-04",
}


async def new_ambassador(
    live: Live, org: str, email: str, headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """An invited ambassador (retried while the service provisions the organisation)."""
    for _ in range(200):
        response = await live.http.post(
            f"/api/v1/orgs/{org}/ambassadors",
            json={"email": email, "display_name": email.split("@")[0], **extra},
            headers=headers or live.admin,
        )
        if response.status_code != 503:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def audit_log(live: Live, org: str) -> list[dict[str, Any]]:
    response = await live.http.get(
        f"/api/v1/orgs/{org}/audit-log", params={"limit": 200}, headers=live.admin
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["items"]
    return entries
