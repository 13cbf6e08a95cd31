from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from advocacy_shared.settings import ServiceSettings, database_url_field


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
