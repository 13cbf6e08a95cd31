"""The HR roster by SCIM 2.0, driven by an independent client library (scim2-client, in process
against the gateway's ASGI app, through every middleware): round trips, discovery, filters,
PATCH as Entra ID sends it, offboarding, errors in SCIM's format, tenant isolation, events."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from nats.aio.client import Client as NatsClient
from scim2_client.engines.asgi import ASGISCIMClient
from scim2_models import (
    URN,
    Email,
    EnterpriseUser,
    Error,
    Extension,
    ListResponse,
    Manager,
    Name,
    PatchOp,
    PatchOperation,
    ResourceType,
    Schema,
    ScimProvider,
    SearchRequest,
    ServiceProviderConfig,
    User,
)

from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
)
from advocacy_shared.contracts.roster import (
    EmployeeChanged,
    EmployeeJoinedRoster,
    EmployeeLeftRoster,
)
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.topology import Topology
from tests.actors import new_key
from tests.conftest import Platform
from tests.e2e.test_ambassadors import CONSENT, events, invite
from tests.e2e.test_skeleton import create_organisation
from tests.shared.helpers import polls

SCIM_JSON = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADVOCACY = "urn:ietf:params:scim:schemas:extension:advocacy:2.0:User"


class AdvocacyUser(Extension):
    """Our extension, declared on the client side as an identity provider would map it."""

    __schema__ = URN(ADVOCACY)
    job_family: str | None = None
    hard_to_recruit: bool | None = None
    leadership: bool | None = None
    languages: list[str] | None = None
    topics: list[str] | None = None


# Typed as Any: mypy cannot see the extension keywords a parameterized SCIM model takes.
Employee: Any = User[EnterpriseUser | AdvocacyUser]


async def hr_key(platform: Platform, org_id: str, *scopes: str) -> str:
    key: str = (await new_key(platform.gateway, org_id, *(scopes or ("hr",))))["key"]
    return key


async def organisation_with_key(platform: Platform, name: str) -> tuple[str, str]:
    """An organisation the ambassadors service has provisioned, and an hr key of it."""
    org_id = (await create_organisation(platform, name))["id"]
    key = await hr_key(platform, org_id)
    for _ in polls():
        response = await platform.http.post(
            "/scim/v2/Users", json=user_json("probe@x.dk"), headers=auth(key)
        )
        if response.status_code != 503:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 201, response.text
    deleted = await platform.http.delete(
        f"/scim/v2/Users/{response.json()['id']}", headers=auth(key)
    )
    assert deleted.status_code == 204
    return org_id, key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def user_json(user_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        **extra,
    }


async def scim_client(platform: Platform, key: str) -> ASGISCIMClient:
    client = ASGISCIMClient(
        platform.gateway.app,
        base_url="http://gateway/scim/v2",
        headers=auth(key),
        provider=ScimProvider(
            models=[User, EnterpriseUser, AdvocacyUser],
            resource_types=[ResourceType.from_resource(Employee)],
        ),
    )
    await client.discover()  # the service provider config
    assert client.get_resource_model("User") is Employee
    return client


def ada() -> Any:
    return Employee(
        user_name="Ada.Lovelace@acme.dk",
        external_id="HR-1815",
        active=True,
        name=Name(given_name="Ada", family_name="Lovelace"),
        display_name="Ada Lovelace",
        title="Analyst",
        emails=[Email(value="ada.lovelace@acme.dk", type="work", primary=True)],
        EnterpriseUser=EnterpriseUser(
            employee_number="E-42", department="Engineering", manager=Manager(value="M-7")
        ),
        AdvocacyUser=AdvocacyUser(
            job_family="engineering",
            hard_to_recruit=True,
            leadership=False,
            languages=["en", "da"],
            topics=["analytical engines"],
        ),
    )


async def test_a_round_trip_with_an_independent_scim_client(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    scim = await scim_client(platform, key)

    created = await scim.create(ada())

    assert created.id
    assert created.user_name == "Ada.Lovelace@acme.dk"
    assert created.meta.resource_type == "User"
    assert created.meta.version == 'W/"1"'
    assert created[EnterpriseUser].department == "Engineering"
    assert created[EnterpriseUser].manager.value == "M-7"
    assert created[AdvocacyUser].hard_to_recruit is True
    assert created[AdvocacyUser].languages == ["en", "da"]

    fetched = await scim.query(Employee, created.id)
    assert fetched.emails[0].value == "ada.lovelace@acme.dk"
    assert fetched.name.family_name == "Lovelace"

    replacement = ada()
    replacement.id = created.id
    replacement.title = "Lead analyst"
    replacement[AdvocacyUser].leadership = True
    replaced = await scim.replace(replacement)
    assert replaced.title == "Lead analyst"
    assert replaced[AdvocacyUser].leadership is True
    assert replaced.meta.version == 'W/"2"'

    patch = PatchOp[Employee](
        operations=[
            PatchOperation(op="replace", path=f"{ENTERPRISE}:department", value="Research"),
            PatchOperation(op="add", path=f"{ADVOCACY}:topics", value=["poetical science"]),
            PatchOperation(op="remove", path="title"),
        ]
    )
    patched: Any = await scim.modify(Employee, created.id, patch)
    assert patched[EnterpriseUser].department == "Research"
    assert patched[AdvocacyUser].topics == ["analytical engines", "poetical science"]
    assert patched.title is None

    await scim.delete(Employee, created.id)
    gone = await scim.query(Employee, created.id, raise_scim_errors=False)
    assert isinstance(gone, Error)
    assert gone.status == 404


async def test_the_discovery_documents_describe_the_service(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    scim = ASGISCIMClient(
        platform.gateway.app, base_url="http://gateway/scim/v2", headers=auth(key)
    )

    await scim.discover()  # nothing given: everything is learnt from the server's documents

    model = scim.get_resource_model("User")
    assert model is not None
    extensions = {str(e.__schema__) for e in model.__scim_extension_metadata__}  # type: ignore[attr-defined]
    assert extensions == {ENTERPRISE, ADVOCACY}
    config: Any = await scim.query(ServiceProviderConfig)
    assert config.patch.supported is True
    assert config.filter.supported is True
    assert config.bulk.supported is False
    schemas: Any = await scim.query(Schema)
    assert {s.id for s in schemas.resources} == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        ENTERPRISE,
        ADVOCACY,
    }
    one: Any = await scim.query(Schema, ADVOCACY)
    assert {a.name for a in one.attributes} >= {"jobFamily", "hardToRecruit", "leadership"}
    resource_types: Any = await scim.query(ResourceType)
    assert [r.id for r in resource_types.resources] == ["User"]
    user_type: Any = await scim.query(ResourceType, "User")
    assert user_type.endpoint == "/Users"


async def test_filters_and_pagination(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    scim = await scim_client(platform, key)
    for name, active, external_id in [
        ("ada@acme.dk", True, "HR-1"),
        ("Bob@acme.dk", False, "HR-2"),
        ("cy@acme.dk", True, None),
    ]:
        await scim.create(
            Employee(
                user_name=name,
                active=active,
                external_id=external_id,
                emails=[Email(value=f"work.{name.lower()}", primary=True)],
            )
        )

    async def names(filter_: str | None = None, **more: Any) -> list[str]:
        found = await scim.query(Employee, query_parameters=SearchRequest(filter=filter_, **more))
        assert isinstance(found, ListResponse)
        return [str(user.user_name) for user in found.resources or []]

    assert await names('userName eq "BOB@ACME.DK"') == ["Bob@acme.dk"]  # case-insensitive
    assert await names('externalId eq "HR-1"') == ["ada@acme.dk"]
    assert await names("active eq false") == ["Bob@acme.dk"]
    assert await names('emails.value eq "work.cy@acme.dk"') == ["cy@acme.dk"]
    assert await names("externalId pr") == ["ada@acme.dk", "Bob@acme.dk"]
    assert await names("active eq true and not (externalId pr)") == ["cy@acme.dk"]
    assert await names('userName sw "ada" or (userName co "cy" and active eq true)') == [
        "ada@acme.dk",
        "cy@acme.dk",
    ]
    assert await names(start_index=2, count=1) == ["Bob@acme.dk"]
    page = await platform.http.get(
        "/scim/v2/Users", params={"startIndex": 3, "count": 5}, headers=auth(key)
    )
    assert page.headers["content-type"] == SCIM_JSON
    assert {k: page.json()[k] for k in ("totalResults", "startIndex", "itemsPerPage")} == {
        "totalResults": 3,
        "startIndex": 3,
        "itemsPerPage": 1,
    }


async def test_deactivation_offboards_the_ambassador_and_every_step_is_published(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org_id, key = await organisation_with_key(platform, "Acme")
    scim = await scim_client(platform, key)
    created = await scim.create(ada())
    assert isinstance(created, Employee)
    # Invited after HR provisioned them: linked by work email, leadership taken from the roster.
    ambassador = await invite(platform, org_id, "ada.lovelace@acme.dk")
    base = f"/api/v1/orgs/{org_id}/ambassadors/{ambassador['id']}"
    await platform.http.post(f"{base}/consent", json=CONSENT, headers=platform.auth)

    # As Entra ID deactivates a user: no path, an object of attributes, "False" as a string.
    response = await platform.http.patch(
        f"/scim/v2/Users/{created.id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "value": {"active": "False"}}],
        },
        headers={**auth(key), "Content-Type": SCIM_JSON},
    )

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert response.headers["ETag"] == 'W/"2"'
    offboarded = (await platform.http.get(base, headers=platform.auth)).json()
    assert offboarded["state"] == "offboarded"
    await scim.delete(Employee, created.id)
    published = await _published(nats_client, topology, 7)
    assert (
        [e.type for e in published]
        == [
            EmployeeJoinedRoster.spec.type,  # the probe of organisation_with_key
            EmployeeLeftRoster.spec.type,
            EmployeeJoinedRoster.spec.type,
            AmbassadorOnboarded.spec.type,
            EmployeeChanged.spec.type,
            AmbassadorOffboarded.spec.type,
            EmployeeLeftRoster.spec.type,
        ][-len(published) :]
    )
    facts = [e for e in published if e.type == AmbassadorOffboarded.spec.type]
    assert AmbassadorOffboarded.model_validate(facts[0].data).reason == "deactivated_in_hr"
    changed = EmployeeChanged.model_validate(
        next(e for e in published if e.type == EmployeeChanged.spec.type).data
    )
    assert (changed.employee_id, changed.active, changed.hard_to_recruit) == (
        UUID(created.id),
        False,
        True,
    )
    for event in published:  # ids and planning facts, never personal data
        for personal in ("Lovelace", "ada.lovelace@acme.dk", "E-42", "M-7"):
            assert personal not in str(event.data), (event.type, personal)


async def _published(
    nats_client: NatsClient, topology: Topology, at_least: int
) -> list[CloudEvent]:
    for _ in polls():
        published = await events(nats_client, topology)
        if len(published) >= at_least and published[-1].type == EmployeeLeftRoster.spec.type:
            return published
        await asyncio.sleep(0.05)
    raise AssertionError([e.type for e in await events(nats_client, topology)])


async def test_deleting_the_employee_or_a_manager_offboards_and_erasure_takes_the_roster_row(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org_id, key = await organisation_with_key(platform, "Acme")
    scim = await scim_client(platform, key)
    leaving = await scim.create(
        Employee(user_name="leaving@acme.dk", emails=[Email(value="leaving@acme.dk")])
    )
    erased = await scim.create(
        Employee(
            user_name="erased@acme.dk",
            emails=[Email(value="erased@acme.dk")],
            AdvocacyUser=AdvocacyUser(leadership=True),
        )
    )
    assert isinstance(leaving, Employee)
    assert isinstance(erased, Employee)
    first = await invite(platform, org_id, "leaving@acme.dk")
    second = await invite(platform, org_id, "erased@acme.dk")
    third = await invite(platform, org_id, "not.on.roster@acme.dk")
    assert second["profile"]["leadership"] is True  # taken from the roster
    ambassadors = f"/api/v1/orgs/{org_id}/ambassadors"

    await scim.delete(Employee, leaving.id)
    by_manager = await platform.http.post(
        f"{ambassadors}/{third['id']}/offboard",
        json={"reason": "left_program"},
        headers=platform.auth,
    )
    erasure = await platform.http.delete(f"{ambassadors}/{second['id']}", headers=platform.auth)

    first_now = (
        await platform.http.get(f"{ambassadors}/{first['id']}", headers=platform.auth)
    ).json()
    assert first_now["state"] == "offboarded"
    assert by_manager.status_code == 200, by_manager.text
    assert by_manager.json()["state"] == "offboarded"
    again = await platform.http.post(
        f"{ambassadors}/{third['id']}/offboard",
        json={"reason": "left_program"},
        headers=platform.auth,
    )
    assert again.status_code == 409
    assert erasure.status_code == 200
    gone = await platform.http.get(f"/scim/v2/Users/{erased.id}", headers=auth(key))
    assert gone.status_code == 404
    for _ in polls():
        published = await events(nats_client, topology)
        if published and published[-1].type == AmbassadorErased.spec.type:
            break
        await asyncio.sleep(0.05)
    reasons = [
        AmbassadorOffboarded.model_validate(e.data).reason
        for e in published
        if e.type == AmbassadorOffboarded.spec.type
    ]
    assert reasons == ["left_organisation", "left_program"]
    erased_fact = AmbassadorErased.model_validate(published[-1].data)
    assert erased_fact.employee_id == UUID(erased.id)


async def test_bad_input_gets_scim_errors(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    headers = {**auth(key), "Content-Type": SCIM_JSON}
    created = await platform.http.post(
        "/scim/v2/Users", json=user_json("ada@acme.dk"), headers=headers
    )
    assert created.status_code == 201
    assert created.headers["content-type"] == SCIM_JSON
    assert created.headers["Location"].endswith(f"/scim/v2/Users/{created.json()['id']}")
    user_url = f"/scim/v2/Users/{created.json()['id']}"

    async def error(
        method: str, url: str, status: int, scim_type: str | None, **kwargs: Any
    ) -> None:
        response = await platform.http.request(
            method, url, headers=kwargs.pop("headers", headers), **kwargs
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == SCIM_JSON
        body = response.json()
        assert body["schemas"] == [ERROR_URN]
        assert body["status"] == str(status)
        assert body.get("scimType") == scim_type, body

    await error("POST", "/scim/v2/Users", 409, "uniqueness", json=user_json("ADA@acme.dk"))
    far = await platform.http.get(
        "/scim/v2/Users", params={"startIndex": 10**35, "count": -5}, headers=headers
    )
    assert far.status_code == 200, far.text  # past any database offset: an empty page
    assert far.json()["totalResults"] == 1
    assert far.json().get("Resources", []) == []
    await error("POST", "/scim/v2/Users", 400, "invalidSyntax", content=b'{"userName": ')
    await error("POST", "/scim/v2/Users", 400, "invalidSyntax", json=[1, 2])
    await error("POST", "/scim/v2/Users", 400, "invalidSyntax", json={"userName": "no-schemas"})
    await error("POST", "/scim/v2/Users", 400, "invalidValue", json=user_json(""))
    await error("POST", "/scim/v2/Users", 400, "invalidValue", json=user_json("x", active="maybe"))
    await error("GET", "/scim/v2/Users?filter=userName%20eq", 400, "invalidFilter")
    await error("GET", '/scim/v2/Users?filter=userName%20eq%20"a"%20and', 400, "invalidFilter")
    await error("GET", '/scim/v2/Users?filter=password%20eq%20"a"', 400, "invalidFilter")
    await error("GET", "/scim/v2/Users?filter=(active%20eq%20true", 400, "invalidFilter")
    await error("GET", '/scim/v2/Users?filter=active%20eq%20"yes"', 400, "invalidFilter")
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
    await error(
        "PATCH", user_url, 400, "noTarget", json={**patch, "Operations": [{"op": "remove"}]}
    )
    await error(
        "PATCH",
        user_url,
        400,
        "invalidPath",
        json={**patch, "Operations": [{"op": "replace", "path": "nickName2", "value": "x"}]},
    )
    await error(
        "PATCH",
        user_url,
        400,
        "mutability",
        json={**patch, "Operations": [{"op": "replace", "path": "id", "value": "x"}]},
    )
    await error("PATCH", user_url, 400, "invalidSyntax", json={"Operations": []})
    await error(
        "PUT",
        user_url,
        412,
        None,
        json=user_json("ada@acme.dk"),
        headers={**headers, "If-Match": 'W/"9"'},
    )
    await error("GET", f"/scim/v2/Users/{UUID(int=1)}", 404, None)
    await error("GET", "/scim/v2/Users/not-an-id", 404, None)
    await error("GET", "/scim/v2/Users", 401, None, headers={})
    await error(
        "GET", "/scim/v2/Users", 401, None, headers={"Authorization": "Bearer adv_nope_nope"}
    )
    await error("POST", "/scim/v2/Users", 413, None, json=user_json("x" * 5000))


async def test_only_an_organisations_hr_or_admin_key_may_use_scim(platform: Platform) -> None:
    org_id, _ = await organisation_with_key(platform, "Acme")
    for scope, status in [("bi", 403), ("comms", 403), ("admin", 200), ("hr", 200)]:
        key = await hr_key(platform, org_id, scope)
        response = await platform.http.get("/scim/v2/Users", headers=auth(key))
        assert response.status_code == status, (scope, response.text)
        assert response.headers["content-type"] == SCIM_JSON
    bootstrap = await platform.http.get("/scim/v2/Users", headers=platform.auth)
    assert bootstrap.status_code == 403  # no organisation to act in
    assert bootstrap.json()["schemas"] == [ERROR_URN]


async def test_an_organisations_key_never_reaches_another_organisations_roster(
    platform: Platform,
) -> None:
    _, mine = await organisation_with_key(platform, "Mine")
    _, theirs = await organisation_with_key(platform, "Theirs")
    headers = {**auth(theirs), "Content-Type": SCIM_JSON}
    ada_ = await platform.http.post(
        "/scim/v2/Users", json=user_json("ada@mine.dk"), headers=auth(mine)
    )
    bob = await platform.http.post(
        "/scim/v2/Users", json=user_json("bob@theirs.dk"), headers=headers
    )
    # The same userName may live in both: uniqueness is per organisation.
    twin = await platform.http.post(
        "/scim/v2/Users", json=user_json("ada@mine.dk"), headers=headers
    )
    assert (ada_.status_code, bob.status_code, twin.status_code) == (201, 201, 201)
    url = f"/scim/v2/Users/{ada_.json()['id']}"
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }

    assert (await platform.http.get(url, headers=headers)).status_code == 404
    assert (
        await platform.http.put(url, json=user_json("x@y.dk"), headers=headers)
    ).status_code == 404
    assert (await platform.http.patch(url, json=patch, headers=headers)).status_code == 404
    assert (await platform.http.delete(url, headers=headers)).status_code == 404
    listed = (await platform.http.get("/scim/v2/Users", headers=headers)).json()
    assert sorted(u["userName"] for u in listed["Resources"]) == ["ada@mine.dk", "bob@theirs.dk"]
    assert {u["id"] for u in listed["Resources"]} == {bob.json()["id"], twin.json()["id"]}
    still = await platform.http.get(url, headers=auth(mine))
    assert still.json()["active"] is True


async def test_an_invited_ambassador_provisioned_deactivated_is_offboarded(
    platform: Platform,
) -> None:
    org_id, key = await organisation_with_key(platform, "Acme")
    invited = await invite(platform, org_id, "late@acme.dk")

    provisioned = await platform.http.post(
        "/scim/v2/Users",
        json=user_json("late", active=False, emails=[{"value": "LATE@acme.dk", "type": "work"}]),
        headers=auth(key),
    )

    assert provisioned.status_code == 201, provisioned.text
    url = f"/api/v1/orgs/{org_id}/ambassadors/{invited['id']}"
    assert (await platform.http.get(url, headers=platform.auth)).json()["state"] == "offboarded"
