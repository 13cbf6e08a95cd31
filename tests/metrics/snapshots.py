"""A snapshot event as the metrics service's consumer receives it, for tests that store them."""

from __future__ import annotations

import uuid
from datetime import datetime

from advocacy_shared.contracts.metrics import PostMetricsObserved
from advocacy_shared.envelope import CloudEvent


def snapshot(
    organisation_id: uuid.UUID, post_id: uuid.UUID, observed_at: datetime
) -> tuple[PostMetricsObserved, CloudEvent]:
    """A `PostMetricsObserved` of 100 impressions and one reaction, and its envelope."""
    data = PostMetricsObserved(
        post_id=post_id,
        observed_at=observed_at,
        source="tool:test",
        impressions=100,
        reactions=1,
        comments=0,
        reshares=0,
    )
    envelope = CloudEvent(
        source="/test",
        type=PostMetricsObserved.spec.type,
        data=data.model_dump(mode="json"),
        orgid=str(organisation_id),
        correlationid="test",
    )
    return data, envelope
