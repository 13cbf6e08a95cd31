"""Identity and access: sessions with CSRF, roles, scoped API keys, rotation, revocation, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from advocacy_gateway import auth
from advocacy_shared.envelope import utc_now
from tests.actors import (
    PASSWORD,
    add_member,
    bearer,
    new_key,
    new_organisation,
    sign_in,
)
from tests.conftest import Gateway
from tests.shared.helpers import dump_database

OVERLAP_SECONDS = 3600  # the tests move the gateway's clock past it rather than wait


def move_the_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The gateway's authentication reads the time `seconds` later from now on."""
    monkeypatch.setattr(auth, "utc_now", lambda: utc_now() + timedelta(seconds=seconds))


async def test_a_member_signs_in_and_unsafe_requests_need_the_csrf_token(
    gateway: Gateway,
) -> None:
    org = await new_organisation(gateway)
    await add_member(gateway, org, "ada@example.com", "org_admin")
    browser = await sign_in(gateway, "ada@example.com", organisation=org)

    me = (await browser.http.get("/api/v1/auth/me")).json()
    assert me["kind"] == "user"
    assert me["roles"] == {org: "org_admin"}
    new_member = {"email": "bob@example.com", "display_name": "Bob", "role": "analyst"}
    without = await browser.http.post(f"/api/v1/orgs/{org}/members", json=new_member)
    assert without.status_code == 403
    assert without.json()["type"] == "urn:advocacy:problem:csrf"
    with_token = await browser.http.post(
        f"/api/v1/orgs/{org}/members", json=new_member, headers=browser.unsafe()
    )
    assert with_token.status_code == 201

    assert (
        await browser.http.post("/api/v1/auth/logout", headers=browser.unsafe())
    ).status_code == 204
    after = await browser.http.get(f"/api/v1/orgs/{org}")
    assert after.status_code == 401


async def test_the_session_cookie_is_http_only_and_strict(gateway: Gateway) -> None:
    org = await new_organisation(gateway)
    await add_member(gateway, org, "ada@example.com", "analyst")
    response = await gateway.http.post(
        "/api/v1/auth/login",
        json={"organisation": org, "email": "ada@example.com", "password": PASSWORD},
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)],
)
async def test_a_wrong_password_and_an_unknown_email_fail_alike(
    gateway: Gateway, email: str, password: str
) -> None:
    org = await new_organisation(gateway)
    await add_member(gateway, org, "ada@example.com", "analyst")
    response = await gateway.http.post(
        "/api/v1/auth/login", json={"organisation": org, "email": email, "password": password}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong email or password"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        ("analyst", "", True),
        ("analyst", "/members", False),
        ("ambassador", "", True),
        ("ambassador", "/audit-log", False),
        ("program_manager", "/members", True),
        ("program_manager", "/api-keys", False),
        ("leadership_viewer", "/members", False),
        ("org_admin", "/audit-log", True),
        ("org_admin", "/api-keys", True),
    ],
)
async def test_a_role_may_do_what_its_grants_say_and_nothing_more(
    gateway: Gateway, role: str, path: str, allowed: bool
) -> None:
    org = await new_organisation(gateway)
    await add_member(gateway, org, "someone@example.com", role)
    browser = await sign_in(gateway, "someone@example.com", organisation=org)
    response = await browser.http.get(f"/api/v1/orgs/{org}{path}")
    assert response.status_code == (200 if allowed else 403), response.text


async def test_a_member_of_one_organisation_sees_another_as_unknown(gateway: Gateway) -> None:
    mine, theirs = (
        await new_organisation(gateway, "Mine"),
        await new_organisation(gateway, "Theirs"),
    )
    await add_member(gateway, mine, "ada@example.com", "org_admin")
    browser = await sign_in(gateway, "ada@example.com", organisation=mine)
    for path in ["", "/members", "/api-keys", "/audit-log"]:
        response = await browser.http.get(f"/api/v1/orgs/{theirs}{path}")
        assert response.status_code == 404, path
        assert response.json()["type"] == "urn:advocacy:problem:unknown-organisation"
    listed = (await browser.http.get("/api/v1/orgs")).json()["items"]
    assert [o["id"] for o in listed] == [mine]


