"""The cast of the platform's tests: organisations, keys, members, programs, ambassadors and
signed-in browsers, reached either in the test process (`tests.conftest.Gateway`, ASGI) or over
real HTTP (`tests.security.conftest.Live`). Both offer `http` (the admin's client), `auth` (the
platform admin's headers) and `client()` (a browser of its own, with its own cookie jar)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.gateway.fake_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp

PASSWORD = "correct horse battery staple"


class Reachable(Protocol):
    @property
    def http(self) -> httpx.AsyncClient: ...

    @property
    def auth(self) -> dict[str, str]: ...

    def client(self) -> httpx.AsyncClient: ...


# --- Organisations, keys, members -----------------------------------------------------------------


async def organisation(target: Reachable, name: str = "Acme") -> dict[str, Any]:
    """A new organisation, as the API answers it (id, slug, name)."""
    response = await target.http.post("/api/v1/orgs", json={"name": name}, headers=target.auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_organisation(target: Reachable, name: str = "Acme") -> str:
    """A new organisation's id."""
    return str((await organisation(target, name))["id"])


async def ready_organisation(target: Reachable, name: str = "Acme") -> str:
    """An organisation every service has provisioned (the planner serves its playbook)."""
    org = await new_organisation(target, name)
    for _ in range(200):
        response = await target.http.get(f"/api/v1/orgs/{org}/playbook", headers=target.auth)
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            return org
        await asyncio.sleep(0.05)
    raise AssertionError("the planner never provisioned the organisation")


async def new_key(target: Reachable, org_id: str, *scopes: str, **extra: Any) -> dict[str, Any]:
    response = await target.http.post(
        f"/api/v1/orgs/{org_id}/api-keys",
        json={"name": f"{'+'.join(scopes)} key", "scopes": list(scopes), **extra},
        headers=target.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


async def admin_key(target: Reachable, org_id: str) -> dict[str, str]:
    """The organisation's admin: the headers of an API key with the admin scope."""
    return bearer(await new_key(target, org_id, "admin"))


async def add_member(target: Reachable, org_id: str, email: str, role: str) -> dict[str, Any]:
    """A member added by the platform admin, with `PASSWORD`."""
    response = await try_add_member(target, org_id, target.auth, email, role, password=PASSWORD)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def try_add_member(
    target: Reachable, org_id: str, auth: dict[str, str], email: str, role: str, **extra: Any
) -> httpx.Response:
    """Ask to add a member with `auth`'s rights; the answer, whatever it is."""
    return await target.http.post(
        f"/api/v1/orgs/{org_id}/members",
        json={"email": email, "display_name": email.split("@")[0], "role": role, **extra},
        headers=auth,
    )


async def audit_log(target: Reachable, org: str) -> list[dict[str, Any]]:
    response = await target.http.get(
        f"/api/v1/orgs/{org}/audit-log", params={"limit": 200}, headers=target.auth
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["items"]
    return entries


# --- Programs and ambassadors ---------------------------------------------------------------------

PROGRAM: dict[str, Any] = {
    "name": "LinkedIn pilot 2027",
    "owner": "Head of communications",
    "objectives": ["Sales & lead generation"],
    "disciplines": ["social_selling"],
    "capacity": {"fte_share": 0.5},
    "start_date": "2027-01-04",
}


async def new_program(target: Reachable, org: str) -> str:
    response = await target.http.post(
        f"/api/v1/orgs/{org}/programs", json=PROGRAM, headers=target.auth
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_ambassador(
    target: Reachable, org: str, email: str, headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """An invited ambassador (retried while the service provisions the organisation)."""
    for _ in range(200):
        response = await target.http.post(
            f"/api/v1/orgs/{org}/ambassadors",
            json={"email": email, "display_name": email.split("@")[0], **extra},
            headers=headers or target.auth,
        )
        if response.status_code != 503:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- Browsers -------------------------------------------------------------------------------------


@dataclass
class Browser:
    """A signed-in browser: its own cookie jar and the session's CSRF token."""

    http: httpx.AsyncClient
    csrf: str

    def unsafe(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


def browser(target: Reachable) -> httpx.AsyncClient:
    """A browser of its own (its own cookie jar) speaking to the platform."""
    return target.client()


async def sign_in(
    target: Reachable, email: str, password: str = PASSWORD, *, organisation: str | None
) -> Browser:
    """Sign in to an organisation's account (its id or slug), or, with None, a platform admin's."""
    client = target.client()
    response = await client.post(
        "/api/v1/auth/login",
        json={"organisation": organisation, "email": email, "password": password},
    )
    assert response.status_code == 200, response.text
    return Browser(http=client, csrf=response.json()["csrf_token"])


async def configure_sso(target: Reachable, org_id: str, auth: dict[str, str], idp: FakeIdp) -> None:
    response = await target.http.put(
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


# --- Employees: the invitation, and the account linked to their ambassador record ---------------

CONSENT_CHOICES = {"allows_posting": True, "allows_analytics": True}


async def invitation_token(target: Reachable, org: str, ambassador_id: str) -> dict[str, str]:
    """A new invitation for the ambassador: the `Invitation-Token` header its link carries."""
    response = await target.http.post(
        f"/api/v1/orgs/{org}/invitations",
        json={"ambassador_id": ambassador_id},
        headers=target.auth,
    )
    assert response.status_code == 201, response.text
    return {"Invitation-Token": response.json()["url"].split("#", 1)[1]}


async def accept_invitation(target: Reachable, org: str, ambassador_id: str) -> dict[str, str]:
    """The employee opens a new invitation link and accepts the consent text it shows."""
    token = await invitation_token(target, org, ambassador_id)
    opened = await target.http.get("/api/v1/invitation", headers=token)
    assert opened.status_code == 200, opened.text
    answer = await target.http.post(
        "/api/v1/invitation/accept",
        json={"consent_version": opened.json()["consent"]["version"], **CONSENT_CHOICES},
        headers=token,
    )
    assert answer.status_code == 200, answer.text
    return token


async def linked_ambassador(target: Reachable, org: str, email: str) -> tuple[str, Browser]:
    """An invited ambassador who accepted, with an `ambassador` account of the same address,
    signed in and linked to the record: (the ambassador's id, the signed-in browser)."""
    ambassador = await new_ambassador(target, org, email)
    token = await accept_invitation(target, org, ambassador["id"])
    await add_member(target, org, email, "ambassador")
    signed_in = await sign_in(target, email, organisation=org)
    linked = await signed_in.http.post(
        "/api/v1/invitation/link", headers={**token, **signed_in.unsafe()}
    )
    assert linked.status_code == 200, linked.text
    return str(ambassador["id"]), signed_in
