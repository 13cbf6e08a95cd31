"""The content service's tables, in its own metadata."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from advocacy_shared.db import UtcDateTime, service_registry
from advocacy_shared.envelope import utc_now
from advocacy_shared.messaging_tables import messaging_tables
from advocacy_shared.tenancy import tenant_table

registry = service_registry()
metadata = registry.metadata


class ContentModel(SQLModel, registry=registry):
    pass


tenants = tenant_table(metadata)
messaging = messaging_tables(metadata)


# --- Posts (docs/posting.md) ---------------------------------------------------------------------


class PostRecord(ContentModel, table=True):
    """A post an ambassador publishes on LinkedIn: written, scheduled, then posted by the service
    (`path` api) or by the ambassador through a share link (`path` manual)."""

    __tablename__ = "posts"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    ambassador_id: UUID = Field(index=True)
    program_id: UUID | None = None
    content_item_id: UUID | None = None
    suggestion_id: UUID | None = None
    discipline: str | None = Field(default=None, max_length=60)
    leadership: bool = False
    language: str | None = Field(default=None, max_length=35)
    topics: list[str] = Field(default_factory=list, sa_type=JSON)
    text: str = Field(sa_type=Text)
    path: str = Field(max_length=10, description="api | manual")
    state: str = Field(max_length=20, index=True)
    scheduled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    next_attempt_at: datetime | None = Field(
        default=None, sa_type=UtcDateTime, index=True, description="When the publisher looks next"
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    failure: str | None = Field(default=None, max_length=40)
    cancel_reason: str | None = Field(default=None, max_length=40)
    linkedin_post_urn: str | None = Field(default=None, max_length=200)
    post_url: str | None = Field(default=None, max_length=2000)
    reminded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class PostAttemptRecord(ContentModel, table=True):
    """One call to LinkedIn's Posts API for a post, recorded (`pending`) and committed before the
    call: the marker by which a restarted publisher knows an attempt is in doubt."""

    __tablename__ = "post_attempts"
    __table_args__ = (UniqueConstraint("post_id", "number"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    post_id: UUID = Field(index=True)
    ambassador_id: UUID = Field(index=True)
    number: int
    started_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    outcome: str = Field(
        max_length=20,
        description="pending | created | duplicate | found | throttled | refused | "
        "token_rejected | not_sent | unknown | dismissed (unknown, then a person checked)",
    )
    linkedin_post_urn: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=500)
