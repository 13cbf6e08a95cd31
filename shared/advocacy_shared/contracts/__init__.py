"""Every message the services exchange: events (facts) and requests (commands and queries).

Importing this package imports every contract module, so `EVENT_TYPES` is complete.
"""

from advocacy_shared.contracts import (
    ambassadors,
    content,
    identity,
    invitations,
    linkedin,
    metrics,
    organisations,
    planner,
    posts,
    roster,
    system,
    webhooks,
)
from advocacy_shared.contracts.base import EVENT_TYPES, EventData
from advocacy_shared.topology import FEED_DOMAINS

WEBHOOK_EVENT_TYPES: dict[str, type[EventData]] = {
    name: model for name, model in EVENT_TYPES.items() if model.spec.domain not in FEED_DOMAINS
}
"""The event types a webhook endpoint may subscribe to: every one but the feeds' observations."""

__all__ = [
    "EVENT_TYPES",
    "WEBHOOK_EVENT_TYPES",
    "ambassadors",
    "content",
    "identity",
    "invitations",
    "linkedin",
    "metrics",
    "organisations",
    "planner",
    "posts",
    "roster",
    "system",
    "webhooks",
]
