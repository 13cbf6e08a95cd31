"""Finding 1: an organisation's admin must not take over another organisation's account, or the
platform admin's, by adding its address and signing in through an identity provider they run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.actors import (
    admin_key,
    browser,
    configure_sso,
    organisation,
    sign_in_through_sso,
    try_add_member,
)
from tests.gateway.fake_idp import FakeIdp
from tests.security.conftest import Live

PLATFORM_ADMIN = "root@platform.example"
VICTIM = "cfo@victim.example"
PASSWORD = "a long and private passphrase"


@pytest.fixture
async def idp() -> AsyncIterator[FakeIdp]:
    provider = await FakeIdp().start()
    yield provider
    await provider.stop()


async def test_a_tenant_sso_never_signs_in_as_the_platform_admin_or_another_tenants_member(
    live: Live, idp: FakeIdp
) -> None:
    created = await live.http.post(
        "/api/v1/platform-admins",
        json={"email": PLATFORM_ADMIN, "display_name": "Root", "password": PASSWORD},
        headers=live.admin,
    )
    assert created.status_code == 201, created.text
    victim_org = await organisation(live, "Victim")
    victim_key = await admin_key(live, victim_org["id"])
    victim = await try_add_member(
        live, victim_org["id"], victim_key, VICTIM, "org_admin", password=PASSWORD
    )
    assert victim.status_code == 201, victim.text

    attacker_org = await organisation(live, "Attacker")
    attacker = await admin_key(live, attacker_org["id"])
    for email in (PLATFORM_ADMIN, VICTIM):
        added = await try_add_member(live, attacker_org["id"], attacker, email, "org_admin")
        assert added.status_code == 201, added.text
        assert added.json()["user_id"] not in {created.json()["id"], victim.json()["user_id"]}
    await configure_sso(live, attacker_org["id"], attacker, idp)

    for email in (PLATFORM_ADMIN, VICTIM):
        idp.email = email
        async with browser(live) as client:
            landed = await sign_in_through_sso(client, attacker_org["slug"])
            if landed.status_code != 302:
                continue  # refused outright: nothing was taken over
            me = (await client.get("/api/v1/auth/me")).json()
            assert me["is_platform_admin"] is False, email
            assert me["roles"] == {attacker_org["id"]: "org_admin"}, email
            other = await client.get(f"/api/v1/orgs/{victim_org['id']}/members")
            assert other.status_code == 404, email
            everything = await client.get("/api/v1/orgs")
            assert [o["id"] for o in everything.json()["items"]] == [attacker_org["id"]]
