"""The attack suite's target: the whole platform (every service and the gateway, on a real
nats-server and real databases) served over real HTTP on 127.0.0.1, as an attacker reaches it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from advocacy_devtools.embedded_nats import free_port
from tests.conftest import Platform
from tests.loopback import LoopbackServer


@dataclass
class Live:
    """The platform behind a real socket: `http` speaks HTTP to it, `platform` reaches inside."""

    platform: Platform
    base_url: str
    http: httpx.AsyncClient

    @property
    def admin(self) -> dict[str, str]:
        return self.platform.auth

    @property
    def auth(self) -> dict[str, str]:
        return self.platform.auth

    def client(self) -> httpx.AsyncClient:
        """A browser of its own (its own cookie jar) speaking HTTP to the platform."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=30)


SLOW_MACHINE = {"rpc_timeout_seconds": 5.0}
"""The attack suite drives whole flows; a shared machine under load answers slower than 1 s."""


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return dict(SLOW_MACHINE)


@pytest.fixture
async def live(platform: Platform) -> AsyncIterator[Live]:
    server = LoopbackServer(platform.gateway.app, free_port())
    await server.start()
    base_url = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            yield Live(platform=platform, base_url=base_url, http=http)
    finally:
        await server.stop()
