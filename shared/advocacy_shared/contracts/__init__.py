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
from advocacy_shared.contracts.base import EVENT_TYPES

__all__ = [
    "EVENT_TYPES",
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
