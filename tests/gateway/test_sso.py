"""Single sign-on through an organisation's OpenID Connect provider (a real one over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from tests.actors import add_member, new_organisation
from tests.conftest import Gateway
from tests.gateway.fake_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp


@pytest.fixture
async def idp() -> AsyncIterator[FakeIdp]:
    provider = await FakeIdp().start()
    yield provider
    await provider.stop()


async def configure(gateway: Gateway, org_id: str, idp: FakeIdp, **extra: object) -> httpx.Response:
    return await gateway.http.put(
        f"/api/v1/orgs/{org_id}/sso/oidc",
        json={
            "issuer": idp.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **extra,
        },
        headers=gateway.auth,
    )


async def sign_in_through(gateway: Gateway, slug: str) -> tuple[httpx.AsyncClient, httpx.Response]:
    """A browser: start at the gateway, follow the provider, come back to the callback."""
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway.app), base_url="http://gateway"
    )
    start = await browser.get(f"/api/v1/auth/oidc/{slug}/login", params={"return_to": "/app"})
    assert start.status_code == 302, start.text
    async with httpx.AsyncClient() as outside:
        at_provider = await outside.get(start.headers["location"])
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/api/v1/auth/oidc/callback"
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    return browser, await browser.get(back.path, params=params)


async def test_a_member_signs_in_with_the_organisations_provider(
    gateway: Gateway, idp: FakeIdp
) -> None:
    org_id = await new_organisation(gateway, "Acme")
    configured = await configure(gateway, org_id, idp, email_domains=["acme.test"])
    assert configured.status_code == 200, configured.text
    assert "client_secret" not in configured.json()
    assert configured.json()["redirect_uri"].endswith("/api/v1/auth/oidc/callback")
    await add_member(gateway, org_id, "ada@acme.test", "program_manager")

    browser, landed = await sign_in_through(gateway, "acme")

    assert landed.status_code == 302, landed.text
    assert landed.headers["location"] == "/app"
    me = (await browser.get("/api/v1/auth/me")).json()
    assert me["name"] == "ada@acme.test"
    assert me["roles"] == {org_id: "program_manager"}


async def test_the_client_secret_is_sealed_at_rest(gateway: Gateway, idp: FakeIdp) -> None:
    org_id = await new_organisation(gateway, "Acme")
    await configure(gateway, org_id, idp)
    async with gateway.app.state.gateway.sessions() as session:
        rows = (await session.execute(text("SELECT * FROM oidc_providers"))).all()
    assert CLIENT_SECRET not in str(rows)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"nonce_override": "replayed"}, "nonce does not match"),
        ({"sign_with_unlisted_key": True}, "ID token is not valid"),
        ({"email_verified": False}, "did not vouch for an email address"),
        ({"email": "eve@acme.test"}, "eve@acme.test is not a member"),
    ],
)
async def test_an_answer_that_does_not_prove_a_member_opens_no_session(
    gateway: Gateway, idp: FakeIdp, tamper: dict[str, object], reason: str
) -> None:
    org_id = await new_organisation(gateway, "Acme")
    await configure(gateway, org_id, idp)
    await add_member(gateway, org_id, "ada@acme.test", "analyst")
    for name, value in tamper.items():
        setattr(idp, name, value)

    browser, landed = await sign_in_through(gateway, "acme")

    assert landed.status_code == 401
    assert reason in landed.json()["detail"]
    assert "advocacy_session" not in browser.cookies
    assert (await browser.get("/api/v1/auth/me")).status_code == 401


async def test_an_address_outside_the_allowed_domains_is_refused(
    gateway: Gateway, idp: FakeIdp
) -> None:
    org_id = await new_organisation(gateway, "Acme")
    await configure(gateway, org_id, idp, email_domains=["acme.dk"])
    await add_member(gateway, org_id, "ada@acme.test", "analyst")
    _, landed = await sign_in_through(gateway, "acme")
    assert landed.status_code == 401
    assert "acme.test may not sign in" in landed.json()["detail"]


async def test_a_callback_works_once_and_only_in_the_browser_that_started_it(
    gateway: Gateway, idp: FakeIdp
) -> None:
    org_id = await new_organisation(gateway, "Acme")
    await configure(gateway, org_id, idp)
    await add_member(gateway, org_id, "ada@acme.test", "analyst")
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway.app), base_url="http://gateway"
    )
    start = await browser.get("/api/v1/auth/oidc/acme/login")
    async with httpx.AsyncClient() as outside:
        back = urlsplit((await outside.get(start.headers["location"])).headers["location"])
    params = {k: v[0] for k, v in parse_qs(back.query).items()}

    stranger = await gateway.http.get(back.path, params=params)  # no state cookie
    assert stranger.status_code == 401
    assert (await browser.get(back.path, params=params)).status_code == 302
    assert (await browser.get(back.path, params=params)).status_code == 401
    # Even with the state cookie copied, the server side has used the state up.
    copier = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway.app), base_url="http://gateway"
    )
    copier.cookies.set("advocacy_oidc_state", params["state"])
    replay = await copier.get(back.path, params=params)
    assert replay.status_code == 401
    assert "unknown or has expired" in replay.json()["detail"]


async def test_a_provider_that_does_not_answer_cannot_be_configured(gateway: Gateway) -> None:
    org_id = await new_organisation(gateway, "Acme")
    response = await gateway.http.put(
        f"/api/v1/orgs/{org_id}/sso/oidc",
        json={"issuer": "http://127.0.0.1:9", "client_id": "x", "client_secret": "y"},
        headers=gateway.auth,
    )
    assert response.status_code == 422
    assert "does not check out" in response.json()["detail"]


async def test_return_to_must_stay_on_this_site(gateway: Gateway, idp: FakeIdp) -> None:
    org_id = await new_organisation(gateway, "Acme")
    await configure(gateway, org_id, idp)
    for target in ["https://evil.example/", "//evil.example/"]:
        response = await gateway.http.get(
            "/api/v1/auth/oidc/acme/login", params={"return_to": target}
        )
        assert response.status_code == 422, target
