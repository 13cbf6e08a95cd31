"""Finding 7: rows written without a credential, or past their use, do not pile up. Unfinished
single sign-on starts are bounded per organisation; expired sessions, expired sign-in attempts and
spent idempotency records are purged by the gateway on a schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from advocacy_gateway.models import IdempotencyRecord, OidcLoginAttempt, UserSession
from advocacy_gateway.state import GatewayState
from advocacy_shared.envelope import utc_now
from tests.actors import add_member, new_organisation, sign_in
from tests.gateway.fake_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp
from tests.security.conftest import SLOW_MACHINE, Live
from tests.shared.helpers import eventually

MAX_PENDING = 3


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {
        **SLOW_MACHINE,
        "retention_interval_seconds": 0.2,
        "sso_max_pending_attempts": MAX_PENDING,
        "idempotency_hours": 1,
    }


@pytest.fixture
async def idp() -> AsyncIterator[FakeIdp]:
    provider = await FakeIdp().start()
    yield provider
    await provider.stop()


def inside(live: Live) -> GatewayState:
    state: GatewayState = live.platform.gateway.app.state.gateway
    return state


async def count(live: Live, table: Any) -> int:
    async with inside(live).sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_single_sign_on_starts_are_bounded_and_expired_ones_purged(
    live: Live, idp: FakeIdp
) -> None:
    org = await new_organisation(live, "Acme")
    configured = await live.http.put(
        f"/api/v1/orgs/{org}/sso/oidc",
        json={"issuer": idp.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        headers=live.admin,
    )
    assert configured.status_code == 200, configured.text
    statuses = [
        (await live.http.get("/api/v1/auth/oidc/acme/login")).status_code
        for _ in range(MAX_PENDING + 1)
    ]
    assert statuses == [302] * MAX_PENDING + [503]
    assert await count(live, OidcLoginAttempt) == MAX_PENDING

    async with inside(live).sessions() as session, session.begin():
        await session.execute(
            update(OidcLoginAttempt).values(expires_at=utc_now() - timedelta(seconds=1))
        )

    async def purged() -> bool:
        return await count(live, OidcLoginAttempt) == 0

    await eventually(purged)
    assert (await live.http.get("/api/v1/auth/oidc/acme/login")).status_code == 302


async def test_expired_sessions_are_purged(live: Live) -> None:
    org = await new_organisation(live)
    await add_member(live, org, "ada@acme.test", "analyst")
    for _ in range(2):
        await sign_in(live, "ada@acme.test", organisation=org)
    assert await count(live, UserSession) == 2
    async with inside(live).sessions() as session, session.begin():
        first = (await session.execute(select(UserSession).limit(1))).scalar_one()
        await session.execute(
            update(UserSession)
            .where(col(UserSession.token_hash) == first.token_hash)
            .values(expires_at=utc_now() - timedelta(seconds=1))
        )

    async def one_left() -> bool:
        return await count(live, UserSession) == 1

    await eventually(one_left)


async def test_spent_idempotency_records_are_purged(live: Live) -> None:
    created = await live.http.post(
        "/api/v1/orgs",
        json={"name": "Acme"},
        headers={**live.admin, "Idempotency-Key": "retention-1"},
    )
    assert created.status_code == 201, created.text
    assert await count(live, IdempotencyRecord) == 1
    async with inside(live).sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyRecord).values(created_at=utc_now() - timedelta(hours=1, seconds=1))
        )

    async def purged() -> bool:
        return await count(live, IdempotencyRecord) == 0

    await eventually(purged)
