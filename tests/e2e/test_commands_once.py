"""Commands applied once end to end: the Idempotency-Key travels to the service, which records it
in the command's own transaction, so a retry after a gateway timeout gets the first answer."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from advocacy_gateway.idempotency import fingerprint
from advocacy_gateway.models import IdempotencyRecord
from advocacy_planner.models import ProgramRecord
from advocacy_planner.repository import tenant_repository
from advocacy_planner.service import programs
from advocacy_shared.envelope import utc_now
from tests.conftest import ADMIN_KEY, Platform
from tests.e2e.test_planner import PROGRAM
from tests.e2e.test_skeleton import create_organisation
from tests.shared.helpers import eventually


async def programs_of(platform: Platform, org: str) -> int:
    async with platform.runtimes["planner"].sessions() as session:
        query = select(func.count()).where(col(ProgramRecord.organisation_id) == UUID(org))
        return int((await session.execute(query)).scalar_one())


async def test_a_retry_after_a_504_gets_the_first_answer_and_one_program_exists(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = (await create_organisation(platform, "Slow"))["id"]

    async def planner_knows_it() -> bool:
        async with platform.runtimes["planner"].sessions() as session:
            return await tenant_repository.exists(session, UUID(org))

    await eventually(planner_knows_it)
    release = asyncio.Event()
    original = programs.create_program

    async def slow_create_program(*args: Any, **kwargs: Any) -> Any:
        """The planner is slower than the gateway waits, and then commits all the same."""
        await asyncio.wait_for(release.wait(), timeout=30)
        return await original(*args, **kwargs)

    monkeypatch.setattr(programs, "create_program", slow_create_program)
    url = f"/api/v1/orgs/{org}/programs"
    headers = {**platform.auth, "Idempotency-Key": "program-once"}

    # The planner waits for the test, not for the machine: whatever the time-out, the first call
    # is a sure 504, so it gets a short one instead of the default 15 s; the others keep theirs.
    rpc = platform.gateway.app.state.gateway.rpc
    kept, rpc.timeout = rpc.timeout, 0.2
    try:
        first = await platform.http.post(url, json=PROGRAM, headers=headers)
    finally:
        rpc.timeout = kept
    assert first.status_code == 504, first.text
    release.set()

    async def committed() -> bool:
        return await programs_of(platform, org) == 1

    await eventually(committed)
    retry = await platform.http.post(url, json=PROGRAM, headers=headers)
    assert retry.status_code == 201, retry.text
    again = await platform.http.post(url, json=PROGRAM, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == retry.json()
    listed = await platform.http.get(url, headers=platform.auth)
    assert [p["id"] for p in listed.json()["items"]] == [retry.json()["id"]]
    assert await programs_of(platform, org) == 1


async def test_after_a_504_the_key_stays_bound_to_its_body(platform: Platform) -> None:
    org = (await create_organisation(platform, "Bound"))["id"]
    await platform.stop("planner")  # nothing answers: a 503, which keeps the record too
    url = f"/api/v1/orgs/{org}/programs"
    headers = {**platform.auth, "Idempotency-Key": "bound"}
    assert (await platform.http.post(url, json=PROGRAM, headers=headers)).status_code == 503
    other = await platform.http.post(url, json={**PROGRAM, "name": "Other"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:advocacy:problem:idempotency-key-reused"


async def test_a_crashed_gateways_key_is_free_again_once_its_lease_runs_out(
    platform: Platform,
) -> None:
    body = b'{"name":"Leased"}'
    credential = hashlib.sha256(f"Bearer {ADMIN_KEY}".encode()).hexdigest()
    state = platform.gateway.app.state.gateway
    async with state.transaction() as session:  # what a gateway killed mid-request leaves
        session.add(
            IdempotencyRecord(
                credential_hash=credential,
                key="crash",
                fingerprint=fingerprint("/api/v1/orgs", b"", body),
                lease_expires_at=utc_now() + timedelta(minutes=1),
            )
        )
    headers = {**platform.auth, "Idempotency-Key": "crash", "Content-Type": "application/json"}
    held = await platform.http.post("/api/v1/orgs", content=body, headers=headers)
    assert held.status_code == 409
    assert held.json()["type"] == "urn:advocacy:problem:idempotency-in-progress"

    async with state.transaction() as session:
        record = await session.get(IdempotencyRecord, (credential, "crash"))
        assert record is not None
        record.lease_expires_at = utc_now() - timedelta(seconds=1)
        session.add(record)
    taken = await platform.http.post("/api/v1/orgs", content=body, headers=headers)
    assert taken.status_code == 201, taken.text
    replayed = await platform.http.post("/api/v1/orgs", content=body, headers=headers)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == taken.json()["id"]
