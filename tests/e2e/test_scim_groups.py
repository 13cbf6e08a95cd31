"""SCIM 2.0 Groups as Entra ID and Okta send them, membership as roster facts, tenant isolation,
and the User features issue 12 found missing: attributes and excludedAttributes, POST /.search,
PATCH remove of single-valued and extension attributes, wrong types, If-Match on DELETE."""

from __future__ import annotations

from typing import Any

import httpx
from nats.aio.client import Client as NatsClient

from advocacy_shared.contracts.roster import EmployeeJoinedGroup, EmployeeLeftGroup
from advocacy_shared.topology import Topology
from tests.conftest import Platform
from tests.e2e.test_ambassadors import published_until
from tests.e2e.test_scim import ADVOCACY, ENTERPRISE, auth, organisation_with_key, user_json

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


async def user(platform: Platform, key: str, user_name: str, **extra: Any) -> str:
    created = await platform.http.post(
        "/scim/v2/Users", json=user_json(user_name, **extra), headers=auth(key)
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def group(platform: Platform, key: str, name: str, *members: str) -> httpx.Response:
    body: dict[str, Any] = {"schemas": [GROUP], "displayName": name}
    if members:
        body["members"] = [{"value": m} for m in members]
    return await platform.http.post("/scim/v2/Groups", json=body, headers=auth(key))


def member_ids(resource: dict[str, Any]) -> list[str]:
    return [m["value"] for m in resource.get("members", [])]


async def test_groups_as_entra_id_and_okta_send_them(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org_id, key = await organisation_with_key(platform, "Acme")
    ada = await user(platform, key, "ada@acme.dk")
    bob = await user(platform, key, "bob@acme.dk")
    cy = await user(platform, key, "cy@acme.dk")

    created = await group(platform, key, "Sales", ada)
    assert created.status_code == 201, created.text
    sales = created.json()
    assert created.headers["Location"] == sales["meta"]["location"]
    assert sales["meta"]["resourceType"] == "Group"
    assert member_ids(sales) == [ada]
    assert sales["members"][0]["$ref"].endswith(f"/scim/v2/Users/{ada}")
    one = f"/scim/v2/Groups/{sales['id']}"

    # Entra ID: add members; remove one by a value filter path; rename with a path.
    entra = patch(
        {"op": "Add", "path": "members", "value": [{"value": bob}, {"value": cy}]},
        {"op": "Remove", "path": f'members[value eq "{ada}"]'},
        {"op": "Replace", "path": "displayName", "value": "Sales Nordics"},
    )
    changed = await platform.http.patch(one, json=entra, headers=auth(key))
    assert changed.status_code == 200, changed.text
    assert changed.json()["displayName"] == "Sales Nordics"
    assert sorted(member_ids(changed.json())) == sorted([bob, cy])

    # Okta: remove with the members as value; replace with an object that repeats the id.
    okta = patch(
        {"op": "remove", "path": "members", "value": [{"value": cy}]},
        {"op": "replace", "value": {"id": sales["id"], "displayName": "Sales"}},
    )
    changed = await platform.http.patch(one, json=okta, headers=auth(key))
    assert changed.status_code == 200, changed.text
    assert (changed.json()["displayName"], member_ids(changed.json())) == ("Sales", [bob])

    # PUT replaces name and members; filters find groups by name and by member.
    replaced = await platform.http.put(
        one,
        json={"schemas": [GROUP], "displayName": "Sales", "members": [{"value": ada}]},
        headers=auth(key),
    )
    assert member_ids(replaced.json()) == [ada]
    await group(platform, key, "Leadership", ada, cy)
    by_name = await platform.http.get(
        "/scim/v2/Groups", params={"filter": 'displayName eq "sales"'}, headers=auth(key)
    )
    assert [g["displayName"] for g in by_name.json()["Resources"]] == ["Sales"]
    by_member = await platform.http.get(
        "/scim/v2/Groups",
        params={"filter": f'members.value eq "{cy}"', "excludedAttributes": "members"},
        headers=auth(key),
    )
    assert [g["displayName"] for g in by_member.json()["Resources"]] == ["Leadership"]
    assert "members" not in by_member.json()["Resources"][0]

    # A group is a segment: the Users in it, by the group's id or its name.
    async def users_where(filter_: str) -> list[str]:
        found = await platform.http.get(
            "/scim/v2/Users", params={"filter": filter_}, headers=auth(key)
        )
        assert found.status_code == 200, found.text
        return sorted(u["id"] for u in found.json()["Resources"])

    assert await users_where(f'groups.value eq "{sales["id"]}"') == [ada]
    assert await users_where('groups.display eq "leadership"') == sorted([ada, cy])
    assert await users_where('groups.display ne "Leadership"') == [bob]
    assert await users_where("not (groups pr)") == [bob]

    taken = await group(platform, key, "SALES")
    assert taken.status_code == 409
    assert taken.json()["scimType"] == "uniqueness"

    stale = await platform.http.delete(one, headers={**auth(key), "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    deleted = await platform.http.delete(
        one, headers={**auth(key), "If-Match": replaced.json()["meta"]["version"]}
    )
    assert deleted.status_code == 204
    assert (await platform.http.get(one, headers=auth(key))).status_code == 404

    # Membership is a roster fact: who joined and left which group, nothing personal.
    membership = {EmployeeJoinedGroup.spec.type, EmployeeLeftGroup.spec.type}
    # Sales: ada joins; bob and cy join, ada leaves; cy leaves; ada joins, bob leaves; deleted:
    # ada leaves. Leadership: ada and cy join. Ten facts.
    published = await published_until(
        nats_client, topology, lambda p: len([e for e in p if e.type in membership]) >= 10
    )
    facts = [e for e in published if e.type in membership]
    assert all(e.orgid == org_id for e in facts)

    def sales_facts_of(employee: str) -> list[str]:
        return [
            e.type.split(".")[-2]
            for e in facts
            if e.data["group_id"] == sales["id"] and e.data["employee_id"] == employee
        ]

    assert sales_facts_of(ada) == ["joined_group", "left_group", "joined_group", "left_group"]
    assert sales_facts_of(bob) == ["joined_group", "left_group"]
    assert sales_facts_of(cy) == ["joined_group", "left_group"]
    assert len(facts) == 10
    assert "ada@acme.dk" not in str([e.data for e in facts])


async def test_a_group_holds_only_the_organisations_users(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    _, other_key = await organisation_with_key(platform, "Other")
    theirs = await user(platform, other_key, "eve@other.dk")
    sales = (await group(platform, key, "Sales")).json()

    foreign = await group(platform, key, "Spies", theirs)
    assert foreign.status_code == 400
    assert foreign.json()["scimType"] == "invalidValue"
    added = await platform.http.patch(
        f"/scim/v2/Groups/{sales['id']}",
        json=patch({"op": "add", "path": "members", "value": [{"value": theirs}]}),
        headers=auth(key),
    )
    assert added.status_code == 400
    nested = await platform.http.patch(
        f"/scim/v2/Groups/{sales['id']}",
        json=patch(
            {"op": "add", "path": "members", "value": [{"value": sales["id"], "type": "Group"}]}
        ),
        headers=auth(key),
    )
    assert nested.status_code == 400
    elsewhere = await platform.http.get(f"/scim/v2/Groups/{sales['id']}", headers=auth(other_key))
    assert elsewhere.status_code == 404
    listed = await platform.http.get("/scim/v2/Groups", headers=auth(other_key))
    assert listed.json()["totalResults"] == 0


async def test_attributes_and_excluded_attributes_on_get_list_and_search(
    platform: Platform,
) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    ada = await user(
        platform,
        key,
        "ada@acme.dk",
        title="Engineer",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        **{ENTERPRISE: {"department": "R&D", "employeeNumber": "7"}},
    )
    one = await platform.http.get(
        f"/scim/v2/Users/{ada}",
        params={"attributes": f"userName,name.givenName,{ENTERPRISE}:department"},
        headers=auth(key),
    )
    assert one.json() == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": ada,
        "userName": "ada@acme.dk",
        "name": {"givenName": "Ada"},
        ENTERPRISE: {"department": "R&D"},
    }
    without = await platform.http.get(
        "/scim/v2/Users",
        params={"excludedAttributes": f"name,title,{ENTERPRISE}"},
        headers=auth(key),
    )
    (listed,) = without.json()["Resources"]
    assert {"name", "title", ENTERPRISE} & set(listed) == set()
    assert listed["userName"] == "ada@acme.dk"

    for path in ("/scim/v2/Users/.search", "/scim/v2/.search"):
        found = await platform.http.post(
            path,
            json={
                "schemas": [SEARCH],
                "filter": 'userName eq "ADA@acme.dk"',
                "attributes": ["title"],
            },
            headers=auth(key),
        )
        assert found.status_code == 200, found.text
        assert found.json()["totalResults"] == 1
        assert found.json()["Resources"] == [
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": ada,
                "title": "Engineer",
            }
        ]


async def test_patch_remove_unassigns_and_wrong_types_are_invalid_values(
    platform: Platform,
) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    ada = await user(
        platform,
        key,
        "ada@acme.dk",
        active=True,
        **{
            ENTERPRISE: {"department": "R&D"},
            ADVOCACY: {"hardToRecruit": True, "leadership": False, "languages": ["da"]},
        },
    )
    one = f"/scim/v2/Users/{ada}"
    removed = await platform.http.patch(
        one,
        json=patch(
            {"op": "remove", "path": "active"},
            {"op": "remove", "path": ENTERPRISE},
            {"op": "remove", "path": f"{ADVOCACY}:hardToRecruit"},
            {"op": "remove", "path": f"{ADVOCACY}:leadership"},
        ),
        headers=auth(key),
    )
    assert removed.status_code == 200, removed.text
    body = removed.json()
    assert "active" not in body
    assert ENTERPRISE not in body
    assert body[ADVOCACY] == {"languages": ["da"]}
    added = await platform.http.patch(
        one,
        json=patch({"op": "add", "path": f"{ADVOCACY}:languages", "value": ["en"]}),
        headers=auth(key),
    )
    assert added.json()[ADVOCACY]["languages"] == ["da", "en"]  # RFC 7644 §3.5.2.1: appended
    cleared = await platform.http.patch(
        one, json=patch({"op": "remove", "path": ADVOCACY}), headers=auth(key)
    )
    assert ADVOCACY not in cleared.json()
    assert cleared.json()["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]

    for wrong in (
        {"emails": "notalist"},
        {"active": "yes"},
        {"title": 5},
        {ADVOCACY: {"languages": "da,en"}},
        {ADVOCACY: {"topics": [1, 2]}},
    ):
        response = await platform.http.put(
            one, json=user_json("ada@acme.dk", **wrong), headers=auth(key)
        )
        assert response.status_code == 400, (wrong, response.text)
        assert response.json()["scimType"] == "invalidValue"
    kept = await platform.http.get(one, headers=auth(key))
    assert "emails" not in kept.json()

    stale = await platform.http.delete(one, headers={**auth(key), "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    current = kept.json()["meta"]["version"]
    assert (
        await platform.http.delete(one, headers={**auth(key), "If-Match": current})
    ).status_code == 204


async def test_lists_sort_by_an_attribute_either_way(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    for name, title in [("bob@acme.dk", "b"), ("ada@acme.dk", None), ("Cy@acme.dk", "a")]:
        await user(platform, key, name, **({"title": title} if title else {}))
    for name in ("Sales", "advocacy pilot", "Legal"):
        assert (await group(platform, key, name)).status_code == 201

    async def names(path: str, **params: str) -> list[str]:
        listed = await platform.http.get(path, params=params, headers=auth(key))
        assert listed.status_code == 200, listed.text
        return [r.get("userName") or r["displayName"] for r in listed.json()["Resources"]]

    users = "/scim/v2/Users"
    assert await names(users, sortBy="userName") == ["ada@acme.dk", "bob@acme.dk", "Cy@acme.dk"]
    assert await names(users, sortBy="userName", sortOrder="descending") == [
        "Cy@acme.dk",
        "bob@acme.dk",
        "ada@acme.dk",
    ]
    # Unassigned values last when ascending (RFC 7644 §3.4.2.3).
    assert await names(users, sortBy="title") == ["Cy@acme.dk", "bob@acme.dk", "ada@acme.dk"]
    groups = "/scim/v2/Groups"
    assert await names(groups, sortBy="displayName") == ["advocacy pilot", "Legal", "Sales"]
    searched = await platform.http.post(
        "/scim/v2/Groups/.search",
        json={"schemas": [SEARCH], "sortBy": "displayName", "sortOrder": "descending"},
        headers=auth(key),
    )
    assert [g["displayName"] for g in searched.json()["Resources"]] == [
        "Sales",
        "Legal",
        "advocacy pilot",
    ]
    unknown = await platform.http.get(users, params={"sortBy": "shoeSize"}, headers=auth(key))
    assert unknown.status_code == 400
    assert unknown.json()["scimType"] == "invalidValue"


async def test_bracketed_filters_match_one_element_of_a_multi_valued_attribute(
    platform: Platform,
) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    work = [{"value": "ada@example.com", "type": "work"}]
    ada = await user(platform, key, "ada", displayName="Ada Lovelace", emails=work)
    bob = await user(platform, key, "bob", emails=[{"value": "bob@acme.dk", "type": "work"}])
    cy = await user(platform, key, "cy")
    sales = (await group(platform, key, "Sales", ada, bob)).json()
    leaders = (await group(platform, key, "Leadership", ada)).json()

    async def found(resource: str, filter_: str, *, search: bool = False) -> list[str]:
        if search:
            body = {"schemas": [SEARCH], "filter": filter_}
            response = await platform.http.post(
                f"/scim/v2/{resource}/.search", json=body, headers=auth(key)
            )
        else:
            response = await platform.http.get(
                f"/scim/v2/{resource}", params={"filter": filter_}, headers=auth(key)
            )
        assert response.status_code == 200, response.text
        return sorted(r["id"] for r in response.json()["Resources"])

    # emails: one work email per User.
    assert await found("Users", 'emails[type eq "work"].value eq "ADA@example.com"') == [ada]
    both = 'emails[type eq "work" and value co "@example.com"]'
    assert await found("Users", both) == [ada]
    assert await found("Users", both, search=True) == [ada]
    assert await found("Users", 'emails[type eq "home"]') == []
    assert await found("Users", 'not (emails[type eq "work"])') == [cy]
    assert await found("Users", 'emails.type eq "work"') == sorted([ada, bob])

    # groups: the whole bracket holds for one group; without brackets, each part may hold for
    # another group.
    same_group = f'groups[display eq "Sales" and value eq "{leaders["id"]}"]'
    assert await found("Users", same_group) == []
    any_groups = f'groups.display eq "Sales" and groups.value eq "{leaders["id"]}"'
    assert await found("Users", any_groups) == [ada]
    assert await found("Users", 'groups[not (display eq "Sales")]') == [ada]
    assert await found("Users", 'groups[type eq "direct"]') == sorted([ada, bob])

    # A Group's members: by the member's id, name, type.
    assert await found("Groups", f'members[value eq "{bob}"]') == [sales["id"]]
    in_both = f'members[value eq "{ada}" and type eq "User"]'
    assert await found("Groups", in_both) == sorted([sales["id"], leaders["id"]])
    assert await found("Groups", f'members[value eq "{bob}"]', search=True) == [sales["id"]]
    assert await found("Groups", 'members[display co "lovelace"] and displayName eq "Sales"') == [
        sales["id"]
    ]
    assert await found("Groups", 'members[type eq "Group"]') == []

    refused = await platform.http.get(
        "/scim/v2/Users",
        params={"filter": 'groups[value eq "x" and emails[type eq "work"]]'},
        headers=auth(key),
    )
    assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidFilter")


async def test_a_user_shows_the_groups_it_is_in(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    ada = await user(platform, key, "ada@acme.dk")
    cy = await user(platform, key, "cy@acme.dk")
    sales = (await group(platform, key, "Sales", ada)).json()
    leaders = (await group(platform, key, "Leadership", ada)).json()

    async def read(user_id: str, **params: str) -> dict[str, Any]:
        response = await platform.http.get(
            f"/scim/v2/Users/{user_id}", params=params, headers=auth(key)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    shown = (await read(ada))["groups"]
    assert [(g["value"], g["display"], g["type"]) for g in shown] == [
        (leaders["id"], "Leadership", "direct"),
        (sales["id"], "Sales", "direct"),
    ]
    assert shown[1]["$ref"].endswith(f"/scim/v2/Groups/{sales['id']}")
    assert "groups" not in await read(cy)
    assert (await read(ada, attributes="groups.display")) == {
        "schemas": [USER_SCHEMA],
        "id": ada,
        "groups": [{"display": "Leadership"}, {"display": "Sales"}],
    }
    assert "groups" not in await read(ada, excludedAttributes="groups")
    assert "groups" in await read(ada, excludedAttributes="emails")

    # A list shows them too, and follows the group's changes (here: a rename and a removal).
    renamed = await platform.http.patch(
        f"/scim/v2/Groups/{sales['id']}",
        json=patch({"op": "replace", "path": "displayName", "value": "Sales Nordics"}),
        headers=auth(key),
    )
    assert renamed.status_code == 200, renamed.text
    await platform.http.patch(
        f"/scim/v2/Groups/{leaders['id']}",
        json=patch({"op": "remove", "path": f'members[value eq "{ada}"]'}),
        headers=auth(key),
    )
    listed = await platform.http.get(
        "/scim/v2/Users", params={"filter": 'userName eq "ada@acme.dk"'}, headers=auth(key)
    )
    assert [g["display"] for g in listed.json()["Resources"][0]["groups"]] == ["Sales Nordics"]

    # groups is read-only: a PUT or PATCH that names it changes no membership.
    put = await platform.http.put(
        f"/scim/v2/Users/{cy}",
        json=user_json("cy@acme.dk", groups=[{"value": sales["id"]}]),
        headers=auth(key),
    )
    assert put.status_code == 200, put.text
    assert "groups" not in put.json()
