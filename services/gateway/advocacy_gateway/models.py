"""The gateway's tables: it owns organisations (and, later, identity and integration data)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel

from advocacy_shared.db import UtcDateTime, service_registry
from advocacy_shared.envelope import utc_now
from advocacy_shared.messaging_tables import messaging_tables

registry = service_registry()
metadata = registry.metadata


class GatewayModel(SQLModel, registry=registry):
    pass


messaging = messaging_tables(metadata)


class Organisation(GatewayModel, table=True):
    """A customer (tenant). Every record anywhere in the platform belongs to exactly one."""

    __tablename__ = "organisations"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=63, unique=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
