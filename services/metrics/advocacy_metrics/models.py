"""The metrics service's tables, in its own metadata.

Plain Core tables: snapshots arrive by the thousand a second and are written in bulk statements.

- `posts`: the posts to measure, from `PostPublished` (`withdrawn_at` from `PostWithdrawn`).
- `company_posts`: company-page posts, known from their first baseline snapshot.
- `snapshots` / `company_snapshots`: every observation, once per (post, observed_at, source).
- `post_latest` / `company_latest`: each post's newest observation (a lower count is kept).
- `post_daily`: each post's last observation of each UTC day, what the rollups carry forward.
- `daily_rollups`: per day and dimension (ambassador, program, discipline, segment, track) the
  sum of the latest values of the posts published up to that day; `rollup_dirty` marks the
  (organisation, day) from which they must be recomputed, one row per writing connection's slot
  (`MARK_SLOTS`), so that two concurrent writers of one day do not wait on each other's mark.
- `ambassadors`: enrolment, track and segments from the ambassadors service's events, with the
  momentum state this service last announced.
- `programs`: each program's current phase, from the planner's events.
- `emv_rates`: earned media value rates per organisation and currency.
- `momentum_drops`: the (program, week) whose drop was announced, so it is announced once.
- `bi_keys`: each organisation's key for the ambassadors' pseudonyms in the BI export.

`changed_at` (posts, latest and daily values, rollups) is when a row was last written: the BI
export's incremental cursor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
)
from sqlmodel import SQLModel

from advocacy_shared.db import UtcDateTime, service_registry
from advocacy_shared.messaging_tables import messaging_tables
from advocacy_shared.tenancy import tenant_table

registry = service_registry()
metadata: MetaData = registry.metadata


class MetricsModel(SQLModel, registry=registry):
    pass


tenants = tenant_table(metadata)
messaging = messaging_tables(metadata)


def _counts() -> list[Column[int]]:
    return [
        Column("impressions", BigInteger, nullable=False),
        Column("members_reached", BigInteger, nullable=True),
        Column("reactions", BigInteger, nullable=False),
        Column("comments", BigInteger, nullable=False),
        Column("reshares", BigInteger, nullable=False),
        Column("clicks", BigInteger, nullable=True),
    ]


def _changed_at() -> Column[datetime]:
    """When the row was last written: the BI export's incremental cursor (`since`)."""
    return Column("changed_at", UtcDateTime, nullable=True)


