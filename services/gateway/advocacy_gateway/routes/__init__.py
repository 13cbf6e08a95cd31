"""The REST API, one module per resource; `ROUTERS` is what the app includes."""

from __future__ import annotations

from advocacy_gateway.routes import (
    ambassadors,
    api_keys,
    audit,
    health,
    linkedin,
    members,
    organisations,
    planner,
    sso,
    users,
    webhooks,
)

ROUTERS = [
    health.router,
    users.router,
    sso.router,
    organisations.router,
    members.router,
    api_keys.router,
    audit.router,
    planner.router,
    ambassadors.router,
    linkedin.router,
    linkedin.callback_router,
    webhooks.router,
]
