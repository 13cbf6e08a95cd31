"""The REST API, one module per resource; `ROUTERS` is what the app includes."""

from __future__ import annotations

from advocacy_gateway.routes import (
    admin,
    ambassadors,
    api_keys,
    audit,
    content,
    health,
    invitations,
    linkedin,
    members,
    metrics,
    organisations,
    planner,
    posts,
    scim,
    scim_groups,
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
    metrics.router,
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
    scim_groups.router,
    admin.router,
]
