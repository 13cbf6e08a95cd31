"""Role and tenant isolation, generated over every operation of the OpenAPI document.

Each operation names its permission (`x-permission`, read off the enforcing dependency). Every
role and every API-key scope of one organisation is tried on every operation, in its own
organisation (allowed exactly when the grants say so) and in another one (always 404).

SCIM (`/scim/v2`) has no organisation in its paths: the organisation is the API key's, so there
is no other organisation to try from the path (tests/e2e/test_scim.py shows that a key never
reaches another organisation's users), and its errors are SCIM errors, not problem details.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from advocacy_gateway.access import GRANTS, Permission, Role, Scope, role_allows, scopes_allow
from advocacy_gateway.auth import AUTHENTICATED, PLATFORM_ADMIN
from tests.actors import add_member, bearer, new_key, new_organisation, sign_in
from tests.conftest import Gateway

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/asyncapi.json"),  # the event contract, public as /openapi.json is
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/auth/oidc/{org_slug}/login"),
    ("GET", "/api/v1/auth/oidc/callback"),
    ("GET", "/api/v1/invitation"),  # the invitation token is the credential
    ("POST", "/api/v1/invitation/accept"),
    ("POST", "/api/v1/invitation/decline"),
    ("POST", "/api/v1/invitation/linkedin"),
    ("GET", "/api/v1/linkedin/callback"),
}
SCIM_JSON = "application/scim+json"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    permission: str | None

    @property
    def scoped_by_key(self) -> bool:
        """SCIM: the organisation comes from the caller's API key, not from the path."""
        return "{org_id}" not in self.path and self.path.startswith("/scim/v2/")

    def url(self, org_id: str) -> str:
        filled = self.path.replace("{org_id}", org_id)
        return re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), filled)


@dataclass
class Credential:
    label: str
    client: httpx.AsyncClient
    headers: dict[str, str]
    role: Role | None = None
    scope: Scope | None = None

    def may(self, permission: Permission) -> bool:
        if self.role is not None:
            return role_allows(self.role, permission)
        assert self.scope is not None
        return scopes_allow(frozenset({self.scope}), permission)

    async def call(self, operation: Operation, org_id: str) -> httpx.Response:
        body: dict[str, Any] | None = {} if operation.method in {"POST", "PATCH", "PUT"} else None
        return await self.client.request(
            operation.method, operation.url(org_id), json=body, headers=self.headers
        )


def operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method.upper(), path, spec.get("x-permission"))
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    ]


async def credentials(gateway: Gateway, org_id: str) -> list[Credential]:
    found = []
    for role in Role:
        email = f"{role.value}@example.com"
        await add_member(gateway, org_id, email, role.value)
        browser = await sign_in(gateway, email, organisation=org_id)
        found.append(Credential(f"role {role}", browser.http, browser.unsafe(), role=role))
    for scope in Scope:
        key = await new_key(gateway, org_id, scope.value)
        found.append(Credential(f"scope {scope}", gateway.http, bearer(key), scope=scope))
    return found


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    """Every operation called by every caller, anonymous ones included, in a few seconds: far
    past a caller's burst, which this module does not measure (tests/gateway/test_rate_limits.py
    does), so a 429 would stand where the permission's answer is asserted."""
    return {"rate_limit_burst": 1_000_000, "rate_limit_per_minute": 1_000_000}


async def test_every_operation_is_documented_with_its_permission(gateway: Gateway) -> None:
    document = (await gateway.http.get("/openapi.json")).json()
    undocumented = [
        (op.method, op.path)
        for op in operations(document)
        if op.permission is None and (op.method, op.path) not in PUBLIC
    ]
    assert undocumented == []
    known = {p.value for p in GRANTS} | {AUTHENTICATED, PLATFORM_ADMIN}
    assert {op.permission for op in operations(document)} - {None} <= known


async def test_every_operation_but_the_public_ones_refuses_an_anonymous_caller(
    gateway: Gateway,
) -> None:
    org_id = await new_organisation(gateway)
    document = (await gateway.http.get("/openapi.json")).json()
    for operation in operations(document):
        if (operation.method, operation.path) in PUBLIC:
            continue
        response = await gateway.http.request(operation.method, operation.url(org_id), json={})
        assert response.status_code == 401, (operation, response.text)
        expected = SCIM_JSON if operation.scoped_by_key else "application/problem+json"
        assert response.headers["content-type"] == expected


@pytest.mark.timeout(300)
async def test_every_role_and_scope_gets_exactly_its_grants_and_never_another_tenant(
    gateway: Gateway,
) -> None:
    home, elsewhere = (
        await new_organisation(gateway, "Home"),
        await new_organisation(gateway, "Away"),
    )
    document = (await gateway.http.get("/openapi.json")).json()
    callers = await credentials(gateway, home)
    checked = 0
    for operation in operations(document):
        for caller in callers:
            if operation.permission == PLATFORM_ADMIN:
                response = await caller.call(operation, home)
                assert response.status_code == 403, (caller.label, operation, response.text)
                checked += 1
            elif operation.permission in {p.value for p in GRANTS}:
                await _check_grant(caller, operation, home, elsewhere)
                checked += 2
    assert checked > 200  # the document was really walked


async def _check_grant(caller: Credential, operation: Operation, home: str, elsewhere: str) -> None:
    assert operation.permission is not None
    permission = Permission(operation.permission)
    at_home = await caller.call(operation, home)
    if caller.may(permission):
        assert at_home.status_code not in {401, 403}, (caller.label, operation, at_home.text)
        assert _problem_type(at_home) != "urn:advocacy:problem:unknown-organisation"
    else:
        assert at_home.status_code == 403, (caller.label, operation, at_home.text)
    if operation.scoped_by_key:
        return
    away = await caller.call(operation, elsewhere)
    assert away.status_code == 404, (caller.label, operation, away.text)
    assert _problem_type(away) == "urn:advocacy:problem:unknown-organisation"


def _problem_type(response: httpx.Response) -> str | None:
    if response.headers.get("content-type") != "application/problem+json":
        return None
    kind: str = response.json().get("type", "")
    return kind
