"""Wiring of the gateway: the FastAPI application and its lifespan."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from starlette.routing import BaseRoute, Mount, Route

from advocacy_gateway.auth import document_permissions
from advocacy_gateway.idempotency import IdempotencyMiddleware
from advocacy_gateway.middleware import (
    EdgeMiddleware,
)
from advocacy_gateway.problems import install_problem_handlers
from advocacy_gateway.ratelimit import RateLimitMiddleware, charge_route
from advocacy_gateway.routes import ROUTERS
from advocacy_gateway.routes.fast_lane import lanes_of, with_fast_lane
from advocacy_gateway.settings import GatewaySettings
from advocacy_gateway.state import GatewayState
from advocacy_shared import tracing
from advocacy_shared.heap import freeze_start_up

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

DESCRIPTION = """
The API of the employee-advocacy platform. Every organisation's resources live under
`/api/v1/orgs/{org_id}/...`; every error is an RFC 9457 problem (`application/problem+json`).

Authenticate with an API key (`Authorization: Bearer <key>`) or, in a browser, with the session
cookie from `POST /api/v1/auth/login` plus its CSRF token in `X-CSRF-Token` on unsafe methods.
Creating POSTs accept an `Idempotency-Key`. Lists are cursor-paginated (`limit`, `cursor`,
`next_cursor`). Requests are rate-limited per credential (`429` with `Retry-After`).
"""


def create_app(settings: GatewaySettings, admin_api_key: str) -> FastAPI:
    state = GatewayState(settings, admin_api_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        freeze_start_up()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title="Advocacy platform API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(charge_route)],
        # FastAPI's native OpenTelemetry support serves the traces `advocacy_shared.tracing` sets
        # up; without them it would still look for a configured provider on every request.
        telemetry=None if tracing.active else NO_TELEMETRY,
    )
    app.state.gateway = state
    install_problem_handlers(app)
    app.router.routes.extend(included_routes())
    # The last added runs first: metrics and traces, correlation id, size limit, rate limit,
    # then idempotency.
    app.add_middleware(
        IdempotencyMiddleware,
        ttl=timedelta(hours=settings.idempotency_hours),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    app.add_middleware(RateLimitMiddleware, limiter=state.rate_limiter)
    app.add_middleware(EdgeMiddleware, max_bytes=settings.max_body_bytes)
    # Plain forwarding reads and writes skip the middleware, FastAPI's route matching and its
    # dependency resolution: the lane does for them what those would (routes/fast_lane.py).
    every_route = [
        *(route for route in app.router.routes if isinstance(route, APIRoute | Route | Mount)),
        *(route for router in ROUTERS for route in router.routes),
    ]
    app.middleware_stack = with_fast_lane(
        app.build_middleware_stack(),
        lanes_of(every_route, app.router.dependencies),
        state.rate_limiter,
        settings.max_body_bytes,
    )
    return app


@functools.cache
def included_routes() -> tuple[BaseRoute, ...]:
    """`ROUTERS` as `FastAPI.include_router` includes them, made once a process and shared by
    every app made in it, with the route state FastAPI derives from them already built.

    FastAPI derives an included route's state (its dependencies, each parameter's validating
    model) at the first request an app serves, for every route at once: 250-350 ms of CPU that the
    first caller of each app waited for, and that every test's gateway paid again (the suite
    spent 49-75 s less CPU of 419-445 s without it). Nothing derived belongs to one app: the
    app's own dependency (`charge_route`) is given here, state is read from `request.app` at
    request time, and the gateway overrides no dependency (the one thing a route would look up
    on this template app)."""
    document_permissions(ROUTERS)
    template = FastAPI(dependencies=[Depends(charge_route)])
    own = len(template.router.routes)  # its documentation routes: each app has its own
    for router in ROUTERS:
        template.include_router(router)
    routes = tuple(template.router.routes[own:])
    warm_up: dict[str, object] = {"type": "http", "method": "GET", "path": "/", "root_path": ""}
    for route in routes:
        route.matches(dict(warm_up))
    return routes
