from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from advocacy_shared.crypto import development_key
from advocacy_shared.linkedin.settings import LinkedInSettings
from advocacy_shared.settings import ServiceSettings, database_url_field, encryption_keys_field

DEFAULT_SCHEDULE: tuple[tuple[float, float], ...] = (
    (24.0, 60.0),
    (72.0, 180.0),
    (168.0, 720.0),
    (672.0, 1440.0),
    (2160.0, 10080.0),
)
"""Hourly in the first day, every 3 hours to day 3, twice a day to day 7, daily to day 28,
weekly to day 90 (see docs/metrics.md)."""


class MetricsSettings(ServiceSettings):
    service_name: ClassVar[str] = "metrics"
    database_url: str | None = database_url_field("metrics")
    rollup_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often the daily rollups of touched days are redone"
    )
    schedule_interval_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How often momentum is checked and cohort actuals are published",
    )
    quiet_after_days: int = Field(default=28, ge=1, le=365)
    momentum_drop_threshold: float = Field(default=0.7, gt=0, le=1)
    linkedin: LinkedInSettings = Field(
        default_factory=LinkedInSettings, description="The LinkedIn app (ADVOCACY_LINKEDIN_*)"
    )
    encryption_keys: SecretStr | None = encryption_keys_field(
        "metrics", "the company pages' LinkedIn tokens"
    )
    linkedin_poll_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="How often due LinkedIn polls are looked for"
    )
    linkedin_poll_batch: int = Field(default=50, ge=1, le=1000, description="Polls a pass claims")
    linkedin_poll_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A claimed poll is another replica's to take only after this long (longer "
        "than a poll's five calls can take)",
    )
    linkedin_poll_schedule: tuple[tuple[float, float], ...] = Field(
        default=DEFAULT_SCHEDULE,
        min_length=1,
        max_length=20,
        description="(age in hours up to which, interval in minutes) pairs, ages ascending: "
        "how often a post is polled as it ages",
    )
    linkedin_poll_quiet_hours: float = Field(
        default=72.0, gt=0, description="Polling a post stops once no count changed this long"
    )
    linkedin_poll_max_days: float = Field(
        default=90.0, gt=0, description="Polling a post stops at this age, changing or not"
    )
    linkedin_poll_retry_minutes: float = Field(
        default=15.0, gt=0, description="Wait after LinkedIn failed (5xx, no answer)"
    )
    linkedin_calls_per_member_per_day: int = Field(
        default=500,
        ge=0,
        description="Our side of LinkedIn's per-member daily quota of analytics calls (UTC day)",
    )
    linkedin_calls_per_day: int = Field(
        default=100_000,
        ge=0,
        description="Our side of LinkedIn's per-app daily quota of analytics calls (UTC day)",
    )
    company_page_poll_minutes: float = Field(
        default=360.0, gt=0, description="How often each company page's statistics are read"
    )
    company_page_posts: int = Field(
        default=50, ge=1, le=100, description="The page's latest posts read each time"
    )

    def secret_keys(self) -> str | None:
        """The keys sealing company pages' tokens; None in production when none is set (the
        service runs, but refuses to store a company page's token)."""
        if self.encryption_keys is not None:
            return self.encryption_keys.get_secret_value()
        if self.environment == "production":
            return None
        return development_key(self.data_dir)
