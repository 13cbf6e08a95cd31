"""Who is calling, and may they? API keys (bearer), the bootstrap admin key, or a browser session
(cookie plus CSRF token). Every endpoint under an organisation declares the permission it needs."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.base import SecurityBase

from advocacy_gateway import ratelimit
from advocacy_gateway.access import Permission, Role, Scope, role_allows, scopes_allow
from advocacy_gateway.models import ApiKey, Organisation
from advocacy_gateway.problems import ProblemError
from advocacy_gateway.repository import (
    ApiKeyRepository,
    OrganisationRepository,
    SessionRepository,
    UserRepository,
)
from advocacy_gateway.security import hash_secret, parse_api_key, same_secret
from advocacy_gateway.state import GatewayState
from advocacy_shared.envelope import utc_now

PLATFORM_ADMIN = "platform.admin"
AUTHENTICATED = "authenticated"
SESSION_COOKIE = "advocacy_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(
    auto_error=False, description="An API key: `Authorization: Bearer adv_<prefix>_<secret>`"
)
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="A browser session from `POST /api/v1/auth/login`; unsafe methods also need "
    f"the `{CSRF_HEADER}` header",
)


@dataclass(frozen=True)
class Principal:
    """The caller: a user (through a session), an API key, or the bootstrap admin key."""

    kind: str  # "user", "api_key" or "bootstrap"
    id: str
    name: str
    is_platform_admin: bool = False
    key_organisation_id: UUID | None = None
    scopes: frozenset[Scope] = frozenset()
    roles: dict[UUID, Role] = field(default_factory=dict)
    ambassadors: dict[UUID, UUID] = field(default_factory=dict)
    """The ambassador record linked to the account, per organisation (self-service)."""

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return f"{self.kind}:{self.id} ({self.name})"

    @property
    def reference(self) -> str:
        """The caller by id alone, for records other services keep (the audit log has names)."""
        return f"{self.kind}:{self.id}"

    def organisations(self) -> list[UUID] | None:
        """The organisations it may see; None for all (platform admins)."""
        if self.is_platform_admin:
            return None
        if self.key_organisation_id is not None:
            return [self.key_organisation_id]
        return list(self.roles)

    def may(self, organisation_id: UUID, permission: Permission) -> bool:
        if self.is_platform_admin:
            return True
        if self.key_organisation_id is not None:
            return self.key_organisation_id == organisation_id and scopes_allow(
                self.scopes, permission
            )
        role = self.roles.get(organisation_id)
        return role is not None and role_allows(role, permission)

    def ambassador_in(self, organisation_id: UUID) -> UUID | None:
        """The caller's own ambassador record in the organisation, once linked."""
        return self.ambassadors.get(organisation_id)

    def only_own_ambassador(self, organisation_id: UUID) -> bool:
        """Whether the caller acts in the organisation as an ambassador: then it may reach only
        its own ambassador record's suggestions, proposals and posts."""
        return self.kind == "user" and self.roles.get(organisation_id) == Role.AMBASSADOR

    def belongs_to(self, organisation_id: UUID) -> bool:
        organisations = self.organisations()
        return organisations is None or organisation_id in organisations


