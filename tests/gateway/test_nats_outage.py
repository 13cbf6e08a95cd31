"""The gateway while its NATS server is down: a prompt 503 that names NATS (not a timeout that
blames a service), /readyz says so, and everything answers again once the server is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from advocacy_devtools.embedded_nats import EmbeddedNats
from advocacy_devtools.testing import MakeDatabase
from advocacy_gateway.settings import GatewaySettings
from advocacy_planner.app import create_runtime as planner_runtime
from advocacy_planner.settings import PlannerSettings
from advocacy_shared.topology import Topology
from tests.conftest import ADMIN_KEY, Gateway, common_settings, serving
from tests.shared.helpers import eventually

ON_FILE = {"stream_storage": "file"}
"""The streams outlive the server's restart, as in production."""


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of this test alone, since the test stops it."""
    with EmbeddedNats(store_dir=tmp_path / "nats") as server:
        yield server


async def test_while_nats_is_down_the_gateway_answers_503_nats_unavailable_then_recovers(
    own_nats: EmbeddedNats, make_database: MakeDatabase, topology: Topology
) -> None:
    planner = planner_runtime(
        PlannerSettings(
            database_url=await make_database("planner", "advocacy_planner"),
            **{**common_settings(own_nats.url, topology), **ON_FILE},
        )
    )
    await planner.start()
    settings = GatewaySettings(
        database_url=await make_database("gateway", "advocacy_gateway"),
        admin_api_key=ADMIN_KEY,
        **{**common_settings(own_nats.url, topology), **ON_FILE},
    )
    try:
        async with serving(settings) as gateway:
            org = await gateway.http.post(
                "/api/v1/orgs", json={"name": "Acme"}, headers=gateway.auth
            )
            assert org.status_code == 201, org.text
            playbook = f"/api/v1/orgs/{org.json()['id']}/playbook"
            await eventually(lambda: _answers(gateway, playbook, 200))

            own_nats.stop()
            state = gateway.app.state.gateway

            async def disconnected() -> bool:
                return not state.nc.is_connected

            await eventually(disconnected)
            started = time.monotonic()
            down = await gateway.http.get(playbook, headers=gateway.auth)
            took = time.monotonic() - started
            assert down.status_code == 503, down.text
            assert down.json()["type"].endswith("nats-unavailable")
            assert down.json()["detail"] == "NATS is unavailable"
            assert down.headers["Retry-After"] == "1"
            assert took < 0.5, f"the 503 took {took:.2f} s"
            not_ready = await gateway.http.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["nats"] is False
            assert not_ready.json()["database"] is True

            own_nats.start()  # on the same port and store
            await eventually(lambda: _answers(gateway, playbook, 200), timeout=30)
            assert (await gateway.http.get("/readyz")).status_code == 200
    finally:
        await planner.stop()


async def _answers(gateway: Gateway, path: str, status: int) -> bool:
    return (await gateway.http.get(path, headers=gateway.auth)).status_code == status
