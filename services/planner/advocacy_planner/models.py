"""The planner's tables, in its own metadata."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from advocacy_shared.db import UtcDateTime, service_registry
from advocacy_shared.envelope import utc_now
from advocacy_shared.messaging_tables import messaging_tables
from advocacy_shared.tenancy import tenant_table

registry = service_registry()
metadata = registry.metadata


class PlannerModel(SQLModel, registry=registry):
    pass


tenants = tenant_table(metadata)
messaging = messaging_tables(metadata)


class PlaybookEntry(PlannerModel, table=True):
    """One row of an organisation's prioritisation matrix (challenge to enablement format)."""

    __tablename__ = "playbook_entries"
    __table_args__ = (UniqueConstraint("organisation_id", "version", "position"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    version: int = Field(ge=1)
    position: int = Field(ge=1)
    challenge: str = Field(max_length=200)
    discipline: str = Field(max_length=200)
    colleagues: str = Field(max_length=200)
    content: str = Field(max_length=500)
    enablement_format: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
