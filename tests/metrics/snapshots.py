"""A post the metrics service knows and a snapshot event of it as its consumer receives it, for
tests that store snapshots."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

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


def post_row(
    organisation_id: uuid.UUID,
    published_at: datetime,
    changed_at: datetime,
    withdrawn_at: datetime | None = None,
) -> dict[str, Any]:
    """A row of the service's `posts` table: an ambassador's post on the manual path."""
    return {
        "post_id": uuid.uuid4(),
        "organisation_id": organisation_id,
        "ambassador_id": uuid.uuid4(),
        "leadership": False,
        "source": "manual",
        "published_at": published_at,
        "withdrawn_at": withdrawn_at,
        "withdrawn_reason": "deleted" if withdrawn_at else None,
        "changed_at": changed_at,
    }
