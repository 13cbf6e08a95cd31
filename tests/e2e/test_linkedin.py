"""An ambassador's LinkedIn connection through the gateway, against the LinkedIn sandbox on a
loopback port: authorize, the browser's round trip, the callback, status, disconnect, the expiry
sweep, revocation and erasure; tokens never readable in a database, a log line or an event."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from sqlalchemy import text

from advocacy_ambassadors.service import linkedin as linkedin_service
from advocacy_ambassadors.service.linkedin import sweep_linkedin
from advocacy_ambassadors.settings import AmbassadorsSettings
from advocacy_devtools.linkedin_sandbox import SandboxState
from advocacy_shared.contracts.ambassadors import AmbassadorOnboarded, ConsentRevoked
from advocacy_shared.contracts.errors import Conflict
from advocacy_shared.contracts.linkedin import (
    TOKEN,
    TOKEN_REJECTED,
    GetLinkedInToken,
    LinkedInConnected,
    LinkedInConnectionExpired,
    LinkedInConnectionExpiring,
    LinkedInDisconnected,
    LinkedInTokenRejected,
    TokenPurpose,
)
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.topology import Topology
from tests.conftest import Platform
from tests.e2e.test_ambassadors import events, invite, published_until
from tests.e2e.test_invitations import holder, issue
from tests.e2e.test_skeleton import create_organisation
from tests.linkedin import (
    CALLBACK,
    CLIENT_SECRET,
    authorization_url,
    callback,
    connect,
    consented,
    follow,
    linkedin_settings,
)
from tests.shared.helpers import dump_database, eventually


@pytest.fixture
def service_overrides(sandbox: FastAPI) -> dict[str, dict[str, Any]]:
    linkedin = linkedin_settings(sandbox.state.url)
    return {"ambassadors": {"linkedin": linkedin, "linkedin_sweep_seconds": 0.2}}


def sandbox_state(sandbox: FastAPI) -> SandboxState:
    state: SandboxState = sandbox.state.sandbox
    return state


def of_type(published: list[CloudEvent], *kinds: type[Any]) -> list[str]:
    wanted = {kind.spec.type for kind in kinds}
    return [e.type for e in published if e.type in wanted]


async def token(platform: Platform, org: str, base: str, purpose: TokenPurpose = "posting") -> str:
    reply = await platform.gateway.app.state.gateway.rpc.call(
        TOKEN,
        GetLinkedInToken(
            organisation_id=UUID(org), ambassador_id=UUID(base.rsplit("/", 1)[1]), purpose=purpose
        ),
    )
    assert reply.member_urn == "urn:li:person:782bbtaQ"
    access_token: str = reply.access_token
    return access_token


async def test_an_ambassador_connects_linkedin_and_the_token_is_unreadable_at_rest(
    platform: Platform,
    sandbox: FastAPI,
    nats_client: NatsClient,
    topology: Topology,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    org = (await create_organisation(platform, "Acme"))["id"]
    base = await consented(platform, org, "ada@acme.dk")
    url = await authorization_url(platform, base)
    assert url.startswith(f"{sandbox.state.url}/oauth/v2/authorization?")
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["openid profile email w_member_social r_member_postAnalytics"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["state"][0].startswith(UUID(org).hex)

    location = await follow(url)
    code = parse_qs(urlsplit(location).query)["code"][0]
    page = await callback(platform, location)

    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "LinkedIn is connected" in page.text
    status = (await platform.http.get(f"{base}/linkedin", headers=platform.auth)).json()
    assert status["status"] == "connected"
    assert status["member_urn"] == "urn:li:person:782bbtaQ"
    assert "w_member_social" in status["scopes"]
    ambassador = (await platform.http.get(base, headers=platform.auth)).json()
    assert ambassador["state"] == "connected"
    published = await published_until(
        nats_client, topology, lambda p: LinkedInConnected.spec.type in [e.type for e in p]
    )
    assert [e.type for e in published] == [
        AmbassadorOnboarded.spec.type,
        LinkedInConnected.spec.type,
    ]
    connected = LinkedInConnected.model_validate(published[-1].data)
    assert str(connected.ambassador_id) == ambassador["id"]
    assert connected.expires_at - connected.connected_at == timedelta(days=60)

    (issued,) = sandbox_state(sandbox).tokens  # the one token LinkedIn issued
    assert await token(platform, org, base) == issued  # usable by the services that post
    dump = await dump_database(platform.runtimes["ambassadors"].sessions)
    assert "urn:li:person:782bbtaQ" in dump  # the dump really holds the connection
    for secret in (issued, code, CLIENT_SECRET):
        assert secret not in dump
        assert secret not in "\n".join(e.to_bytes().decode() for e in published)
        assert secret not in status.__repr__()
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))  # the test's own browser
    )
    assert issued not in logged
    assert CLIENT_SECRET not in logged


async def test_states_that_are_unknown_used_expired_or_forged_are_refused(
    platform: Platform, sandbox: FastAPI
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    other = (await create_organisation(platform, "Other"))["id"]
    base = await consented(platform, org, "ada@acme.dk")
    await consented(platform, other, "bob@other.dk")

    unknown = await platform.http.get(
        "/api/v1/linkedin/callback", params={"state": UUID(org).hex + "x" * 43, "code": "c"}
    )
    malformed = await platform.http.get(
        "/api/v1/linkedin/callback", params={"state": "nonsense", "code": "c"}
    )
    assert unknown.status_code == malformed.status_code == 400
    assert "unknown, used or expired" in unknown.text

    location = await follow(await authorization_url(platform, base))
    state = parse_qs(urlsplit(location).query)["state"][0]
    forged = location.replace(UUID(org).hex, UUID(other).hex)  # the same secret, another org
    assert (await callback(platform, forged)).status_code == 400
    assert (await callback(platform, location)).status_code == 200
    reused = await callback(platform, location)
    assert reused.status_code == 400
    assert "unknown, used or expired" in reused.text
    assert state not in reused.text

    expired_url = await authorization_url(platform, base)
    async with platform.runtimes["ambassadors"].transaction() as session:
        await session.execute(
            text("UPDATE linkedin_authorizations SET expires_at = :past"),
            {"past": utc_now() - timedelta(seconds=1)},
        )
    assert (await callback(platform, await follow(expired_url))).status_code == 400


async def test_linkedins_errors_and_a_failing_exchange_store_nothing(
    platform: Platform, sandbox: FastAPI, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    base = await consented(platform, org, "ada@acme.dk")

    # The member cancels on LinkedIn's consent page.
    sandbox_state(sandbox).settings = sandbox_state(sandbox).settings.model_copy(
        update={"auto_approve": False}
    )
    url = await authorization_url(platform, base)
    async with httpx.AsyncClient() as browser:
        shown = await browser.get(url)
        assert "Allow" in shown.text
        cancelled = await browser.post(
            url.split("?")[0], data={**dict(parse_qs(urlsplit(url).query)), "decision": "cancel"}
        )
    page = await callback(platform, cancelled.headers["location"])
    assert page.status_code == 400
    assert "user_cancelled_authorize" in page.text
    sandbox_state(sandbox).settings = sandbox_state(sandbox).settings.model_copy(
        update={"auto_approve": True}
    )

    # LinkedIn refuses the code (a wrong or expired one).
    location = await follow(await authorization_url(platform, base))
    bad_code = await callback(platform, location.replace("code=", "code=x"))
    assert bad_code.status_code == 400
    assert "LinkedIn refused the token exchange (400 invalid_request)" in bad_code.text

    # LinkedIn fails (5xx past the retries).
    location = await follow(await authorization_url(platform, base))
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{sandbox.state.url}/sandbox/faults",
            json={"path": "/oauth/v2/accessToken", "status": 503, "count": 2},
        )
    failing = await callback(platform, location)
    assert failing.status_code == 502
    assert "try again" in failing.text

    status = (await platform.http.get(f"{base}/linkedin", headers=platform.auth)).json()
    assert status["status"] == "not_connected"
    assert (await platform.http.get(base, headers=platform.auth)).json()["state"] == "consented"
    async with platform.runtimes["ambassadors"].sessions() as session:
        rows = (await session.execute(text("SELECT count(*) FROM linkedin_connections"))).scalar()
    assert rows == 0
    published = await events(nats_client, topology)
    assert LinkedInConnected.spec.type not in [e.type for e in published]

    # Without consent there is nothing to connect.
    invited = await invite(platform, org, "eve@acme.dk")
    refused = await platform.http.post(
        f"/api/v1/orgs/{org}/ambassadors/{invited['id']}/linkedin/authorize",
        headers=platform.auth,
    )
    assert refused.status_code == 409


async def test_expiry_is_announced_ahead_then_marked_once_each_and_the_token_refused(
    platform: Platform,
    sandbox: FastAPI,
    nats_client: NatsClient,
    topology: Topology,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token that lives an hour is inside the week's notice at once; the service's clock then
    moves two hours on, past its expiry, instead of the test waiting for one."""
    sandbox_state(sandbox).settings = sandbox_state(sandbox).settings.model_copy(
        update={"token_lifetime_seconds": 3600}
    )
    org = (await create_organisation(platform, "Acme"))["id"]
    base = await consented(platform, org, "ada@acme.dk")
    assert (await connect(platform, base)).status_code == 200
    assert await token(platform, org, base)

    kinds = (LinkedInConnectionExpiring, LinkedInConnectionExpired)
    await published_until(nats_client, topology, lambda p: len(of_type(p, *kinds)) == 1)
    assert await token(platform, org, base)  # announced, still valid
    later = utc_now() + timedelta(hours=2)
    monkeypatch.setattr(linkedin_service, "utc_now", lambda: later)
    await published_until(nats_client, topology, lambda p: len(of_type(p, *kinds)) == 2)

    ambassadors, settings = platform.runtimes["ambassadors"], platform.settings["ambassadors"]
    assert isinstance(settings, AmbassadorsSettings)
    notice = timedelta(days=settings.linkedin_expiring_days)
    for _ in range(3):  # more sweeps announce and mark nothing more
        async with ambassadors.transaction() as session:
            swept = await sweep_linkedin(session, ambassadors.outbox, notice)
        assert (swept.expiring, swept.expired) == (0, 0)
    published = await events(nats_client, topology)
    assert of_type(published, *kinds) == [
        LinkedInConnectionExpiring.spec.type,
        LinkedInConnectionExpired.spec.type,
    ]
    status = (await platform.http.get(f"{base}/linkedin", headers=platform.auth)).json()
    assert status["status"] == "expired"
    assert status["expiring_notified_at"] is not None
    with pytest.raises(Conflict, match="expired"):
        await token(platform, org, base)

    # Reconnecting (a token that lives long this time) starts afresh.
    sandbox_state(sandbox).settings = sandbox_state(sandbox).settings.model_copy(
        update={"token_lifetime_seconds": 5_184_000}
    )
    assert (await connect(platform, base)).status_code == 200
    status = (await platform.http.get(f"{base}/linkedin", headers=platform.auth)).json()
    assert status["status"] == "connected"
    assert status["expiring_notified_at"] is None
    assert await token(platform, org, base, "analytics")


