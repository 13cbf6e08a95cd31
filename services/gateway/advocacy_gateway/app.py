"""Wiring of the gateway: the FastAPI application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from advocacy_gateway.api import api, health
from advocacy_gateway.middleware import BodySizeLimitMiddleware, CorrelationIdMiddleware
from advocacy_gateway.problems import install_problem_handlers
from advocacy_gateway.settings import GatewaySettings
from advocacy_gateway.state import GatewayState

DESCRIPTION = """
The API of the employee-advocacy platform. Every organisation's resources live under
`/api/v1/orgs/{org_id}/...`; every error is an RFC 9457 problem (`application/problem+json`).
Authenticate with an API key: `Authorization: Bearer <key>`.
"""


def create_app(settings: GatewaySettings, admin_api_key: str) -> FastAPI:
    state = GatewayState(settings, admin_api_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title="Advocacy platform API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.gateway = state
    install_problem_handlers(app)
    app.include_router(health)
    app.include_router(api)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CorrelationIdMiddleware)
    return app
