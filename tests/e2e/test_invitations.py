"""The invitation an employee clicks through: issued by a program manager, opened and answered
with nothing but the token from the link, against the consent text exactly as it is kept."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient
from sqlalchemy import text

from advocacy_shared.contracts.ambassadors import AmbassadorOnboarded
from advocacy_shared.contracts.invitations import InvitationDeclined, InvitationIssued
from advocacy_shared.topology import Topology
from tests.conftest import Platform
from tests.e2e.test_ambassadors import events, invite, published_until
from tests.e2e.test_skeleton import create_organisation

NEW_TEXT = {
    "version": "2026-12",
    "text": "I allow Acme to post content I approve on my LinkedIn profile and to count its reach.",
}


async def issue(platform: Platform, org: str, ambassador_id: str) -> dict[str, Any]:
    response = await platform.http.post(
        f"/api/v1/orgs/{org}/invitations",
        json={"ambassador_id": ambassador_id},
        headers=platform.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def holder(invitation: dict[str, Any]) -> dict[str, str]:
    """The employee's only credential: the token from the link's fragment."""
    url: str = invitation["url"]
    return {"Invitation-Token": url.split("#", 1)[1]}


async def test_an_employee_accepts_the_current_consent_text_through_the_link(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk", external_id="HR-7")
    published = await platform.http.post(
        f"/api/v1/orgs/{org}/consent-texts", json=NEW_TEXT, headers=platform.auth
    )
    assert published.status_code == 201, published.text
    invitation = await issue(platform, org, ada["id"])
    assert invitation["status"] == "pending"
    assert invitation["url"].startswith("http")
    assert "/invitation#" in invitation["url"]

    opened = await platform.http.get("/api/v1/invitation", headers=holder(invitation))
    assert opened.status_code == 200, opened.text
    assert opened.json()["organisation_name"] == "Acme"
    assert opened.json()["display_name"] == "ada"
    assert opened.json()["consent"]["version"] == "2026-12"
    assert opened.json()["consent"]["text"] == NEW_TEXT["text"]

    accepted = await platform.http.post(
        "/api/v1/invitation/accept",
        json={"consent_version": "2026-12", "allows_posting": False, "allows_analytics": True},
        headers=holder(invitation),
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"

    ambassador = await platform.http.get(
        f"/api/v1/orgs/{org}/ambassadors/{ada['id']}", headers=platform.auth
    )
    assert ambassador.json()["state"] == "consented"
    assert ambassador.json()["consent"] == {
        "consent_version": "2026-12",
        "allows_posting": False,
        "allows_analytics": True,
        "granted_at": ambassador.json()["consent"]["granted_at"],
    }
    async with platform.runtimes["ambassadors"].sessions() as session:
        kept = (await session.execute(text("SELECT consent_text FROM consent_records"))).all()
    assert kept == [(NEW_TEXT["text"],)]  # the text exactly as shown, not one the caller sent
    history = await platform.http.get(
        f"/api/v1/orgs/{org}/ambassadors/{ada['id']}/consents", headers=platform.auth
    )
    assert [(c["action"], c["recorded_by"]) for c in history.json()["changes"]] == [
        ("granted", f"employee:invitation:{invitation['id']}")
    ]

    again = await platform.http.post(
        "/api/v1/invitation/accept",
        json={"consent_version": "2026-12", "allows_posting": True, "allows_analytics": True},
        headers=holder(invitation),
    )
    assert again.status_code == 409
    assert again.json()["detail"] == "this invitation is accepted"

    facts = await published_until(
        nats_client, topology, lambda p: AmbassadorOnboarded.spec.type in {e.type for e in p}
    )
    assert [e.type for e in facts] == [
        InvitationIssued.spec.type,
        AmbassadorOnboarded.spec.type,
    ]


async def test_an_answer_to_a_text_that_changed_meanwhile_is_refused(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    invitation = await issue(platform, org, ada["id"])
    shown = (await platform.http.get("/api/v1/invitation", headers=holder(invitation))).json()
    assert shown["consent"]["version"] == "1"  # every organisation starts with a default text
    await platform.http.post(
        f"/api/v1/orgs/{org}/consent-texts", json=NEW_TEXT, headers=platform.auth
    )

    stale = await platform.http.post(
        "/api/v1/invitation/accept",
        json={"consent_version": "1", "allows_posting": True, "allows_analytics": True},
        headers=holder(invitation),
    )
    assert stale.status_code == 409
    assert "changed since it was shown" in stale.json()["detail"]
    still = await platform.http.get(
        f"/api/v1/orgs/{org}/ambassadors/{ada['id']}", headers=platform.auth
    )
    assert still.json()["state"] == "invited"
    texts = await platform.http.get(f"/api/v1/orgs/{org}/consent-texts", headers=platform.auth)
    assert [(t["version"], t["current"]) for t in texts.json()["items"]] == [
        ("2026-12", True),
        ("1", False),
    ]
    duplicate = await platform.http.post(
        f"/api/v1/orgs/{org}/consent-texts", json=NEW_TEXT, headers=platform.auth
    )
    assert duplicate.status_code == 409


async def test_declined_revoked_replaced_and_forged_invitations(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    other_org = (await create_organisation(platform, "Other"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    first = await issue(platform, org, ada["id"])
    second = await issue(platform, org, ada["id"])  # a new link replaces the old one

    replaced = await platform.http.get("/api/v1/invitation", headers=holder(first))
    assert replaced.status_code == 404  # as an unknown token: see test_rough_edges
    declined = await platform.http.post("/api/v1/invitation/decline", headers=holder(second))
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined"

    listed = await platform.http.get(f"/api/v1/orgs/{org}/invitations", headers=platform.auth)
    assert sorted(i["status"] for i in listed.json()["items"]) == ["declined", "revoked"]
    only_declined = await platform.http.get(
        f"/api/v1/orgs/{org}/invitations?status=declined", headers=platform.auth
    )
    assert [i["id"] for i in only_declined.json()["items"]] == [second["id"]]
    assert "token" not in listed.json()["items"][0]

    token = holder(second)["Invitation-Token"]
    secret = token.split(".", 1)[1]
    for forged in (f"{other_org.replace('-', '')}.{secret}", "garbage", f"{secret}.{secret}"):
        response = await platform.http.get(
            "/api/v1/invitation", headers={"Invitation-Token": forged}
        )
        assert response.status_code == 404, forged
    missing = await platform.http.get("/api/v1/invitation")
    assert missing.status_code == 422

    third = await issue(platform, org, ada["id"])
    revoked = await platform.http.delete(
        f"/api/v1/orgs/{org}/invitations/{third['id']}", headers=platform.auth
    )
    assert revoked.json()["status"] == "revoked"
    elsewhere = await platform.http.delete(
        f"/api/v1/orgs/{other_org}/invitations/{third['id']}", headers=platform.auth
    )
    assert elsewhere.status_code == 404
    late = await platform.http.post(
        "/api/v1/invitation/accept",
        json={"consent_version": "1", "allows_posting": True, "allows_analytics": True},
        headers=holder(third),
    )
    assert late.status_code == 404

    published = await published_until(nats_client, topology, lambda p: len(p) >= 4)
    types = [e.type for e in published]
    assert sorted(types) == sorted(
        [InvitationIssued.spec.type] * 3 + [InvitationDeclined.spec.type]
    )
    assert token not in str([e.data for e in await events(nats_client, topology)])


async def test_only_an_invited_ambassador_gets_an_invitation(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    invitation = await issue(platform, org, ada["id"])
    await platform.http.post(
        "/api/v1/invitation/accept",
        json={"consent_version": "1", "allows_posting": True, "allows_analytics": True},
        headers=holder(invitation),
    )
    refused = await platform.http.post(
        f"/api/v1/orgs/{org}/invitations",
        json={"ambassador_id": ada["id"]},
        headers=platform.auth,
    )
    assert refused.status_code == 409
    assert "consented has answered already" in refused.json()["detail"]


async def test_the_page_the_link_opens_keeps_the_token_out_of_requests(platform: Platform) -> None:
    page = await platform.http.get("/invitation")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Invitation-Token" in page.text
    assert "location.hash" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
