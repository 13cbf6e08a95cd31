"""The REST API, one module per resource; `ROUTERS` is what the app includes."""

from __future__ import annotations

from advocacy_gateway.routes import (
    ambassadors,
    api_keys,
    audit,
    content,
    health,
    invitations,
    linkedin,
    members,
    organisations,
    planner,
    posts,
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
    content.router,
    invitations.router,
    invitations.employee_router,
    invitations.page_router,
    linkedin.router,
    linkedin.callback_router,
    posts.ambassador_router,
    posts.router,
    webhooks.router,
    scim.router,
]