def _unauthenticated(detail: str) -> ProblemError:
    return ProblemError(401, "unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> Principal:
    """The caller, charged to its own rate-limit bucket; a failure is charged to the source."""
    return await _charged(request, credentials.credentials if credentials else None, cookie)


async def caller_of(request: Request) -> Principal:
    """`authenticate` for the permission dependencies, reading the bearer token and the session
    cookie as `HTTPBearer` and `APIKeyCookie` do. Each dependency FastAPI resolves costs a request
    tens of microseconds; the permission dependencies, on every authenticated route, resolve
    none. OpenAPI still names both schemes on those routes (`document_permissions`)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer_token = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    # A bearer token wins over the cookie (`_resolve`): the cookie header is parsed only without.
    cookie = request.cookies.get(SESSION_COOKIE) if bearer_token is None else None
    return await _charged(request, bearer_token, cookie)


async def _charged(request: Request, token: str | None, cookie: str | None) -> Principal:
    try:
        principal = await _resolve(request, token, cookie)
    except ProblemError as exc:
        if exc.status == 401:
            ratelimit.charge_failure(request.scope)
        raise
    ratelimit.charge(request.scope, principal.reference)
    return principal


async def _resolve(request: Request, token: str | None, cookie: str | None) -> Principal:
    state: GatewayState = request.app.state.gateway
    if token is not None:
        return await _from_api_key(state, token)
    if cookie is not None:
        return await _from_session(state, request, cookie)
    raise _unauthenticated("send an API key as `Authorization: Bearer <key>`, or sign in")


async def _from_api_key(state: GatewayState, token: str) -> Principal:
    if hmac.compare_digest(token.encode(), state.admin_api_key.encode()):
        return Principal(
            kind="bootstrap", id="admin", name="bootstrap admin", is_platform_admin=True
        )
    prefix = parse_api_key(token)
    if prefix is not None:
        key = await state.lookups.api_keys.get_or_load(prefix, lambda: _api_key(state, prefix))
        if (
            key is not None
            and same_secret(token, key.secret_hash)
            and key.revoked_at is None
            and (key.expires_at is None or key.expires_at > utc_now())
        ):
            return key.principal
    raise ProblemError(
        401,
        "unauthenticated",
        "the API key is not valid (unknown, revoked or expired)",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


@dataclass(frozen=True, slots=True)
class KeptKey:
    """What a request needs of an API key's row: the fields every request checks (its secret,
    revocation and expiry: checked on each, never kept as a decision) and the caller the key
    stands for, built once when the row is loaded rather than on every request (about 5 µs of
    the gateway's CPU a request, docs/performance.md)."""

    secret_hash: str
    revoked_at: datetime | None
    expires_at: datetime | None
    principal: Principal

    @classmethod
    def of(cls, key: ApiKey) -> KeptKey:
        return cls(
            secret_hash=key.secret_hash,
            revoked_at=key.revoked_at,
            expires_at=key.expires_at,
            principal=Principal(
                kind="api_key",
                id=str(key.id),
                name=key.name,
                key_organisation_id=key.organisation_id,
                scopes=frozenset(Scope(scope) for scope in key.scopes),
            ),
        )


async def _api_key(state: GatewayState, prefix: str) -> KeptKey | None:
    async with state.read_sessions() as session:
        key = await ApiKeyRepository(session).by_prefix(prefix)
    return KeptKey.of(key) if key is not None else None


async def _organisation(state: GatewayState, organisation_id: UUID) -> Organisation | None:
    """The organisation, kept for a few seconds (advocacy_gateway.lookups)."""

    async def load() -> Organisation | None:
        async with state.read_sessions() as session:
            return await OrganisationRepository(session).get(organisation_id)

    return await state.lookups.organisations.get_or_load(organisation_id, load)


async def _from_session(state: GatewayState, request: Request, token: str) -> Principal:
    async with state.read_sessions() as session:
        user_session = await SessionRepository(session).get(hash_secret(token))
        user = await UserRepository(session).get(user_session.user_id) if user_session else None
        memberships = await UserRepository(session).memberships(user.id) if user else []
    if user_session is None or user is None or user.disabled or user_session.expires_at < utc_now():
        raise _unauthenticated("the session has expired: sign in again")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), user_session.csrf_token.encode()):
            raise ProblemError(403, "csrf", f"send the session's CSRF token in {CSRF_HEADER}")
    # An account belongs to one organisation (or, as a platform admin's, to none): a session
    # carries that organisation's role only, whatever rows a migration or a bug left behind.
    return Principal(
        kind="user",
        id=str(user.id),
        name=user.email,
        is_platform_admin=user.is_platform_admin and user.organisation_id is None,
        roles={
            m.organisation_id: Role(m.role)
            for m in memberships
            if m.organisation_id == user.organisation_id
        },
        ambassadors={
            m.organisation_id: m.ambassador_id
            for m in memberships
            if m.organisation_id == user.organisation_id and m.ambassador_id is not None
        },
    )


Caller = Annotated[Principal, Depends(authenticate)]


@dataclass(frozen=True)
class Access:
    """A caller allowed to act in one organisation."""

    principal: Principal
    organisation: Organisation


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Access]]:
    """A dependency: the organisation from the path, and a caller with `permission` in it.

    Another organisation's id is a 404, as an unknown one is: existence does not leak.
    """

    async def dependency(org_id: UUID, request: Request) -> Access:
        caller = await caller_of(request)
        state: GatewayState = request.app.state.gateway
        organisation = None
        if caller.belongs_to(org_id):
            organisation = await _organisation(state, org_id)
        if organisation is None:
            raise ProblemError(404, "unknown-organisation", f"no organisation {org_id}")
        if not caller.may(org_id, permission):
            raise ProblemError(
                403, "forbidden", f"this caller may not {permission.value} in this organisation"
            )
        return Access(principal=caller, organisation=organisation)

    dependency.permission = permission.value  # type: ignore[attr-defined]
    dependency.asks_caller = True  # type: ignore[attr-defined]
    return dependency


OrgReader = Annotated[Access, Depends(require(Permission.ORG_READ))]
MembersReader = Annotated[Access, Depends(require(Permission.MEMBERS_READ))]
MembersManager = Annotated[Access, Depends(require(Permission.MEMBERS_MANAGE))]
ApiKeysManager = Annotated[Access, Depends(require(Permission.API_KEYS_MANAGE))]
AuditReader = Annotated[Access, Depends(require(Permission.AUDIT_READ))]
WebhooksManager = Annotated[Access, Depends(require(Permission.WEBHOOKS_MANAGE))]
PlaybookReader = Annotated[Access, Depends(require(Permission.PLAYBOOK_READ))]
SsoManager = Annotated[Access, Depends(require(Permission.SSO_MANAGE))]
AmbassadorsReader = Annotated[Access, Depends(require(Permission.AMBASSADORS_READ))]
AmbassadorsManager = Annotated[Access, Depends(require(Permission.AMBASSADORS_MANAGE))]
PlannerReader = Annotated[Access, Depends(require(Permission.PLANNER_READ))]
PlannerManager = Annotated[Access, Depends(require(Permission.PLANNER_MANAGE))]
LeadershipReader = Annotated[Access, Depends(require(Permission.PLANNER_LEADERSHIP_READ))]


def require_key_organisation(
    permission: Permission,
) -> Callable[..., Coroutine[Any, Any, Access]]:
    """A dependency for endpoints without an organisation in the path (SCIM): the caller must be
    an organisation's API key with `permission`; the organisation is the key's."""

    async def dependency(request: Request) -> Access:
        caller = await caller_of(request)
        organisation_id = caller.key_organisation_id if caller.kind == "api_key" else None
        if organisation_id is None:
            raise ProblemError(
                403, "forbidden", "only an organisation's API key (hr scope) may do this"
            )
        if not caller.may(organisation_id, permission):
            raise ProblemError(403, "forbidden", f"this API key may not {permission.value}")
        state: GatewayState = request.app.state.gateway
        organisation = await _organisation(state, organisation_id)
        if organisation is None:
            raise _unauthenticated("the API key's organisation no longer exists")
        return Access(principal=caller, organisation=organisation)

    dependency.permission = permission.value  # type: ignore[attr-defined]
    dependency.asks_caller = True  # type: ignore[attr-defined]
    return dependency


RosterManager = Annotated[Access, Depends(require_key_organisation(Permission.ROSTER_MANAGE))]


async def require_platform_admin(request: Request) -> Principal:
    caller = await caller_of(request)
    if not caller.is_platform_admin:
        raise ProblemError(403, "forbidden", "only a platform admin may do this")
    return caller


require_platform_admin.permission = PLATFORM_ADMIN  # type: ignore[attr-defined]
require_platform_admin.asks_caller = True  # type: ignore[attr-defined]


def document_permissions(routers: Iterable[APIRouter]) -> None:
    """Name each operation's required permission in OpenAPI as `x-permission`.

    Read off the dependencies themselves, so the document cannot drift from what is enforced;
    tests/gateway/test_access_matrix.py drives every operation with every role from it.
    """
    for route in (route for router in routers for route in router.routes):
        if isinstance(route, APIRoute):
            permission = _permission_of(route.dependant)
            if permission is not None:
                extra: dict[str, Any] = {"x-permission": permission}
                if not _declares_security(route.dependant):
                    extra["security"] = CALLER_SECURITY
                route.openapi_extra = {**(route.openapi_extra or {}), **extra}


CALLER_SECURITY: list[dict[str, list[str]]] = [
    {bearer.scheme_name: []},
    {session_cookie.scheme_name: []},
]
"""What OpenAPI says of a route that asks who the caller is: an API key, or a session."""


def _declares_security(dependant: Dependant) -> bool:
    return any(
        isinstance(sub.call, SecurityBase) or _declares_security(sub)
        for sub in dependant.dependencies
    )


def _permission_of(dependant: Dependant) -> str | None:
    for sub_dependant in dependant.dependencies:
        permission = getattr(sub_dependant.call, "permission", None)
        if permission is None:
            permission = _permission_of(sub_dependant)
        if permission is not None:
            return str(permission)
    if any(sub.call is authenticate for sub in dependant.dependencies):
        return AUTHENTICATED
    return None


PlatformAdmin = Annotated[Principal, Depends(require_platform_admin)]
