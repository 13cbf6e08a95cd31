"""Signing in and out of the web UI (session cookie plus CSRF token), and platform admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Cookie, Response
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway import service
from advocacy_gateway.access import Role
from advocacy_gateway.auth import SESSION_COOKIE, Caller, PlatformAdmin
from advocacy_gateway.problems import ProblemError
from advocacy_gateway.routes.common import COMMON_PROBLEMS, CONFLICT, Email, IdempotencyKey, State

router = APIRouter(prefix="/api/v1", tags=["users"], responses=COMMON_PROBLEMS)


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


@router.post("/auth/login", summary="Sign in with email and password; sets the session cookie")
async def log_in(body: Login, state: State, response: Response) -> SignedIn:
    lifetime = timedelta(hours=state.settings.session_hours)
    try:
        async with state.transaction() as session:
            user, token, user_session = await service.log_in(
                session, body.email, body.password, lifetime
            )
    except service.LoginFailed as exc:
        raise ProblemError(401, "login-failed", "wrong email or password") from exc
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
async def me(caller: Caller) -> Me:
    return Me(
        kind=caller.kind,
        id=caller.id,
        name=caller.name,
        is_platform_admin=caller.is_platform_admin,
        roles=caller.roles,
        organisation_id=caller.key_organisation_id,
        scopes=sorted(caller.scopes),
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
