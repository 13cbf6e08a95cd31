"""The content service's tables, in its own metadata."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Index, Text, UniqueConstraint
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


# --- The library ---------------------------------------------------------------------------------


class ContentItemRecord(ContentModel, table=True):
    """One library item; its status moves draft → in review → approved → retired."""

    __tablename__ = "content_items"
    __table_args__ = (Index("ix_content_items_org_status", "organisation_id", "status"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    title: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    link: str | None = Field(default=None, max_length=2000)
    kind: str = Field(max_length=30)
    disciplines: list[str] = Field(sa_type=JSON)
    topics: list[str] = Field(sa_type=JSON)
    language: str = Field(max_length=35)
    segments: list[str] = Field(sa_type=JSON)
    publish_from: datetime | None = Field(default=None, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = Field(max_length=20)
    proposed_by_ambassador: UUID | None = None
    revision: int = 1
    created_by: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    approved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ItemHistoryRecord(ContentModel, table=True):
    """The kept history of an item: every step, who took it and the item as it then was."""

    __tablename__ = "content_item_history"
    __table_args__ = (UniqueConstraint("item_id", "number"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    item_id: UUID = Field(foreign_key="content_items.id", index=True)
    number: int
    action: str = Field(max_length=20)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    actor: str = Field(max_length=300)
    note: str | None = Field(default=None, sa_type=Text)
    revision: int
    snapshot: dict[str, Any] = Field(sa_type=JSON)
    at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ComplianceRulesRecord(ContentModel, table=True):
    """An organisation's compliance rules (one row; `version` rises with each change)."""

    __tablename__ = "compliance_rules"

    organisation_id: UUID = Field(primary_key=True)
    required_disclosure: str | None = Field(default=None, max_length=200)
    blocked_phrases: list[str] = Field(sa_type=JSON)
    allowed_link_domains: list[str] = Field(sa_type=JSON)
    version: int = 1
    updated_by: str = Field(max_length=300)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


# --- Copies of other services' facts (from their events) ----------------------------------------


class AmbassadorCopy(ContentModel, table=True):
    """What the ranking reads of an ambassador, from the ambassadors service's events."""

    __tablename__ = "ambassador_copies"

    ambassador_id: UUID = Field(primary_key=True)
    organisation_id: UUID = Field(index=True)
    program_id: UUID | None = None
    leadership: bool = False
    segments: list[str] = Field(sa_type=JSON)
    topics: list[str] = Field(sa_type=JSON)
    languages: list[str] = Field(sa_type=JSON)
    posts_per_week: float = 1.0
    consent: bool = True
    activity: str = Field(default="active", max_length=20, description="active, quiet or left")
    version: int | None = Field(default=None, description="Of the newest ambassador fact applied")
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class Departure(ContentModel, table=True):
    """A tombstone: this ambassador left the organisation or was erased; older facts about them
    are ignored. The id is kept only as its SHA-256."""

    __tablename__ = "departures"

    organisation_id: UUID = Field(primary_key=True)
    entity_hash: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=40)
    departed_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class DisciplineCopy(ContentModel, table=True):
    """A discipline of the latest playbook, from the planner's `DisciplinePublished`."""

    __tablename__ = "discipline_copies"

    organisation_id: UUID = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=60)
    challenge: str = Field(max_length=200)
    segments: list[str] = Field(sa_type=JSON)
    angle_prompts: list[str] = Field(sa_type=JSON)
    retired: bool = False
    playbook_version: int


class ProgramCopy(ContentModel, table=True):
    """A program's objectives, highest priority first, from `ProgramObjectivesSet`."""

    __tablename__ = "program_copies"

    program_id: UUID = Field(primary_key=True)
    organisation_id: UUID = Field(index=True)
    objectives: list[str] = Field(sa_type=JSON)
    disciplines: list[str] = Field(sa_type=JSON)


class EngagementRecord(ContentModel, table=True):
    """The latest engagement of one post, from `PostEngagementMeasured`; the segments are the
    author's when it was measured (what engaged for similar ambassadors)."""

    __tablename__ = "post_engagements"
    __table_args__ = (Index("ix_post_engagements_org_item", "organisation_id", "item_id"),)

    post_id: UUID = Field(primary_key=True)
    organisation_id: UUID
    ambassador_id: UUID = Field(index=True)
    item_id: UUID | None = None
    segments: list[str] = Field(sa_type=JSON)
    impressions: int
    engagement_rate: float
    observed_at: datetime = Field(sa_type=UtcDateTime)


# --- Suggestions ---------------------------------------------------------------------------------


class SuggestionRecord(ContentModel, table=True):
    """One suggestion of one day for one ambassador, with its explanation; kept so it can be
    accepted later (the posting side reads it by organisation and id)."""

    __tablename__ = "suggestions"
    __table_args__ = (
        UniqueConstraint("organisation_id", "ambassador_id", "day", "item_id"),
        Index("ix_suggestions_org_day_item", "organisation_id", "day", "item_id"),
        Index("ix_suggestions_org_ambassador_day", "organisation_id", "ambassador_id", "day"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID
    ambassador_id: UUID
    item_id: UUID = Field(foreign_key="content_items.id")
    day: date
    rank: int
    score: float
    discipline: str | None = Field(default=None, max_length=60)
    angle_prompt: str = Field(max_length=300)
    leadership_prompt: str | None = Field(default=None, max_length=300)
    nudge: bool = False
    summary: str = Field(sa_type=Text)
    signals: list[dict[str, Any]] = Field(sa_type=JSON)
    status: str = Field(default="open", max_length=20)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class SuggestionDayRecord(ContentModel, table=True):
    """One organisation's day of suggestions. Its row is locked while a list of that day is
    made, so that colleagues' lists are made one after another and the daily cap (an item to
    at most a quarter of the cohort) counts every list before it. The daily run leases it
    (`lease_until`) so that one replica prepares the day, and marks it `prepared_at`."""

    __tablename__ = "suggestion_days"

    organisation_id: UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    prepared_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


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
