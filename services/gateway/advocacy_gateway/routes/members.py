"""People and their roles in an organisation."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway import service
from advocacy_gateway.access import Role
from advocacy_gateway.auth import MembersManager, MembersReader
from advocacy_gateway.models import Membership, User
from advocacy_gateway.repository import MembershipRepository
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CONFLICT,
    CursorParam,
    Email,
    IdempotencyKey,
    Limit,
    Page,
    State,
    decode_cursor,
    page_of,
)

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}/members", tags=["members"], responses=COMMON_PROBLEMS
)


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str | None = Field(
        default=None,
        min_length=12,
        max_length=256,
        description="For a new user who signs in with a password; leave out for single sign-on",
    )


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class MemberOut(BaseModel):
    user_id: UUID
    email: str
    display_name: str
    role: Role
    since: datetime

    @classmethod
    def of(cls, membership: Membership, user: User) -> MemberOut:
        return cls(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=Role(membership.role),
            since=membership.created_at,
        )


@router.post("", status_code=201, summary="Give a person a role here", responses=CONFLICT)
async def add_member(
    body: MemberCreate,
    access: MembersManager,
    state: State,
    response: Response,
    _idempotency_key: IdempotencyKey = None,
) -> MemberOut:
    async with state.transaction() as session:
        membership, user = await service.add_member(
            session,
            access.organisation.id,
            access.principal.actor,
            body.email,
            body.display_name,
            body.role,
            body.password,
        )
    response.headers["Location"] = f"/api/v1/orgs/{access.organisation.id}/members/{user.id}"
    return MemberOut.of(membership, user)


@router.get("", summary="The organisation's members")
async def list_members(
    access: MembersReader, state: State, limit: Limit = 50, cursor: CursorParam = None
) -> Page[MemberOut]:
    async with state.sessions() as session:
        rows = await MembershipRepository(session, access.organisation.id).page(
            limit + 1, decode_cursor(cursor)
        )
    return page_of(
        rows,
        limit,
        lambda row: MemberOut.of(*row),
        lambda row: (row[0].created_at, row[0].user_id),
    )


@router.patch("/{user_id}", summary="Change a member's role", responses=CONFLICT)
async def change_role(
    user_id: UUID, body: MemberUpdate, access: MembersManager, state: State
) -> MemberOut:
    async with state.transaction() as session:
        membership, user = await service.change_role(
            session, access.organisation.id, access.principal.actor, user_id, body.role
        )
    return MemberOut.of(membership, user)


@router.delete(
    "/{user_id}", status_code=204, summary="Take a person's role away", responses=CONFLICT
)
async def remove_member(user_id: UUID, access: MembersManager, state: State) -> Response:
    async with state.transaction() as session:
        await service.remove_member(
            session, access.organisation.id, access.principal.actor, user_id
        )
    return Response(status_code=204)
