from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from advocacy_shared.linkedin.settings import LinkedInSettings
from advocacy_shared.settings import ServiceSettings, database_url_field


class ContentSettings(ServiceSettings):
    service_name: ClassVar[str] = "content"
    database_url: str | None = database_url_field("content")
    linkedin: LinkedInSettings = Field(
        default_factory=LinkedInSettings, description="The LinkedIn app (ADVOCACY_LINKEDIN_*)"
    )
    posting_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the publisher looks for due posts"
    )
    posting_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="An attempt with no recorded outcome after this long is in doubt (the "
        "publisher stopped): another pass reconciles it",
    )
    posting_retry_seconds: float = Field(
        default=30.0, ge=0, description="First wait after an unknown outcome (doubling, max 1 h)"
    )
    posting_max_attempts: int = Field(default=8, ge=1, le=50, description="Calls per post")
    posting_resend_within_hours: float = Field(
        default=6.0,
        gt=0,
        description="An attempt in doubt for longer is not sent again (LinkedIn's duplicate "
        "check may have forgotten it): the post fails as outcome_unknown for a person to check",
    )
    posts_per_ambassador_per_day: int = Field(
        default=25, ge=0, description="Our side of LinkedIn's per-member daily budget"
    )
    posts_per_day: int = Field(
        default=10_000, ge=0, description="Our side of LinkedIn's per-app daily budget"
    )
    suggestions_run_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="How often the daily run of suggestions looks for a day not yet prepared",
    )
    suggestions_prepare_hour_utc: int = Field(
        default=4,
        ge=0,
        le=23,
        description="From this hour (UTC) each day, every consenting ambassador's suggestions "
        "are prepared ahead of their first visit",
    )
    suggestions_lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long one replica holds an organisation's daily run before another "
        "may take it over (a stopped replica's run is resumed; lists already made are kept)",
    )