async def test_revoking_consent_disconnecting_a_401_and_erasure_delete_the_token(
    platform: Platform, sandbox: FastAPI, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    rpc = platform.gateway.app.state.gateway.rpc
    ambassadors = platform.runtimes["ambassadors"]

    async def connections() -> int:
        async with ambassadors.sessions() as session:
            count = await session.execute(text("SELECT count(*) FROM linkedin_connections"))
            return int(count.scalar() or 0)

    # Consent that does not allow posting: no token for posting.
    base = await consented(platform, org, "ada@acme.dk", allows_posting=False)
    assert (await connect(platform, base)).status_code == 200
    with pytest.raises(Conflict, match="does not allow posting"):
        await token(platform, org, base, "posting")
    assert await token(platform, org, base, "analytics")

    # Revoking consent deletes the token at once and says so.
    revoked = await platform.http.delete(f"{base}/consent", headers=platform.auth)
    assert revoked.json()["state"] == "invited"
    assert await connections() == 0
    with pytest.raises(Conflict):
        await token(platform, org, base, "analytics")
    published = await published_until(
        nats_client, topology, lambda p: bool(of_type(p, LinkedInDisconnected))
    )
    assert of_type(published, ConsentRevoked, LinkedInDisconnected) == [
        ConsentRevoked.spec.type,
        LinkedInDisconnected.spec.type,
    ]
    assert LinkedInDisconnected.model_validate(published[-1].data).reason == "consent_revoked"

    # Disconnecting: the token goes, a connected ambassador is consented again.
    bob = await consented(platform, org, "bob@acme.dk")
    assert (await connect(platform, bob)).status_code == 200
    disconnected = await platform.http.delete(f"{bob}/linkedin", headers=platform.auth)
    assert disconnected.json()["status"] == "not_connected"
    assert (await platform.http.get(bob, headers=platform.auth)).json()["state"] == "consented"
    assert (await platform.http.delete(f"{bob}/linkedin", headers=platform.auth)).status_code == 409

    # A trained ambassador reconnects and stays trained; a 401 from LinkedIn expires it.
    await platform.http.post(
        f"{bob}/trainings", json={"enablement_format": "guide"}, headers=platform.auth
    )
    assert (await connect(platform, bob)).status_code == 200
    assert (await platform.http.get(bob, headers=platform.auth)).json()["state"] == "trained"
    rejected = await rpc.call(
        TOKEN_REJECTED,
        LinkedInTokenRejected(organisation_id=UUID(org), ambassador_id=UUID(bob.rsplit("/")[-1])),
    )
    assert rejected.status == "expired"
    with pytest.raises(Conflict, match="expired"):
        await token(platform, org, bob)
    await published_until(
        nats_client, topology, lambda p: bool(of_type(p, LinkedInConnectionExpired))
    )

    # Offboarding: nothing more is posted or collected, so the token goes.
    cleo = await consented(platform, org, "cleo@acme.dk")
    assert (await connect(platform, cleo)).status_code == 200
    offboarded = await platform.http.post(
        f"{cleo}/offboard", json={"reason": "left_program"}, headers=platform.auth
    )
    assert offboarded.json()["state"] == "offboarded"
    assert (await platform.http.get(f"{cleo}/linkedin", headers=platform.auth)).json()[
        "status"
    ] == "not_connected"
    await published_until(
        nats_client,
        topology,
        lambda p: any(
            LinkedInDisconnected.model_validate(e.data).reason == "offboarded"
            for e in p
            if e.type == LinkedInDisconnected.spec.type
        ),
    )

    # Erasure takes the connection with everything else.
    assert (await connect(platform, bob)).status_code == 200
    assert await connections() == 1
    assert (await platform.http.delete(bob, headers=platform.auth)).status_code == 200
    assert await connections() == 0
    async with ambassadors.sessions() as session:
        started = await session.execute(text("SELECT count(*) FROM linkedin_authorizations"))
        assert started.scalar() == 0


async def test_the_employee_connects_their_own_linkedin_with_the_accepted_invitation(
    platform: Platform,
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    link = await issue(platform, org, ada["id"])
    too_early = await platform.http.post("/api/v1/invitation/linkedin", headers=holder(link))
    assert too_early.status_code == 409
    assert "accept it before connecting" in too_early.json()["detail"]
    accepted = await platform.http.post(
        "/api/v1/invitation/accept",
        json={"consent_version": "1", "allows_posting": True, "allows_analytics": True},
        headers=holder(link),
    )
    assert accepted.status_code == 200, accepted.text

    authorization = await platform.http.post("/api/v1/invitation/linkedin", headers=holder(link))
    assert authorization.status_code == 200, authorization.text
    page = await callback(platform, await follow(authorization.json()["authorization_url"]))

    assert page.status_code == 200, page.text
    status = await platform.http.get(
        f"/api/v1/orgs/{org}/ambassadors/{ada['id']}/linkedin", headers=platform.auth
    )
    assert status.json()["status"] == "connected"
    ambassador = await platform.http.get(
        f"/api/v1/orgs/{org}/ambassadors/{ada['id']}", headers=platform.auth
    )
    assert ambassador.json()["state"] == "connected"
    forged = await platform.http.post(
        "/api/v1/invitation/linkedin", headers={"Invitation-Token": "garbage"}
    )
    assert forged.status_code == 404


async def test_consent_revoked_while_linkedin_answers_stores_no_token(
    platform: Platform, sandbox: FastAPI
) -> None:
    """The callback holds no database transaction while it waits on LinkedIn, and checks
    consent again before it stores: a revocation in that window wins."""
    org = (await create_organisation(platform, "Acme"))["id"]
    base = await consented(platform, org, "ada@acme.dk")
    location = await follow(await authorization_url(platform, base))
    exchange = {"path": "/oauth/v2/accessToken"}
    async with httpx.AsyncClient(base_url=sandbox.state.url) as linkedin:
        await linkedin.post("/sandbox/faults", json={**exchange, "status": None, "hold": True})
        pending = asyncio.create_task(callback(platform, location))

        async def linkedin_is_answering() -> bool:
            answer = await linkedin.get("/sandbox/faults/held", params=exchange)
            return bool(answer.json()["held"] == 1)

        await eventually(linkedin_is_answering)
        pool = platform.runtimes["ambassadors"].engine.sync_engine.pool
        in_use = []  # sampled: a relay's or a consumer's pass may hold one for a moment
        for _ in range(10):
            in_use.append(pool.checkedout())  # type: ignore[attr-defined]
            await asyncio.sleep(0.03)
        assert min(in_use) == 0, in_use  # nobody holds a connection while LinkedIn answers

        revoked = await platform.http.delete(f"{base}/consent", headers=platform.auth)

        assert revoked.status_code == 200
        assert not pending.done()  # not held up behind the callback, still waiting on LinkedIn
        assert (await linkedin.post("/sandbox/faults/release", json=exchange)).json()["held"] == 1
    page = await pending
    assert page.status_code == 400  # the revocation took the started authorization with it
    assert "LinkedIn was not connected" in page.text
    status = (await platform.http.get(f"{base}/linkedin", headers=platform.auth)).json()
    assert status["status"] == "not_connected"