async def test_only_platform_admins_create_organisations(gateway: Gateway) -> None:
    org = await new_organisation(gateway)
    await add_member(gateway, org, "ada@example.com", "org_admin")
    browser = await sign_in(gateway, "ada@example.com", organisation=org)
    response = await browser.http.post(
        "/api/v1/orgs", json={"name": "Mine now"}, headers=browser.unsafe()
    )
    assert response.status_code == 403
    key = await new_key(gateway, org, "admin")
    assert (
        await gateway.http.post("/api/v1/orgs", json={"name": "Nope"}, headers=bearer(key))
    ).status_code == 403


async def test_an_api_key_is_shown_once_and_works_within_its_scopes_and_organisation(
    gateway: Gateway,
) -> None:
    org, other = await new_organisation(gateway, "Org"), await new_organisation(gateway, "Other")
    hr = await new_key(gateway, org, "hr")
    assert hr["key"].startswith("adv_")
    assert hr["scopes"] == ["hr"]

    listed = (await gateway.http.get(f"/api/v1/orgs/{org}/api-keys", headers=gateway.auth)).json()
    assert all("key" not in item for item in listed["items"])
    assert (await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(hr))).status_code == 200
    assert (  # staff accounts and their emails are not the HR system's to read
        await gateway.http.get(f"/api/v1/orgs/{org}/members", headers=bearer(hr))
    ).status_code == 403
    assert (
        await gateway.http.get(f"/api/v1/orgs/{org}/api-keys", headers=bearer(hr))
    ).status_code == 403
    assert (await gateway.http.get(f"/api/v1/orgs/{other}", headers=bearer(hr))).status_code == 404
    me = (await gateway.http.get("/api/v1/auth/me", headers=bearer(hr))).json()
    assert me == {
        "kind": "api_key",
        "id": hr["id"],
        "name": "hr key",
        "is_platform_admin": False,
        "roles": {},
        "organisation_id": org,
        "scopes": ["hr"],
        "ambassador_id": None,  # a key is never an ambassador
        "csrf_token": None,  # only a session has one
    }


async def test_a_bi_key_reads_but_never_writes(gateway: Gateway) -> None:
    org = await new_organisation(gateway)
    bi = await new_key(gateway, org, "bi")
    assert (await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(bi))).status_code == 200
    response = await gateway.http.post(
        f"/api/v1/orgs/{org}/members",
        json={"email": "x@example.com", "display_name": "X", "role": "analyst"},
        headers=bearer(bi),
    )
    assert response.status_code == 403


async def test_a_revoked_key_stops_working_at_once(gateway: Gateway) -> None:
    org = await new_organisation(gateway)
    key = await new_key(gateway, org, "bi")
    revoked = await gateway.http.delete(
        f"/api/v1/orgs/{org}/api-keys/{key['id']}", headers=gateway.auth
    )
    assert revoked.status_code == 204
    response = await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(key))
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is not valid (unknown, revoked or expired)"


async def test_a_rotated_key_keeps_working_for_the_overlap_only(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await new_organisation(gateway)
    old = await new_key(gateway, org, "bi")
    rotated = await gateway.http.post(
        f"/api/v1/orgs/{org}/api-keys/{old['id']}/rotate",
        json={"overlap_seconds": OVERLAP_SECONDS},
        headers=gateway.auth,
    )
    assert rotated.status_code == 201
    new = rotated.json()
    assert new["rotated_from"] == old["id"]
    assert new["scopes"] == ["bi"]
    assert new["key"] != old["key"]
    for key in (old, new):
        assert (
            await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(key))
        ).status_code == 200
    move_the_clock(monkeypatch, OVERLAP_SECONDS + 1)
    assert (await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(old))).status_code == 401
    assert (await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(new))).status_code == 200


