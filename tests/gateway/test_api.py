"""The gateway's face: authentication, problem details for bad input, organisations, OpenAPI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from advocacy_gateway.middleware import UNMATCHED_ROUTE
from advocacy_shared.telemetry import HTTP_RESPONSES
from tests.conftest import Gateway

PROBLEM = "application/problem+json"


async def test_healthz_answers_without_credentials(gateway: Gateway) -> None:
    response = await gateway.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "send an API key as `Authorization: Bearer <key>`, or sign in"),
        (
            {"Authorization": "Bearer wrong"},
            "the API key is not valid (unknown, revoked or expired)",
        ),
        (
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "send an API key as `Authorization: Bearer <key>`, or sign in",
        ),
    ],
)
async def test_requests_without_a_valid_key_are_401_problems(
    gateway: Gateway, headers: dict[str, str], detail: str
) -> None:
    response = await gateway.http.get("/api/v1/orgs", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"] == detail


async def test_malformed_json_is_a_400_problem(gateway: Gateway) -> None:
    response = await gateway.http.post(
        "/api/v1/orgs",
        content=b'{"name": ',
        headers={**gateway.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:advocacy:problem:malformed-json"


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"name": 5}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({}, ["body", "name"]),
        ({"name": "Acme", "slug": "Not A Slug"}, ["body", "slug"]),
        ({"name": "Acme", "colour": "red"}, ["body", "colour"]),
        ([1, 2], ["body"]),
    ],
)
async def test_a_body_that_breaks_the_schema_is_a_422_problem_naming_the_field(
    gateway: Gateway, body: object, location: list[str]
) -> None:
    response = await gateway.http.post("/api/v1/orgs", json=body, headers=gateway.auth)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:advocacy:problem:validation"
    assert problem["errors"][0]["loc"] == location


async def test_an_oversized_body_is_a_413_problem_and_nothing_is_created(gateway: Gateway) -> None:
    response = await gateway.http.post(
        "/api/v1/orgs", json={"name": "x" * 10_000}, headers=gateway.auth
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    listing = await gateway.http.get("/api/v1/orgs", headers=gateway.auth)
    assert listing.json()["items"] == []


async def test_a_streamed_oversized_body_without_length_is_refused_too(gateway: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    response = await gateway.http.post(
        "/api/v1/orgs",
        content=chunks(),
        headers={**gateway.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_a_refused_body_is_counted_and_names_its_correlation_id(gateway: Gateway) -> None:
    """The edge layer's three duties on one refusal: the 413 is counted by route (unmatched: the
    refusal comes before routing), carries the correlation id it was made under, in its header
    and its problem, and a missing or malformed id is replaced by a fresh version-4 UUID."""
    counted = HTTP_RESPONSES.labels("POST", UNMATCHED_ROUTE, "413")
    before = counted._value.get()
    ids = []
    for given in ({}, {"X-Correlation-Id": "not well formed!"}, {}):
        response = await gateway.http.post(
            "/api/v1/orgs", json={"name": "x" * 10_000}, headers={**gateway.auth, **given}
        )
        assert response.status_code == 413
        correlation_id = response.headers["X-Correlation-Id"]
        assert response.json()["correlation_id"] == correlation_id
        assert uuid.UUID(correlation_id).version == 4
        assert str(uuid.UUID(correlation_id)) == correlation_id
        ids.append(correlation_id)
    assert len(set(ids)) == 3
    assert counted._value.get() == before + 3
    kept = await gateway.http.post(
        "/api/v1/orgs",
        json={"name": "x" * 10_000},
        headers={**gateway.auth, "X-Correlation-Id": "req-43"},
    )
    assert kept.headers["X-Correlation-Id"] == "req-43"


async def test_an_organisation_id_that_is_not_a_uuid_is_a_422_problem(gateway: Gateway) -> None:
    response = await gateway.http.get("/api/v1/orgs/not-a-uuid", headers=gateway.auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "org_id"]


async def test_an_unknown_organisation_is_a_404_problem(gateway: Gateway) -> None:
    response = await gateway.http.get(
        "/api/v1/orgs/00000000-0000-4000-8000-000000000000", headers=gateway.auth
    )
    assert response.status_code == 404
    assert response.json()["type"] == "urn:advocacy:problem:unknown-organisation"


async def test_an_unknown_path_is_a_404_problem(gateway: Gateway) -> None:
    response = await gateway.http.get("/api/v1/nothing-here", headers=gateway.auth)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_a_created_organisation_can_be_read_back_and_its_slug_is_unique(
    gateway: Gateway,
) -> None:
    created = await gateway.http.post(
        "/api/v1/orgs", json={"name": "Ørsted Søn & Co"}, headers=gateway.auth
    )
    assert created.status_code == 201
    organisation = created.json()
    assert organisation["slug"] == "rsted-sn-co"
    assert created.headers["Location"] == f"/api/v1/orgs/{organisation['id']}"
    fetched = await gateway.http.get(created.headers["Location"], headers=gateway.auth)
    assert fetched.json() == organisation

    again = await gateway.http.post(
        "/api/v1/orgs", json={"name": "Other", "slug": "rsted-sn-co"}, headers=gateway.auth
    )
    assert again.status_code == 409
    assert again.json()["type"] == "urn:advocacy:problem:conflict"


async def test_a_name_without_letters_or_digits_needs_an_explicit_slug(gateway: Gateway) -> None:
    response = await gateway.http.post("/api/v1/orgs", json={"name": "!!!"}, headers=gateway.auth)
    assert response.status_code == 422
    assert response.json()["context"] == {"field": "slug"}


async def test_a_blank_name_is_a_422_even_with_a_slug(gateway: Gateway) -> None:
    """Found by the fuzzing: a form feed passed the length check, was stripped to nothing, and
    the event refused it (a 500)."""
    for name in ("\f", " \t\n", "\x1c"):
        response = await gateway.http.post(
            "/api/v1/orgs", json={"name": name, "slug": "blank-name"}, headers=gateway.auth
        )
        assert response.status_code == 422, (name, response.text)
        assert response.json()["context"] == {"field": "name"}


async def test_organisations_are_listed_with_a_cursor(gateway: Gateway) -> None:
    for index in range(5):
        await gateway.http.post("/api/v1/orgs", json={"name": f"Org {index}"}, headers=gateway.auth)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await gateway.http.get("/api/v1/orgs", params=params, headers=gateway.auth)).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Org {index}" for index in range(5)]


async def test_a_forged_cursor_is_a_400_problem(gateway: Gateway) -> None:
    response = await gateway.http.get(
        "/api/v1/orgs", params={"cursor": "bm9wZQ=="}, headers=gateway.auth
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:advocacy:problem:bad-cursor"


async def test_openapi_documents_the_endpoints_their_problems_and_the_security(
    gateway: Gateway,
) -> None:
    document = (await gateway.http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    for path in ["/api/v1/orgs", "/api/v1/orgs/{org_id}", "/api/v1/orgs/{org_id}/playbook"]:
        assert path in document["paths"]
    playbook = document["paths"]["/api/v1/orgs/{org_id}/playbook"]["get"]
    assert {"404", "503", "504"} <= set(playbook["responses"])
    assert {"HTTPBearer": []} in playbook["security"]
    assert {"APIKeyCookie": []} in playbook["security"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyCookie"]["name"] == "advocacy_session"
