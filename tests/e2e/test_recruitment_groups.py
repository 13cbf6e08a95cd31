"""Targeted recruitment at HR groups ("everyone in Sales"), over the real stack: the identity
provider's SCIM Groups reach the planner as group facts, and the targeted-recruitment phase's
target follows them as people join and leave; another organisation's group is refused."""

from __future__ import annotations

from typing import Any

from tests.conftest import Platform
from tests.e2e.test_planner import PROGRAM
from tests.e2e.test_scim import auth, organisation_with_key
from tests.e2e.test_scim_groups import group, patch, user
from tests.e2e.test_skeleton import playbook_when_ready
from tests.shared.helpers import eventually


async def program_of(platform: Platform, org_id: str) -> str:
    assert (await playbook_when_ready(platform, org_id)).status_code == 200
    created = await platform.http.post(
        f"/api/v1/orgs/{org_id}/programs", json=PROGRAM, headers=platform.auth
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def target_groups_once_known(
    platform: Platform, base: str, groups: list[str]
) -> dict[str, Any]:
    """Set the phase's groups as soon as the planner has the group facts (they travel as events)."""
    answer: dict[str, Any] = {}

    async def accepted() -> bool:
        response = await platform.http.put(
            f"{base}/phases/targeted_recruitment/groups",
            json={"groups": groups},
            headers=platform.auth,
        )
        assert response.status_code in (200, 422), response.text
        answer.update(response.json())
        return response.status_code == 200

    await eventually(accepted)
    return answer


async def targeted(platform: Platform, base: str) -> dict[str, Any]:
    response = await platform.http.get(
        f"{base}/phases/targeted_recruitment/target", headers=platform.auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def target_becomes(platform: Platform, base: str, expected: set[str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await targeted(platform, base))
        return {e["employee_id"] for e in seen["items"]} == expected

    await eventually(reached)
    return seen


async def test_the_target_follows_the_hr_groups_as_people_join_and_leave(
    platform: Platform,
) -> None:
    # Another organisation's group is published first: when Acme's groups have reached the
    # planner (one consumer, in publication order), so has this one.
    _, other_key = await organisation_with_key(platform, "Other")
    spies = (await group(platform, other_key, "Spies")).json()

    org_id, key = await organisation_with_key(platform, "Acme")
    base = f"/api/v1/orgs/{org_id}/programs/{await program_of(platform, org_id)}"
    ada = await user(platform, key, "ada@acme.dk")
    bob = await user(platform, key, "bob@acme.dk")
    cy = await user(platform, key, "cy@acme.dk")
    sales = (await group(platform, key, "Sales", ada)).json()
    marketing = (
        await group(platform, key, "Marketing")
    ).json()  # empty: known by name all the same

    # By name (without regard to case) and by id; each named once.
    chosen = await target_groups_once_known(platform, base, ["sales", marketing["id"], "SALES"])
    assert [(g["display_name"], g["members"]) for g in chosen["groups"]] == [
        ("Sales", 1),
        ("Marketing", 0),
    ]
    phases = (await platform.http.get(f"{base}/phases", headers=platform.auth)).json()["items"]
    targeted_phase = next(p for p in phases if p["kind"] == "targeted_recruitment")
    assert targeted_phase["target_group_ids"] == [sales["id"], marketing["id"]]
    await target_becomes(platform, base, {ada})

    # HR adds bob to Sales and cy to Marketing: both become part of the target.
    sales_url, marketing_url = (f"/scim/v2/Groups/{g['id']}" for g in (sales, marketing))
    added = await platform.http.patch(
        sales_url,
        json=patch({"op": "Add", "path": "members", "value": [{"value": bob}]}),
        headers=auth(key),
    )
    assert added.status_code == 200, added.text
    added = await platform.http.patch(
        marketing_url,
        json=patch({"op": "add", "path": "members", "value": [{"value": cy}]}),
        headers=auth(key),
    )
    assert added.status_code == 200, added.text
    now = await target_becomes(platform, base, {ada, bob, cy})
    assert now["total"] == 3
    groups_of = {e["employee_id"]: e["group_ids"] for e in now["items"]}
    assert groups_of == {ada: [sales["id"]], bob: [sales["id"]], cy: [marketing["id"]]}
    assert {e["status"] for e in now["items"]} == {"not_asked"}

    # Recruitment proposes the group's members, saying why.
    proposals = (await platform.http.get(f"{base}/recruitment", headers=platform.auth)).json()[
        "items"
    ]
    reasons = {p["employee_id"]: " ".join(p["reasons"]) for p in proposals}
    assert set(reasons) == {ada, bob, cy}
    assert "in the HR group Sales" in reasons[bob]

    # Entra ID removes ada by a value filter: she is out of the target, bob stays.
    removed = await platform.http.patch(
        sales_url,
        json=patch({"op": "Remove", "path": f'members[value eq "{ada}"]'}),
        headers=auth(key),
    )
    assert removed.status_code == 200, removed.text
    await target_becomes(platform, base, {bob, cy})

    # The group is deleted in HR: its members leave the target; the phase still names it.
    assert (await platform.http.delete(marketing_url, headers=auth(key))).status_code == 204
    await target_becomes(platform, base, {bob})

    async def marketing_deleted() -> bool:
        groups = (await targeted(platform, base))["groups"]
        return [(g["display_name"], g["deleted"]) for g in groups] == [
            ("Sales", False),
            ("Marketing", True),
        ]

    await eventually(marketing_deleted)

    # Another organisation's group, by id or by name, is refused and changes nothing.
    for foreign in (spies["id"], "Spies"):
        refused = await platform.http.put(
            f"{base}/phases/targeted_recruitment/groups",
            json={"groups": ["Sales", foreign]},
            headers=platform.auth,
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["context"]["unknown_groups"] == [foreign]
    phases = (await platform.http.get(f"{base}/phases", headers=platform.auth)).json()["items"]
    targeted_phase = next(p for p in phases if p["kind"] == "targeted_recruitment")
    assert targeted_phase["target_group_ids"] == [sales["id"], marketing["id"]]