async def test_an_expired_key_is_refused_and_a_past_expiry_is_invalid(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await new_organisation(gateway)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await gateway.http.post(
        f"/api/v1/orgs/{org}/api-keys",
        json={"name": "stale", "scopes": ["bi"], "expires_at": past},
        headers=gateway.auth,
    )
    assert response.status_code == 422
    soon = datetime.now(UTC) + timedelta(seconds=OVERLAP_SECONDS)
    key = await new_key(gateway, org, "bi", expires_at=soon.isoformat())
    assert (await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(key))).status_code == 200
    move_the_clock(monkeypatch, OVERLAP_SECONDS + 1)
    assert (await gateway.http.get(f"/api/v1/orgs/{org}", headers=bearer(key))).status_code == 401


async def test_secrets_are_unreadable_in_a_database_dump(gateway: Gateway) -> None:
    org = await new_organisation(gateway)
    key = await new_key(gateway, org, "admin")
    await add_member(gateway, org, "ada@example.com", "org_admin")
    browser = await sign_in(gateway, "ada@example.com", organisation=org)
    cookie = browser.http.cookies["advocacy_session"]
    everything = await dump_database(gateway.app.state.gateway.sessions)
    prefix, key_id, secret = key["key"].split("_", 2)  # the secret's alphabet has "_" too
    assert (prefix, len(key_id), len(secret)) == ("adv", 12, 43)
    assert secret not in everything
    assert PASSWORD not in everything
    assert cookie not in everything


async def test_the_last_org_admin_cannot_be_removed_or_demoted(gateway: Gateway) -> None:
    org = await new_organisation(gateway)
    admin = await add_member(gateway, org, "ada@example.com", "org_admin")
    url = f"/api/v1/orgs/{org}/members/{admin['user_id']}"
    demoted = await gateway.http.patch(url, json={"role": "analyst"}, headers=gateway.auth)
    assert demoted.status_code == 409
    assert (await gateway.http.delete(url, headers=gateway.auth)).status_code == 409
    await add_member(gateway, org, "bob@example.com", "org_admin")
    assert (await gateway.http.patch(url, json={"role": "analyst"}, headers=gateway.auth)).json()[
        "role"
    ] == "analyst"


async def test_administrative_actions_are_in_the_audit_log_for_org_admins(
    gateway: Gateway,
) -> None:
    org = await new_organisation(gateway)
    member = await add_member(gateway, org, "ada@example.com", "org_admin")
    key = await new_key(gateway, org, "hr")
    await gateway.http.post(
        f"/api/v1/orgs/{org}/api-keys/{key['id']}/rotate", json={}, headers=gateway.auth
    )
    await gateway.http.delete(f"/api/v1/orgs/{org}/api-keys/{key['id']}", headers=gateway.auth)

    browser = await sign_in(gateway, "ada@example.com", organisation=org)
    entries = (await browser.http.get(f"/api/v1/orgs/{org}/audit-log")).json()["items"]
    assert [e["action"] for e in entries] == [
        "organisation.created",
        "member.added",
        "api_key.created",
        "api_key.created",
        "api_key.rotated",
        "api_key.revoked",
    ]
    assert entries[1]["target"] == f"user:{member['user_id']}"
    assert entries[1]["detail"] == {"role": "org_admin"}
    assert all(e["actor"] == "bootstrap:admin (bootstrap admin)" for e in entries)
    assert key["key"] not in str(entries)


async def test_changing_the_password_ends_every_other_session(gateway: Gateway) -> None:
    org = await new_organisation(gateway)
    await add_member(gateway, org, "ada@example.com", "analyst")
    here = await sign_in(gateway, "ada@example.com", organisation=org)
    elsewhere = await sign_in(gateway, "ada@example.com", organisation=org)
    new = "a much longer new passphrase"

    wrong = await here.http.post(
        "/api/v1/auth/password",
        json={"current_password": "not it at all", "new_password": new},
        headers=here.unsafe(),
    )
    assert wrong.status_code == 403
    changed = await here.http.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": new},
        headers=here.unsafe(),
    )
    assert changed.status_code == 204
    assert (await here.http.get("/api/v1/auth/me")).status_code == 200
    assert (await elsewhere.http.get("/api/v1/auth/me")).status_code == 401
    old = await gateway.http.post(
        "/api/v1/auth/login",
        json={"organisation": org, "email": "ada@example.com", "password": PASSWORD},
    )
    assert old.status_code == 401
    await sign_in(gateway, "ada@example.com", new, organisation=org)