posts = Table(
    "posts",
    metadata,
    Column("post_id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, nullable=False),
    Column("ambassador_id", Uuid, nullable=False),
    Column("program_id", Uuid, nullable=True),
    Column("content_item_id", Uuid, nullable=True),
    Column("discipline", String(60), nullable=True),
    Column("leadership", Boolean, nullable=False),
    Column("linkedin_post_urn", String(200), nullable=True),
    Column("source", String(20), nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
    Column("withdrawn_at", UtcDateTime, nullable=True),
    Column("withdrawn_reason", String(20), nullable=True),
    # The latest observation last announced as `PostEngagementMeasured` (None: never).
    Column("engagement_announced_at", UtcDateTime, nullable=True),
    _changed_at(),
    Index("ix_posts_org_published", "organisation_id", "published_at"),
    Index("ix_posts_org_ambassador", "organisation_id", "ambassador_id"),
)

company_posts = Table(
    "company_posts",
    metadata,
    Column("organisation_id", Uuid, nullable=False),
    Column("post_urn", String(200), nullable=False),
    Column("program_id", Uuid, nullable=True),
    Column("content_item_id", Uuid, nullable=True),
    Column("published_at", UtcDateTime, nullable=True),
    Column("first_observed_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("organisation_id", "post_urn", name="pk_company_posts"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("post_id", Uuid, nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("source", String(60), nullable=False),
    Column("organisation_id", Uuid, nullable=False),
    *_counts(),
    PrimaryKeyConstraint("post_id", "observed_at", "source", name="pk_snapshots"),
)

company_snapshots = Table(
    "company_snapshots",
    metadata,
    Column("organisation_id", Uuid, nullable=False),
    Column("post_urn", String(200), nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("source", String(60), nullable=False),
    *_counts(),
    PrimaryKeyConstraint(
        "organisation_id", "post_urn", "observed_at", "source", name="pk_company_snapshots"
    ),
)

post_latest = Table(
    "post_latest",
    metadata,
    Column("post_id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("source", String(60), nullable=False),
    *_counts(),
    _changed_at(),
)

company_latest = Table(
    "company_latest",
    metadata,
    Column("organisation_id", Uuid, nullable=False),
    Column("post_urn", String(200), nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("source", String(60), nullable=False),
    *_counts(),
    PrimaryKeyConstraint("organisation_id", "post_urn", name="pk_company_latest"),
)

post_daily = Table(
    "post_daily",
    metadata,
    Column("post_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("organisation_id", Uuid, nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    *_counts(),
    _changed_at(),
    PrimaryKeyConstraint("post_id", "day", name="pk_post_daily"),
    Index("ix_post_daily_org_day", "organisation_id", "day"),
    Index("ix_post_daily_org_changed", "organisation_id", "changed_at"),
)

daily_rollups = Table(
    "daily_rollups",
    metadata,
    Column("organisation_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("track", String(20), nullable=False),
    Column("dimension", String(20), nullable=False),
    Column("key", String(80), nullable=False),
    Column("posts", Integer, nullable=False),
    Column("impressions", BigInteger, nullable=False),
    Column("reach", BigInteger, nullable=False),
    Column("reactions", BigInteger, nullable=False),
    Column("comments", BigInteger, nullable=False),
    Column("reshares", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
    _changed_at(),
    PrimaryKeyConstraint(
        "organisation_id", "track", "dimension", "day", "key", name="pk_daily_rollups"
    ),
    Index("ix_daily_rollups_org_changed", "organisation_id", "changed_at"),
)

rollup_dirty = Table(
    "rollup_dirty",
    metadata,
    Column("organisation_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column(
        "slot",
        Integer,
        nullable=False,
        server_default="0",
        comment="the marking connection's backend pid modulo MARK_SLOTS (0 on SQLite)",
    ),
    PrimaryKeyConstraint("organisation_id", "day", "slot", name="pk_rollup_dirty"),
)
MARK_SLOTS = 64
"""How many marks one (organisation, day) may have at once: a writer marks the slot of its
database connection (`pg_backend_pid()` modulo this), so concurrent writers, each on its own
connection, mostly lock marks of their own (two that share a slot wait as with one mark)."""

ambassadors = Table(
    "ambassadors",
    metadata,
    Column("ambassador_id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, nullable=False),
    Column("program_id", Uuid, nullable=True),
    Column("leadership", Boolean, nullable=False),
    Column("segments", JSON, nullable=False),
    Column("enrolled", Boolean, nullable=False),
    Column("enrolled_at", UtcDateTime, nullable=True),
    Column("left_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=True),
    Column("momentum", String(10), nullable=True, comment="active or quiet, as last announced"),
    Index("ix_ambassadors_org", "organisation_id"),
)

programs = Table(
    "programs",
    metadata,
    Column("program_id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, nullable=False),
    Column("phase", String(30), nullable=False),
    Column("start_date", Date, nullable=True),
)

emv_rates = Table(
    "emv_rates",
    metadata,
    Column("organisation_id", Uuid, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("cpm", Float, nullable=False),
    Column("per_reaction", Float, nullable=False),
    Column("per_comment", Float, nullable=False),
    Column("per_reshare", Float, nullable=False),
    Column("per_click", Float, nullable=False),
    Column("is_default", Boolean, nullable=False),
    PrimaryKeyConstraint("organisation_id", "currency", name="pk_emv_rates"),
)

momentum_drops = Table(
    "momentum_drops",
    metadata,
    Column("program_id", Uuid, nullable=False),
    Column("week_start", Date, nullable=False),
    Column("organisation_id", Uuid, nullable=False),
    PrimaryKeyConstraint("program_id", "week_start", name="pk_momentum_drops"),
)

# --- LinkedIn polling (advocacy_metrics.service.polling) ------------------------------------------

linkedin_polls = Table(
    "linkedin_polls",
    metadata,
    Column("post_id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, nullable=False),
    Column("ambassador_id", Uuid, nullable=False),
    Column("post_urn", String(200), nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
    Column("state", String(20), nullable=False, comment="due, stopped, reconnect or withdrawn"),
    Column("next_poll_at", UtcDateTime, nullable=True),
    Column("lease_id", Uuid, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("polls", Integer, nullable=False),
    Column("last_polled_at", UtcDateTime, nullable=True),
    Column("last_change_at", UtcDateTime, nullable=True),
    Column("last_counts", String(120), nullable=True, comment="the counts last seen, joined"),
    Column("last_error", String(300), nullable=True),
    Index("ix_linkedin_polls_due", "state", "next_poll_at"),
    Index("ix_linkedin_polls_member", "organisation_id", "ambassador_id"),
)

linkedin_members = Table(
    "linkedin_members",
    metadata,
    Column("ambassador_id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, nullable=False),
    Column("paused_until", UtcDateTime, nullable=True, comment="LinkedIn's 429: not before"),
    Column(
        "reconnect_since", UtcDateTime, nullable=True, comment="401 or no token: until reconnected"
    ),
    Column("reason", String(300), nullable=True),
)

linkedin_budget = Table(
    "linkedin_budget",
    metadata,
    Column("scope", String(40), nullable=False, comment="app, or an ambassador's id"),
    Column("day", Date, nullable=False),
    Column("calls", Integer, nullable=False),
    PrimaryKeyConstraint("scope", "day", name="pk_linkedin_budget"),
)
"""Analytics calls per UTC day: the app's (one LinkedIn app serves every organisation, so its
row belongs to none) and each member's."""

company_pages = Table(
    "company_pages",
    metadata,
    Column("organisation_id", Uuid, primary_key=True),
    Column("organization_urn", String(60), nullable=False),
    Column("sealed_token", Text, nullable=False),
    Column("program_id", Uuid, nullable=True),
    Column("state", String(20), nullable=False, comment="active or token_rejected"),
    Column("next_poll_at", UtcDateTime, nullable=True),
    Column("lease_id", Uuid, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("last_polled_at", UtcDateTime, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

bi_keys = Table(
    "bi_keys",
    metadata,
    Column("organisation_id", Uuid, primary_key=True),
    Column("secret", String(64), nullable=False, comment="HMAC key of the BI pseudonyms"),
)
