"""The REST API, one module per resource; `ROUTERS` is what the app includes."""

from __future__ import annotations

from advocacy_gateway.routes import (
    admin,
    ambassadors,
    api_keys,
    audit,
    health,
    invitations,
    linkedin,
    members,
    organisations,
    planner,
    scim,
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
    invitations.router,
    invitations.employee_router,
    invitations.page_router,
    linkedin.router,
    linkedin.callback_router,
    webhooks.router,
    scim.router,
    admin.router,
]
