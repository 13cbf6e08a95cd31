"""The audit log of administrative actions, for organisation admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from advocacy_gateway.auth import AuditReader
from advocacy_gateway.models import AuditEntry
from advocacy_gateway.repository import AuditRepository
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CursorParam,
    Limit,
    Page,
    State,
    decode_cursor,
    page_of,
)

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}/audit-log", tags=["audit"], responses=COMMON_PROBLEMS
)


class AuditEntryOut(BaseModel):
    id: UUID
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls.model_validate(entry, from_attributes=True)


@router.get("", summary="Who did what, when: oldest first")
async def audit_log(
    access: AuditReader, state: State, limit: Limit = 50, cursor: CursorParam = None
) -> Page[AuditEntryOut]:
    async with state.sessions() as session:
        entries = await AuditRepository(session).page(
            access.organisation.id, limit + 1, decode_cursor(cursor)
        )
    return page_of(entries, limit, AuditEntryOut.of, lambda row: (row.at, row.id))
