"""LinkedIn: the one adapter over the official client, its settings, and the LinkedIn sandbox."""

from advocacy_shared.linkedin.client import (
    LinkedInClient,
    LinkedInError,
    LinkedInMember,
    LinkedInNotConfigured,
    LinkedInRejected,
    LinkedInTokenRejected,
    LinkedInUnavailable,
    TokenGrant,
)
from advocacy_shared.linkedin.settings import MEMBER_SCOPES, LinkedInSettings

__all__ = [
    "MEMBER_SCOPES",
    "LinkedInClient",
    "LinkedInError",
    "LinkedInMember",
    "LinkedInNotConfigured",
    "LinkedInRejected",
    "LinkedInSettings",
    "LinkedInTokenRejected",
    "LinkedInUnavailable",
    "TokenGrant",
]
