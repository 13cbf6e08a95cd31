"""Who is calling. For now the bootstrap admin API key, sent as a bearer token."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from advocacy_gateway.problems import ProblemError

bearer = HTTPBearer(
    auto_error=False, description="An API key, sent as `Authorization: Bearer <key>`"
)


@dataclass(frozen=True)
class Principal:
    name: str
    is_platform_admin: bool


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise ProblemError(
            401,
            "unauthenticated",
            "send an API key as `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    admin_key: str = request.app.state.gateway.admin_api_key
    if not hmac.compare_digest(credentials.credentials.encode(), admin_key.encode()):
        raise ProblemError(
            401,
            "unauthenticated",
            "the API key is not valid",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return Principal(name="bootstrap-admin", is_platform_admin=True)


Caller = Annotated[Principal, Depends(authenticate)]
