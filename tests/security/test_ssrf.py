"""Finding 5: every server-side fetch goes through one guard. The OpenID Connect issuer (and the
endpoints its discovery names) is checked like a webhook target; 6to4 and other IPv6 spellings of
inside addresses are refused; failures never echo the target's status or URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from advocacy_devtools.embedded_nats import free_port
from tests.actors import new_organisation
from tests.loopback import LoopbackServer
from tests.security.conftest import SLOW_MACHINE, Live


class Inside:
    """A service on the internal network (here: loopback) that notes every request it gets."""

    def __init__(self) -> None:
        self.port = free_port()
        self.seen: list[str] = []
        self.server = LoopbackServer(
            Starlette(routes=[Route("/{path:path}", self._any, methods=["GET", "POST"])]),
            self.port,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _any(self, request: Request) -> Response:
        self.seen.append(request.url.path)
        if request.url.path == "/.well-known/openid-configuration":
            return JSONResponse({"secret": "internal"}, status_code=418)
        return Response("internal", status_code=404)


@pytest.fixture
async def inside() -> AsyncIterator[Inside]:
    service = Inside()
    await service.server.start()
    yield service
    await service.server.stop()


async def configure(live: Live, org: str, issuer: str) -> Any:
    return await live.http.put(
        f"/api/v1/orgs/{org}/sso/oidc",
        json={"issuer": issuer, "client_id": "client", "client_secret": "secret"},
        headers=live.admin,
    )


def told(response: Any) -> str:
    """The problem's text but its correlation id: random hex, which holds any three given digits
    about once in a hundred responses."""
    return str({key: value for key, value in response.json().items() if key != "correlation_id"})


@pytest.mark.parametrize("gateway_overrides", [{**SLOW_MACHINE, "webhooks_allow_loopback": False}])
async def test_an_issuer_inside_is_refused_without_being_fetched(
    live: Live, inside: Inside
) -> None:
    org = await new_organisation(live)
    response = await configure(live, org, inside.url)
    assert response.status_code == 422, response.text
    assert response.json()["context"] == {"field": "issuer"}
    assert inside.seen == []
    assert str(inside.port) not in told(response)


async def test_a_failing_issuer_is_not_an_oracle(live: Live, inside: Inside) -> None:
    org = await new_organisation(live)
    response = await configure(live, org, inside.url)  # loopback is allowed in development
    assert response.status_code == 422, response.text
    assert inside.seen == ["/.well-known/openid-configuration"]
    assert "418" not in told(response)
    assert str(inside.port) not in told(response)
    assert "internal" not in told(response)


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:a9fe:a9fe::]/latest/meta-data/",  # 6to4 of 169.254.169.254
        "http://[2002:a00:1::]/hook",  # 6to4 of 10.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata service
        "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook",  # Teredo of 10.0.0.1
    ],
)
async def test_ipv6_spellings_of_inside_addresses_are_refused(live: Live, url: str) -> None:
    org = await new_organisation(live)
    webhook = await live.http.post(
        f"/api/v1/orgs/{org}/webhooks",
        json={"url": url, "event_types": ["*"]},
        headers=live.admin,
    )
    assert webhook.status_code == 422, webhook.text
    issuer = await configure(live, org, url.rsplit("/", 1)[0])
    assert issuer.status_code == 422, issuer.text


@pytest.mark.parametrize(
    "gateway_overrides",
    [
        {
            **SLOW_MACHINE,
            "webhooks_allow_loopback": False,
            "outbound_allowed_networks": ["127.0.0.1/32"],
        }
    ],
)
async def test_a_network_the_settings_list_is_reachable_where_loopback_is_not(
    live: Live, inside: Inside
) -> None:
    org = await new_organisation(live)
    await configure(live, org, inside.url)
    assert inside.seen == ["/.well-known/openid-configuration"]
