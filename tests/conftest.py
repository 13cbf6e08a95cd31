"""Fixtures that run the platform in the test process: every service and the gateway, on a real
nats-server and real databases (see advocacy_devtools.testing for how those are chosen)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from advocacy_ambassadors.app import create_runtime as ambassadors_runtime
from advocacy_ambassadors.settings import AmbassadorsSettings
from advocacy_content.app import create_runtime as content_runtime
from advocacy_content.settings import ContentSettings
from advocacy_devtools.testing import MakeDatabase
from advocacy_gateway.app import create_app
from advocacy_gateway.security import use_password_hasher
from advocacy_gateway.settings import GatewaySettings
from advocacy_gateway.webhooks.process import WebhooksProcess
from advocacy_metrics.app import create_runtime as metrics_runtime
from advocacy_metrics.settings import MetricsSettings
from advocacy_planner.app import create_runtime as planner_runtime
from advocacy_planner.settings import PlannerSettings
from advocacy_shared.crypto import new_key
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.topology import Topology
from tests.live import PLATFORM_START_SECONDS

pytest_plugins = ["tests.fault.report", "tests.linkedin"]

SHARED_PLATFORM_GROUPS = {
    "site": "admin-ui",  # tests/ui: one `advocacy run` and one browser
    "browser": "admin-ui",
    "shared_platform": "demo-platform",  # tests/e2e: one `advocacy run --demo`
    "fuzzed": "fuzzing",  # tests/gateway/test_openapi_properties.py: one `advocacy run`
}
"""The fixtures that start a whole platform for several tests, and the pytest-xdist group of the
tests that use one: with `--dist loadgroup` (the Makefile's) a group runs on one worker, so each
platform starts once in a run instead of once on every worker that runs one of its tests."""


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        groups = {SHARED_PLATFORM_GROUPS.get(name) for name in fixtures} - {None}
        if groups:
            (group,) = groups
            item.add_marker(pytest.mark.xdist_group(group))
            allow_platform_start(config, item)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a grouped test that pytest-xdist did not group: it groups by an `@group` suffix on the
    node id, which pytest 9.2 no longer lets it write (pytest-dev/pytest-xdist#1386). Without the
    suffix every group's platform starts on every worker and nothing else says so."""
    if not getattr(item.config.option, "loadgroup", False):
        return
    names = sorted(  # the group as pytest-xdist names it: every xdist_group mark, joined
        {
            str(m.args[0] if m.args else m.kwargs.get("name", "default"))
            for m in item.iter_markers("xdist_group")
        }
    )
    if names and not item.nodeid.endswith(f"@{'_'.join(names)}"):
        raise pytest.UsageError(
            f"pytest-xdist did not group {item.nodeid} ({'_'.join(names)}): "
            "this pytest and pytest-xdist do not work together (requirements-dev.in)"
        )


def allow_platform_start(config: pytest.Config, item: pytest.Item) -> None:
    """Whichever test of a group runs first starts the group's platform in its setup, which
    pytest-timeout counts as the test's: give each the platform's start bound on top of its own
    timeout, so that a slow start fails as the platform's, not as a timeout of the test."""
    marker = item.get_closest_marker("timeout")
    own = float(marker.args[0]) if marker and marker.args else float(config.getini("timeout"))
    item.add_marker(pytest.mark.timeout(own + PLATFORM_START_SECONDS), append=False)


ADMIN_KEY = "test-admin-key-0123456789"
TEST_ENCRYPTION_KEY = new_key()

PRODUCTION_PASSWORD_HASHER = use_password_hasher(PasswordHasher.from_parameters(CHEAPEST))
"""Tests hash and verify passwords with Argon2's cheapest parameters (microseconds, not half a
second each); a test of what Argon2's real cost does asks for `production_argon2`."""

SERVICES: dict[str, tuple[type[ServiceSettings], Callable[[ServiceSettings], ServiceRuntime]]] = {
    "planner": (PlannerSettings, planner_runtime),
    "ambassadors": (AmbassadorsSettings, ambassadors_runtime),
    "content": (ContentSettings, content_runtime),
    "metrics": (MetricsSettings, metrics_runtime),
}


def common_settings(nats_server_url: str, topology: Topology) -> dict[str, Any]:
    """Fast retries and polls; time-outs generous enough for a loaded machine (a test of a time-out
    sets its own, short one through `gateway_overrides`)."""
    return {
        "nats_url": nats_server_url,
        "namespace": topology.namespace,
        "relay_interval_seconds": 0.2,
        "nats_reconnect_seconds": 0.2,
        "stream_storage": "memory",  # made and deleted per test; the fault suite keeps files
        "consumer_backoff_seconds": (0.1, 0.5),
        "rpc_timeout_seconds": 15.0,
        "readiness_timeout_seconds": 5.0,
        "encryption_keys": TEST_ENCRYPTION_KEY,
    }


@dataclass
class Gateway:
    app: FastAPI
    http: httpx.AsyncClient
    settings: GatewaySettings
    webhooks: WebhooksProcess
    auth: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {ADMIN_KEY}"})

    def client(self) -> httpx.AsyncClient:
        """A browser of its own (its own cookie jar), in the test process."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gateway"
        )


@dataclass
class Platform:
    gateway: Gateway
    runtimes: dict[str, ServiceRuntime]
    settings: dict[str, ServiceSettings]

    @property
    def http(self) -> httpx.AsyncClient:
        return self.gateway.http

    @property
    def auth(self) -> dict[str, str]:
        return self.gateway.auth

    async def stop(self, service: str) -> None:
        await self.runtimes.pop(service).stop()

    async def start(self, service: str) -> ServiceRuntime:
        runtime = SERVICES[service][1](self.settings[service])
        await runtime.start()
        self.runtimes[service] = runtime
        return runtime


@pytest.fixture
def production_argon2() -> Iterator[None]:
    """Argon2 at its production cost for this test."""
    cheap = use_password_hasher(PRODUCTION_PASSWORD_HASHER)
    yield
    use_password_hasher(cheap)


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    """Gateway settings a test module changes by overriding this fixture."""
    return {}


@pytest.fixture
def service_overrides() -> dict[str, dict[str, Any]]:
    """Per service, settings a test module changes by overriding this fixture."""
    return {}


@pytest.fixture
async def gateway(
    nats_server_url: str,
    topology: Topology,
    make_database: MakeDatabase,
    nats_client: NatsClient,  # deletes this test's streams afterwards
    gateway_overrides: dict[str, Any],
) -> AsyncIterator[Gateway]:
    settings = GatewaySettings(
        database_url=await make_database("gateway", "advocacy_gateway"),
        admin_api_key=ADMIN_KEY,
        **{
            "max_body_bytes": 4096,
            **common_settings(nats_server_url, topology),
            **gateway_overrides,
        },
    )
    async with serving(settings) as gateway:
        yield gateway


@asynccontextmanager
async def serving(settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """The gateway's HTTP app and its webhook delivery process, as `advocacy run` starts them."""
    app = create_app(settings, ADMIN_KEY)
    async with app.router.lifespan_context(app):
        webhooks = WebhooksProcess(settings)
        await webhooks.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
                yield Gateway(app=app, http=http, settings=settings, webhooks=webhooks)
        finally:
            await webhooks.stop()


@pytest.fixture
async def platform(
    gateway: Gateway,
    nats_server_url: str,
    topology: Topology,
    make_database: MakeDatabase,
    service_overrides: dict[str, dict[str, Any]],
) -> AsyncIterator[Platform]:
    """Every service's runtime, started at once as `advocacy run` starts their processes (a
    start waits on nats-server more than it computes). Their databases are made one after the
    other: on PostgreSQL, making them concurrently stalled a session's first template
    migration (seen once under heavy load, not explained; left sequential)."""
    platform = Platform(gateway=gateway, runtimes={}, settings={})
    for name, (settings_type, _) in SERVICES.items():
        platform.settings[name] = settings_type(
            database_url=await make_database(name, f"advocacy_{name}"),
            **{**common_settings(nats_server_url, topology), **service_overrides.get(name, {})},
        )
    try:
        await _all(platform.start(name) for name in SERVICES)
        yield platform
    finally:
        await _all(runtime.stop() for runtime in platform.runtimes.values())


async def _all(steps: Iterable[Awaitable[object]]) -> None:
    """Run `steps` concurrently; the first failure is raised once every step has ended (none is
    left running behind the test)."""
    for outcome in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome
