"""Signing in and out of the web UI (session cookie plus CSRF token), and platform admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Cookie, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway import service, throttle
from advocacy_gateway.access import Role
from advocacy_gateway.auth import SESSION_COOKIE, Caller, PlatformAdmin
from advocacy_gateway.problems import ProblemError
from advocacy_gateway.ratelimit import source_address
from advocacy_gateway.routes.common import COMMON_PROBLEMS, CONFLICT, Email, IdempotencyKey, State

router = APIRouter(prefix="/api/v1", tags=["users"], responses=COMMON_PROBLEMS)

LOGIN_THROTTLE = throttle.ThrottlePolicy()


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="The organisation's slug (or id) for its members; left out by platform "
        "admins. Accounts belong to one organisation: the same address elsewhere is another "
        "account.",
        examples=["acme"],
    )
    email: Email
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    kind: str = Field(description="user, api_key or bootstrap")
    id: str
    name: str
    is_platform_admin: bool
    roles: dict[UUID, Role] = Field(description="Role per organisation (users)")
    organisation_id: UUID | None = Field(description="The organisation of an API key")
    scopes: list[str] = Field(description="Scopes of an API key")
    ambassador_id: UUID | None = Field(
        default=None,
        description="A user's own ambassador record in their organisation, once linked "
        "(`POST /api/v1/invitation/link`); null otherwise",
    )
    csrf_token: str | None = Field(
        default=None,
        description="A session's CSRF token (for X-CSRF-Token), so that a browser signed in "
        "through single sign-on, or a new tab, can make changes; only this origin can read it",
    )


class SignedIn(BaseModel):
    user_id: UUID
    email: str
    csrf_token: str = Field(
        description="Send it as X-CSRF-Token with every POST, PATCH, PUT and DELETE"
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=12, max_length=256)


class PlatformAdminCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=12, max_length=256)


class UserOut(BaseModel):
    id: UUID
    email: str
    display_name: str
    is_platform_admin: bool


@router.post(
    "/auth/login",
    summary="Sign in with email and password; sets the session cookie",
    responses={429: COMMON_PROBLEMS[429]},
)
async def log_in(body: Login, request: Request, state: State, response: Response) -> SignedIn:
    lifetime = timedelta(hours=state.settings.session_hours)
    source = source_address(request.scope, state.settings.trusted_proxies)
    keys = throttle.LoginKeys.of(body.organisation, body.email, source)
    try:
        async with state.transaction() as session:
            await throttle.begin_attempt(session, LOGIN_THROTTLE, keys)
            account = await service.account_for_login(session, body.organisation, body.email)
    except throttle.Throttled as exc:
        raise ProblemError(
            429,
            "login-throttled",
            "too many failed sign-ins: wait before trying again",
            headers={"Retry-After": str(exc.retry_after_seconds)},
        ) from exc
    try:
        user = await service.check_password(account, body.password)  # off the event loop
    except service.LoginFailed as exc:
        async with state.transaction() as session:
            await throttle.failed(session, state.outbox, LOGIN_THROTTLE, keys, account)
        raise ProblemError(401, "login-failed", "wrong email or password") from exc
    rehashed = await service.rehashed_if_outdated(user, body.password)  # off the event loop
    async with state.transaction() as session:
        await throttle.succeeded(session, LOGIN_THROTTLE, keys)
        if rehashed is not None:
            await service.store_rehashed_password(session, user, rehashed)
        token, user_session = await service.open_session(session, user, lifetime)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        secure=state.settings.secure_cookies,
        samesite="strict",
        path="/",
    )
    return SignedIn(user_id=user.id, email=user.email, csrf_token=user_session.csrf_token)


@router.post("/auth/logout", status_code=204, summary="End this browser's session")
async def log_out(
    caller: Caller,
    state: State,
    token: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> Response:
    if token is not None:
        async with state.transaction() as session:
            await service.log_out(session, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post(
    "/auth/password",
    status_code=204,
    summary="Change your password; every other session of yours ends",
)
async def change_password(
    body: PasswordChange,
    caller: Caller,
    state: State,
    token: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> Response:
    if caller.kind != "user":
        raise ProblemError(403, "forbidden", "only a signed-in user has a password to change")
    try:
        async with state.transaction() as session:
            await service.change_password(
                session, UUID(caller.id), body.current_password, body.new_password, token
            )
    except service.LoginFailed as exc:
        raise ProblemError(403, "wrong-password", "the current password is not right") from exc
    return Response(status_code=204)


@router.get("/auth/me", summary="Who the credentials belong to, and what they may do")
async def me(
    caller: Caller,
    state: State,
    response: Response,
    token: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> Me:
    csrf_token = None
    if caller.kind == "user" and token is not None:
        async with state.read_sessions() as session:
            csrf_token = await service.csrf_token_of(session, token)
        response.headers["Cache-Control"] = "no-store"
    return Me(
        kind=caller.kind,
        id=caller.id,
        name=caller.name,
        is_platform_admin=caller.is_platform_admin,
        roles=caller.roles,
        organisation_id=caller.key_organisation_id,
        scopes=sorted(caller.scopes),
        csrf_token=csrf_token,
        ambassador_id=next(iter(caller.ambassadors.values()), None),
    )


@router.post(
    "/platform-admins",
    status_code=201,
    summary="Create a user who administers every organisation (platform admins)",
    responses=CONFLICT,
)
async def create_platform_admin(
    body: PlatformAdminCreate,
    caller: PlatformAdmin,
    state: State,
    _idempotency_key: IdempotencyKey = None,
) -> UserOut:
    async with state.transaction() as session:
        user = await service.create_platform_admin(
            session, body.email, body.display_name, body.password
        )
    return UserOut.model_validate(user, from_attributes=True)
