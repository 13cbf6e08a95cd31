"""Organisations (tenants)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from advocacy_gateway import service
from advocacy_gateway.auth import Caller, OrgReader, PlatformAdmin
from advocacy_gateway.models import Organisation
from advocacy_gateway.repository import OrganisationRepository
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
from advocacy_shared.contracts.errors import Conflict

router = APIRouter(prefix="/api/v1/orgs", tags=["organisations"], responses=COMMON_PROBLEMS)


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Acme A/S"])
    slug: str | None = Field(
        default=None,
        pattern=service.SLUG_PATTERN,
        description="URL-friendly identifier; derived from the name when left out",
        examples=["acme"],
    )


class OrganisationOut(BaseModel):
    id: UUID
    name: str
    slug: str
    created_at: datetime

    @classmethod
    def of(cls, organisation: Organisation) -> OrganisationOut:
        return cls.model_validate(organisation, from_attributes=True)


@router.post(
    "",
    status_code=201,
    summary="Create an organisation (platform admins); every service provisions it from the event",
    responses=CONFLICT,
)
async def create_organisation(
    body: OrganisationCreate,
    caller: PlatformAdmin,
    state: State,
    response: Response,
    _idempotency_key: IdempotencyKey = None,
) -> OrganisationOut:
    try:
        async with state.transaction() as session:
            organisation = await service.create_organisation(
                session, state.outbox, caller.actor, body.name, body.slug
            )
    except IntegrityError as exc:
        raise Conflict("an organisation with that slug exists already") from exc
    response.headers["Location"] = f"/api/v1/orgs/{organisation.id}"
    return OrganisationOut.of(organisation)


@router.get("", summary="The organisations the caller may see (all, for platform admins)")
async def list_organisations(
    caller: Caller, state: State, limit: Limit = 50, cursor: CursorParam = None
) -> Page[OrganisationOut]:
    async with state.sessions() as session:
        organisations = await OrganisationRepository(session).page(
            limit + 1, decode_cursor(cursor), only=caller.organisations()
        )
    return page_of(organisations, limit, OrganisationOut.of, lambda row: (row.created_at, row.id))


@router.get("/{org_id}", summary="One organisation")
async def get_organisation(access: OrgReader) -> OrganisationOut:
    return OrganisationOut.of(access.organisation)
