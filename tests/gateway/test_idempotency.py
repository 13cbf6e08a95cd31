"""Idempotency-Key on creating POSTs: a retry replays the first answer and creates nothing more."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.actors import bearer, new_key, new_organisation
from tests.conftest import Gateway


async def organisations(gateway: Gateway) -> list[str]:
    page = await gateway.http.get("/api/v1/orgs", headers=gateway.auth)
    return [item["name"] for item in page.json()["items"]]


async def test_a_retry_with_the_same_key_and_body_replays_the_first_answer(
    gateway: Gateway,
) -> None:
    headers = {**gateway.auth, "Idempotency-Key": "create-acme-1"}
    first = await gateway.http.post("/api/v1/orgs", json={"name": "Acme"}, headers=headers)
    again = await gateway.http.post("/api/v1/orgs", json={"name": "Acme"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await organisations(gateway) == ["Acme"]


async def test_the_same_key_with_another_body_is_refused_and_creates_nothing(
    gateway: Gateway,
) -> None:
    headers = {**gateway.auth, "Idempotency-Key": "k-1"}
    await gateway.http.post("/api/v1/orgs", json={"name": "Acme"}, headers=headers)
    other = await gateway.http.post("/api/v1/orgs", json={"name": "Other"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:advocacy:problem:idempotency-key-reused"
    assert await organisations(gateway) == ["Acme"]


async def test_concurrent_retries_create_once(gateway: Gateway) -> None:
    headers = {**gateway.auth, "Idempotency-Key": "burst"}
    answers = await asyncio.gather(
        *(
            gateway.http.post("/api/v1/orgs", json={"name": "Once"}, headers=headers)
            for _ in range(5)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    assert await organisations(gateway) == ["Once"]


async def test_keys_belong_to_their_caller(gateway: Gateway) -> None:
    org = await new_organisation(gateway, "Home")
    admin_key = await new_key(gateway, org, "admin")
    body = {"name": "shared", "scopes": ["bi"]}
    mine = await gateway.http.post(
        f"/api/v1/orgs/{org}/api-keys",
        json=body,
        headers={**gateway.auth, "Idempotency-Key": "same"},
    )
    theirs = await gateway.http.post(
        f"/api/v1/orgs/{org}/api-keys",
        json=body,
        headers={**bearer(admin_key), "Idempotency-Key": "same"},
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_a_refused_request_is_not_remembered(gateway: Gateway) -> None:
    headers = {**gateway.auth, "Idempotency-Key": "fix-and-retry"}
    invalid = await gateway.http.post("/api/v1/orgs", json={"name": ""}, headers=headers)
    assert invalid.status_code == 422
    # A validation error is an answer too: the same body gets it again...
    assert (
        await gateway.http.post("/api/v1/orgs", json={"name": ""}, headers=headers)
    ).headers.get("Idempotent-Replayed") == "true"
    # ...while an unauthenticated attempt leaves the key free for the real caller.
    bad_auth = {"Authorization": "Bearer wrong", "Idempotency-Key": "after-401"}
    assert (
        await gateway.http.post("/api/v1/orgs", json={"name": "Late"}, headers=bad_auth)
    ).status_code == 401
    late = await gateway.http.post(
        "/api/v1/orgs",
        json={"name": "Late"},
        headers={**gateway.auth, "Idempotency-Key": "after-401"},
    )
    assert late.status_code == 201
    assert "Idempotent-Replayed" not in late.headers


async def test_a_remembered_answer_holding_a_new_key_is_sealed_at_rest(gateway: Gateway) -> None:
    org = await new_organisation(gateway, "Sealed")
    created = await gateway.http.post(
        f"/api/v1/orgs/{org}/api-keys",
        json={"name": "integration", "scopes": ["bi"]},
        headers={**gateway.auth, "Idempotency-Key": "key-once"},
    )
    secret = created.json()["key"]
    async with gateway.app.state.gateway.sessions() as session:
        rows = (await session.execute(text("SELECT * FROM idempotency_records"))).all()
    assert rows
    assert secret not in str(rows)
    replay = await gateway.http.post(
        f"/api/v1/orgs/{org}/api-keys",
        json={"name": "integration", "scopes": ["bi"]},
        headers={**gateway.auth, "Idempotency-Key": "key-once"},
    )
    assert replay.json()["key"] == secret
