"""An ambassador of one organisation is invisible to another, in every endpoint.

The operations are read from the OpenAPI document: every one that addresses an ambassador or an
invitation by id is called by an organisation admin of another organisation, through that
organisation's own path, with the first organisation's id and a body that would be valid. Each
must answer 404 and leave the record as it was. A new endpoint of that kind fails this test until
it is given a valid body below, so none escapes it.
"""

from __future__ import annotations

from typing import Any

from tests.actors import bearer, new_key
from tests.conftest import Platform
from tests.e2e.test_ambassadors import CONSENT, invite
from tests.e2e.test_skeleton import create_organisation

VALID_BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}"): None,
    ("DELETE", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}"): None,
    ("POST", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/consent"): CONSENT,
    ("DELETE", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/consent"): None,
    ("GET", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/consents"): None,
    ("POST", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/trainings"): {
        "enablement_format": "workshop"
    },
    ("PUT", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/profile"): {
        "segments": ["leadership"]
    },
    ("POST", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/activity"): {"state": "active"},
    ("POST", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/offboard"): {
        "reason": "left_program"
    },
    ("DELETE", "/api/v1/orgs/{org_id}/invitations/{invitation_id}"): None,
    ("POST", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/linkedin/authorize"): None,
    ("GET", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/linkedin"): None,
    ("DELETE", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/linkedin"): None,
    ("GET", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/suggestions"): None,
    ("GET", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/suggestions/preview"): None,
    ("POST", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/posts"): {"text": "Hello"},
    ("GET", "/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/posts"): None,
}
"""Every operation that takes an ambassador or invitation id, with a body it would accept."""

BY_ID = ("{ambassador_id}", "{invitation_id}")


async def test_no_endpoint_reaches_another_organisations_ambassador(platform: Platform) -> None:
    home = (await create_organisation(platform, "Acme"))["id"]
    other = (await create_organisation(platform, "Rival"))["id"]
    mine = await invite(platform, home, "ada@acme.dk")
    invitation = await platform.http.post(
        f"/api/v1/orgs/{home}/invitations",
        json={"ambassador_id": mine["id"]},
        headers=platform.auth,
    )
    assert invitation.status_code == 201
    await invite(platform, other, "eve@rival.dk")
    rival_admin = bearer(await new_key(platform.gateway, other, "admin"))
    ids = {"{ambassador_id}": mine["id"], "{invitation_id}": invitation.json()["id"]}

    document = (await platform.http.get("/openapi.json")).json()
    by_id = {
        (method.upper(), path)
        for path, methods in document["paths"].items()
        for method in methods
        if any(marker in path for marker in BY_ID)
    }
    assert by_id == set(VALID_BODIES), "give every operation by id a valid body here"

    for (method, path), body in sorted(VALID_BODIES.items()):
        url = path.replace("{org_id}", other)
        for marker, ident in ids.items():
            url = url.replace(marker, ident)
        response = await platform.http.request(method, url, json=body, headers=rival_admin)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert "ada@acme.dk" not in response.text

    listed = await platform.http.get(f"/api/v1/orgs/{other}/ambassadors", headers=rival_admin)
    assert [a["email"] for a in listed.json()["items"]] == ["eve@rival.dk"]
    invitations = await platform.http.get(f"/api/v1/orgs/{other}/invitations", headers=rival_admin)
    assert invitations.json()["items"] == []
    unchanged = await platform.http.get(
        f"/api/v1/orgs/{home}/ambassadors/{mine['id']}", headers=platform.auth
    )
    assert unchanged.status_code == 200
    assert unchanged.json() == mine
    pending = await platform.http.get(
        f"/api/v1/orgs/{home}/invitations?status=pending", headers=platform.auth
    )
    assert [i["id"] for i in pending.json()["items"]] == [invitation.json()["id"]]
