"""Size limits at the API: a list or a string over its maximum is refused before anything is
written (422 on the REST API, SCIM's 400 `invalidValue` under /scim/v2), so no event can outgrow
a NATS message. Through the real gateway, services, NATS and database."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from tests.conftest import Platform
from tests.e2e.test_planner import PROGRAM
from tests.e2e.test_scim import auth, organisation_with_key, user_json
from tests.e2e.test_skeleton import create_organisation

ADVOCACY = "urn:ietf:params:scim:schemas:extension:advocacy:2.0:User"


async def test_oversized_lists_and_strings_get_a_422_at_the_rest_api(platform: Platform) -> None:
    org_id = (await create_organisation(platform, "Bounded A/S"))["id"]
    programs = f"/api/v1/orgs/{org_id}/programs"
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("post", programs, {**PROGRAM, "awareness_topics": [f"t{n}" for n in range(31)]}),
        ("post", programs, {**PROGRAM, "awareness_topics": ["x" * 101]}),
        ("post", programs, {**PROGRAM, "objectives": ["x" * 201]}),
        (
            "patch",
            f"/api/v1/orgs/{org_id}/playbook/rows/social_selling",
            {"angle_prompts": ["x" * 301]},
        ),
        (
            "put",
            f"/api/v1/orgs/{org_id}/ambassadors/{uuid4()}/profile",
            {"topics": ["x" * 101]},
        ),
        ("put", f"/api/v1/orgs/{org_id}/ambassadors/{uuid4()}/profile", {"languages": ["da"] * 11}),
    ]
    for method, path, body in cases:
        response = await platform.http.request(method, path, json=body, headers=platform.auth)
        assert response.status_code == 422, (path, body, response.text)


async def test_scim_refuses_an_oversized_topic_or_too_many_topics(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Roster A/S")
    created = await platform.http.post(
        "/scim/v2/Users", json=user_json("ann@x.dk"), headers=auth(key)
    )
    assert created.status_code == 201, created.text
    user = f"/scim/v2/Users/{created.json()['id']}"

    def patch(value: Any) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": f"{ADVOCACY}:topics", "value": value}],
        }

    for value in (["x" * 101], [f"topic {n}" for n in range(51)]):
        response = await platform.http.patch(user, json=patch(value), headers=auth(key))
        assert response.status_code == 400, response.text
        assert response.json()["scimType"] == "invalidValue"
    kept = await platform.http.get(user, headers=auth(key))
    assert kept.json().get(ADVOCACY, {}).get("topics", []) == []
