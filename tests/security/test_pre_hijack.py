"""Finding 2: an organisation that creates an account for someone else's address first must not
hold the password of the account another organisation later gives that address; and adding an
address must tell nothing about accounts elsewhere."""

from __future__ import annotations

from tests.actors import admin_key, browser, organisation, try_add_member
from tests.security.conftest import Live

TARGET = "new-cfo@victim.example"
ATTACKERS_PASSWORD = "chosen by the attacker!"
VICTIMS_PASSWORD = "chosen by the victim org"


async def test_the_first_organisation_to_add_an_address_holds_no_key_to_the_next_ones_account(
    live: Live,
) -> None:
    attacker_org = await organisation(live, "Attacker")
    attacker = await admin_key(live, attacker_org["id"])
    planted = await try_add_member(
        live, attacker_org["id"], attacker, TARGET, "analyst", password=ATTACKERS_PASSWORD
    )
    assert planted.status_code == 201, planted.text

    victim_org = await organisation(live, "Victim")
    victim = await admin_key(live, victim_org["id"])
    added = await try_add_member(
        live, victim_org["id"], victim, TARGET, "org_admin", password=VICTIMS_PASSWORD
    )
    assert added.status_code == 201, added.text

    for organisation_ref in (None, victim_org["slug"], victim_org["id"], attacker_org["slug"]):
        async with browser(live) as client:
            login = {"email": TARGET, "password": ATTACKERS_PASSWORD}
            if organisation_ref is not None:
                login["organisation"] = organisation_ref
            response = await client.post("/api/v1/auth/login", json=login)
            if response.status_code != 200:
                continue
            roles = (await client.get("/api/v1/auth/me")).json()["roles"]
            assert victim_org["id"] not in roles, organisation_ref

    async with browser(live) as client:
        response = await client.post(
            "/api/v1/auth/login",
            json={
                "organisation": victim_org["slug"],
                "email": TARGET,
                "password": VICTIMS_PASSWORD,
            },
        )
        assert response.status_code == 200, response.text
        me = (await client.get("/api/v1/auth/me")).json()
        assert me["roles"] == {victim_org["id"]: "org_admin"}


async def test_adding_an_address_tells_nothing_about_other_organisations(live: Live) -> None:
    elsewhere = await organisation(live, "Elsewhere")
    elsewhere_key = await admin_key(live, elsewhere["id"])
    existing = await try_add_member(
        live,
        elsewhere["id"],
        elsewhere_key,
        "known@elsewhere.example",
        "analyst",
        display_name="Known Person",
    )
    assert existing.status_code == 201, existing.text

    prober_org = await organisation(live, "Prober")
    prober = await admin_key(live, prober_org["id"])
    answers = {}
    for email in ("known@elsewhere.example", "unknown@elsewhere.example"):
        response = await try_add_member(
            live, prober_org["id"], prober, email, "analyst", display_name="Probe"
        )
        answers[email] = response
    known, unknown = answers.values()
    assert known.status_code == unknown.status_code == 201
    assert known.json()["display_name"] == unknown.json()["display_name"] == "Probe"
    assert known.json()["user_id"] != existing.json()["user_id"]
    assert set(known.json()) == set(unknown.json())
