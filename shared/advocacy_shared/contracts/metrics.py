"""Facts measured by the metrics service that other services act on.

`CohortActualsMeasured` is the planner's source of actuals: the graduation check of a phase
compares its targets with the latest of these for that program and phase.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import Field, model_validator

from advocacy_shared.contracts.base import EventData, event
from advocacy_shared.contracts.planner import PhaseKind


@event("metrics", "cohort_actuals", "measured", 1)
class CohortActualsMeasured(EventData):
    """What a program's cohort in one phase achieved over one period (the leadership track apart).

    Rates are fractions (0.4 is 40 %). `leadership_participation` is the share of the cohort's
    leaders who posted in the period; None when the cohort has no leaders.
    """

    program_id: UUID
    phase: PhaseKind
    period_start: date
    period_end: date
    cohort_size: int = Field(ge=0)
    active_rate: float = Field(ge=0, le=1, description="Share of the cohort who posted")
    posts_per_ambassador_per_week: float = Field(ge=0)
    reach: int = Field(ge=0, description="Members reached in the period")
    engagement_rate: float = Field(ge=0, le=1, description="Engagements per impression")
    leadership_participation: float | None = Field(default=None, ge=0, le=1)
    measured_at: datetime

    @model_validator(mode="after")
    def _period_in_order(self) -> CohortActualsMeasured:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


@event("metrics", "post_engagement", "measured", 1)
class PostEngagementMeasured(EventData):
    """The latest observed analytics of one post, published when they change materially.

    The content service learns from these which items engaged for which ambassadors. Counts are
    as LinkedIn last reported them (a count may go down); `engagement_rate` is engagements
    (reactions, comments, reshares) per impression, 0 when there were no impressions.
    """

    post_id: UUID
    ambassador_id: UUID
    content_item_id: UUID | None = None
    impressions: int = Field(ge=0)
    members_reached: int | None = Field(default=None, ge=0)
    reactions: int = Field(ge=0)
    comments: int = Field(ge=0)
    reshares: int = Field(ge=0)
    engagement_rate: float = Field(ge=0)
    observed_at: datetime
