"""Integration API keys: created with scopes, shown once, rotated with an overlap, revoked."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from advocacy_gateway import service
from advocacy_gateway.access import Scope
from advocacy_gateway.auth import ApiKeysManager
from advocacy_gateway.models import ApiKey
from advocacy_gateway.repository import ApiKeyRepository
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CONFLICT,
    CursorParam,
    IdempotencyKey,
    Limit,
    Page,
    State,
    decode_cursor,
    page_of,
)
from advocacy_shared.envelope import utc_now

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}/api-keys", tags=["api keys"], responses=COMMON_PROBLEMS
)


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["HR system (Workday)"])
    scopes: list[Scope] = Field(min_length=1, examples=[["hr"]])
    expires_at: AwareDatetime | None = Field(
        default=None, description="Never expires when left out (a time with its UTC offset)"
    )


class ApiKeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(
        default=3600,
        ge=0,
        le=30 * 24 * 3600,
        description="How long the old key keeps working, so the integration can switch",
    )


class ApiKeyOut(BaseModel):
    id: UUID
    name: str
    scopes: list[Scope]
    prefix: str = Field(description="Identifies the key in logs and lists; not a secret")
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_from: UUID | None
    active: bool

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        now = utc_now()
        return cls(
            id=key.id,
            name=key.name,
            scopes=[Scope(s) for s in key.scopes],
            prefix=key.prefix,
            created_at=key.created_at,
            created_by=key.created_by,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            rotated_from=key.rotated_from,
            active=key.revoked_at is None and (key.expires_at is None or key.expires_at > now),
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, store it now")


@router.post("", status_code=201, summary="Create a key; the response holds it, once")
async def create_api_key(
    body: ApiKeyCreate,
    access: ApiKeysManager,
    state: State,
    response: Response,
    _idempotency_key: IdempotencyKey = None,
) -> ApiKeyCreated:
    async with state.transaction() as session:
        key, secret = await service.create_api_key(
            session,
            access.organisation.id,
            access.principal.actor,
            body.name,
            body.scopes,
            body.expires_at,
        )
    response.headers["Location"] = f"/api/v1/orgs/{access.organisation.id}/api-keys/{key.id}"
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), key=secret)


@router.get("", summary="The organisation's keys (never the secrets)")
async def list_api_keys(
    access: ApiKeysManager, state: State, limit: Limit = 50, cursor: CursorParam = None
) -> Page[ApiKeyOut]:
    async with state.sessions() as session:
        keys = await ApiKeyRepository(session).page(
            access.organisation.id, limit + 1, decode_cursor(cursor)
        )
    return page_of(keys, limit, ApiKeyOut.of, lambda row: (row.created_at, row.id))


@router.post(
    "/{key_id}/rotate",
    status_code=201,
    summary="Replace a key: a new one now (same expiry), the old one retired after the overlap",
    responses=CONFLICT,
)
async def rotate_api_key(
    key_id: UUID,
    access: ApiKeysManager,
    state: State,
    response: Response,
    body: ApiKeyRotate | None = None,
    _idempotency_key: IdempotencyKey = None,
) -> ApiKeyCreated:
    overlap = timedelta(seconds=(body or ApiKeyRotate()).overlap_seconds)
    async with state.transaction() as session:
        key, secret = await service.rotate_api_key(
            session, access.organisation.id, access.principal.actor, key_id, overlap
        )
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), key=secret)


@router.delete("/{key_id}", status_code=204, summary="Revoke a key at once")
async def revoke_api_key(key_id: UUID, access: ApiKeysManager, state: State) -> Response:
    async with state.transaction() as session:
        await service.revoke_api_key(
            session, access.organisation.id, access.principal.actor, key_id
        )
    return Response(status_code=204)
