"""The LinkedIn adapter against the LinkedIn sandbox on a loopback port: the OAuth round trip
through the official client, LinkedIn's errors as typed errors, timeouts, and bounded retries of
429 and 5xx. No secret ever appears in an error message or a log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from advocacy_devtools.embedded_nats import free_port
from advocacy_devtools.linkedin_sandbox import SandboxSettings, SandboxState, create_sandbox
from advocacy_shared.linkedin import (
    LinkedInClient,
    LinkedInNotConfigured,
    LinkedInRejected,
    LinkedInSettings,
    LinkedInTokenRejected,
    LinkedInUnavailable,
)
from tests.loopback import LoopbackServer

REDIRECT = "http://app.example/api/v1/linkedin/callback"
SECRET = "adapter-test-secret"


@dataclass
class Sandbox:
    app: FastAPI
    url: str

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.sandbox
        return state

    def settings(self, **extra: Any) -> LinkedInSettings:
        values: dict[str, Any] = {
            "client_id": "adapter-test",
            "client_secret": SECRET,
            "redirect_url": REDIRECT,
            "oauth_base_url": f"{self.url}/oauth/v2",
            "rest_base_url": f"{self.url}/rest",
            "v2_base_url": f"{self.url}/v2",
            "allowed_networks": ["127.0.0.1/32"],  # the sandbox, on loopback
            "backoff_initial_seconds": 0.01,
        }
        return LinkedInSettings(**{**values, **extra})

    async def fault(self, path: str, status: int | None, count: int = 1, delay: float = 0) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{self.url}/sandbox/faults",
                json={"path": path, "status": status, "count": count, "delay_seconds": delay},
            )
            assert response.status_code == 204, response.text


async def start_sandbox(**settings: Any) -> tuple[Sandbox, LoopbackServer]:
    app = create_sandbox(
        SandboxSettings(
            client_id="adapter-test",
            client_secret=SECRET,
            redirect_uris=(REDIRECT,),
            auto_approve=True,
            **settings,
        )
    )
    port = free_port()
    server = LoopbackServer(app, port)
    await server.start()
    return Sandbox(app, f"http://127.0.0.1:{port}"), server


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    running, server = await start_sandbox()
    yield running
    await server.stop()


async def authorize(client: LinkedInClient, state: str = "state-123_abc") -> str:
    """Follow the authorization URL as a browser would; return the code LinkedIn sends back."""
    url = client.authorization_url(state)
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


async def test_the_oauth_round_trip_through_the_official_client(sandbox: Sandbox) -> None:
    client = LinkedInClient(sandbox.settings())
    url = client.authorization_url("state-123_abc")
    assert url.startswith(f"{sandbox.url}/oauth/v2/authorization?response_type=code")
    assert "scope=openid%20profile%20email%20w_member_social%20r_member_postAnalytics" in url

    grant = await client.exchange_code(await authorize(client))

    assert grant.expires_in == 5_184_000
    assert set(grant.scopes) == {
        "openid",
        "profile",
        "email",
        "w_member_social",
        "r_member_postAnalytics",
    }
    assert grant.access_token not in repr(grant)
    member = await client.userinfo(grant.access_token)
    assert member.urn == "urn:li:person:782bbtaQ"
    assert member.email == "sandra.sandbox@example.com"


async def test_the_fetch_guard_refuses_a_linkedin_on_a_network_not_allowed(
    sandbox: Sandbox,
) -> None:
    """The base URLs go through the same guard as every server-side fetch: the sandbox on
    loopback is reached only because the settings list its network."""
    client = LinkedInClient(sandbox.settings(allowed_networks=(), max_attempts=1))
    with pytest.raises(LinkedInUnavailable) as refused:
        await client.userinfo("any-token")
    assert "127.0.0.1" not in str(refused.value)
    client.close()


async def test_linkedin_refusals_become_typed_errors_without_secrets(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = LinkedInClient(sandbox.settings())
    code = await authorize(client)
    grant = await client.exchange_code(code)
    with pytest.raises(LinkedInRejected) as reused:  # codes are single use
        await client.exchange_code(code)
    assert reused.value.status == 400
    assert reused.value.code == "invalid_request"
    with pytest.raises(LinkedInTokenRejected) as invalid:
        await client.userinfo("not-a-token")
    assert invalid.value.code == "INVALID_ACCESS_TOKEN"

    async with httpx.AsyncClient() as http:
        await http.post(
            f"{sandbox.url}/sandbox/tokens/expire", json={"access_token": grant.access_token}
        )
    with pytest.raises(LinkedInTokenRejected) as expired:
        await client.userinfo(grant.access_token)
    assert expired.value.status == 401
    assert expired.value.code == "EXPIRED_ACCESS_TOKEN"

    wrong_secret = LinkedInClient(sandbox.settings(client_secret="wrong-secret"))
    with pytest.raises(LinkedInRejected) as unauthenticated:
        await wrong_secret.exchange_code(await authorize(client))
    assert unauthenticated.value.status == 401
    for error in (reused.value, invalid.value, expired.value, unauthenticated.value):
        for secret in (code, grant.access_token, SECRET, "wrong-secret"):
            assert secret not in str(error)
    logged = "\n".join(  # the adapter's own logs and the client's (not the test's browser)
        str(record.__dict__)
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    )
    for secret in (code, grant.access_token, SECRET):
        assert secret not in logged
    with pytest.raises(LinkedInNotConfigured):
        LinkedInClient(
            LinkedInSettings(oauth_base_url=f"{sandbox.url}/oauth/v2")
        ).authorization_url("abc")


async def test_429_and_5xx_are_retried_with_backoff_up_to_a_bound(sandbox: Sandbox) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = LinkedInClient(sandbox.settings(max_attempts=4), sleep=sleep)
    grant = await client.exchange_code(await authorize(client))
    await sandbox.fault("/v2/userinfo", 429)
    await sandbox.fault("/v2/userinfo", 503)
    await sandbox.fault("/v2/userinfo", 502)
    before = sandbox.state.calls.get("/v2/userinfo", 0)

    member = await client.userinfo(grant.access_token)

    assert member.sub == "782bbtaQ"
    assert sandbox.state.calls["/v2/userinfo"] - before == 4
    assert slept == [0.01, 0.02, 0.04]  # exponential, capped by backoff_max_seconds

    await sandbox.fault("/oauth/v2/accessToken", 500, count=4)
    with pytest.raises(LinkedInUnavailable) as exhausted:
        await client.exchange_code(await authorize(client))
    assert exhausted.value.status == 500


async def test_a_call_that_hangs_times_out_and_is_retried(sandbox: Sandbox) -> None:
    client = LinkedInClient(sandbox.settings(read_timeout_seconds=0.3, max_attempts=2))
    grant = await client.exchange_code(await authorize(client))
    await sandbox.fault("/v2/userinfo", None, delay=1.0)  # answers, but too late

    member = await client.userinfo(grant.access_token)  # the second attempt gets through

    assert member.sub == "782bbtaQ"
    await sandbox.fault("/v2/userinfo", None, count=2, delay=1.0)
    with pytest.raises(LinkedInUnavailable, match="could not be reached"):
        await client.userinfo(grant.access_token)


async def test_the_sandbox_checks_the_authorization_request_and_lets_the_member_cancel(
    sandbox: Sandbox,
) -> None:
    sandbox.state.settings = sandbox.state.settings.model_copy(update={"auto_approve": False})
    base = f"{sandbox.url}/oauth/v2/authorization"
    params = {
        "response_type": "code",
        "client_id": "adapter-test",
        "redirect_uri": REDIRECT,
        "scope": "openid w_member_social",
        "state": "s1",
    }
    async with httpx.AsyncClient() as browser:
        page = await browser.get(base, params=params)
        assert page.status_code == 200
        assert "Allow" in page.text
        assert "w_member_social" in page.text
        for wrong, detail in (
            ({"client_id": "other"}, "Client_id doesn't match"),
            ({"redirect_uri": "http://evil.example/cb"}, "Redirect_uri doesn't match"),
            ({"scope": "openid r_everything"}, "Invalid scope"),
        ):
            refused = await browser.get(base, params={**params, **wrong})
            assert refused.status_code == 401
            assert detail in refused.text
        cancelled = await browser.post(base, data={**params, "decision": "cancel"})
        allowed = await browser.post(base, data={**params, "decision": "allow"})
    assert cancelled.status_code == 302
    cancel_query = parse_qs(urlsplit(cancelled.headers["location"]).query)
    assert cancel_query["error"] == ["user_cancelled_authorize"]
    assert cancel_query["state"] == ["s1"]
    assert "code" in parse_qs(urlsplit(allowed.headers["location"]).query)


async def test_sandbox_tokens_introspect_and_can_be_revoked_or_short_lived() -> None:
    sandbox, server = await start_sandbox(token_lifetime_seconds=60)
    try:
        client = LinkedInClient(sandbox.settings())
        grant = await client.exchange_code(await authorize(client))
        assert grant.expires_in == 60
        form = {"client_id": "adapter-test", "client_secret": SECRET, "token": grant.access_token}
        async with httpx.AsyncClient() as http:
            active = (await http.post(f"{sandbox.url}/oauth/v2/introspectToken", data=form)).json()
            await http.post(
                f"{sandbox.url}/sandbox/tokens/revoke", json={"access_token": grant.access_token}
            )
            revoked = (await http.post(f"{sandbox.url}/oauth/v2/introspectToken", data=form)).json()
        assert active["active"] is True
        assert active["auth_type"] == "3L"
        assert active["expires_at"] - active["created_at"] == 60
        assert revoked["status"] == "revoked"
        with pytest.raises(LinkedInTokenRejected) as rejected:
            await client.userinfo(grant.access_token)
        assert rejected.value.code == "REVOKED_ACCESS_TOKEN"
    finally:
        await server.stop()
