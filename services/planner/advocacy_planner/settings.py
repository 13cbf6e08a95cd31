from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from advocacy_shared.settings import ServiceSettings, database_url_field

DAY = 24 * 3600.0


class PlannerSettings(ServiceSettings):
    service_name: ClassVar[str] = "planner"
    database_url: str | None = database_url_field("planner")
    departures_retention_seconds: float = Field(
        default=90 * DAY,
        ge=30 * DAY,
        description="How long the tombstone of a person who left or was erased is kept: longer "
        "than any fact about them can still arrive (a domain stream keeps messages 30 days, the "
        "dead-letter stream, from which an operator may replay, 90)",
    )
    departures_sweep_seconds: float = Field(
        default=3600.0, gt=0, description="How often tombstones past their retention are deleted"
    )
