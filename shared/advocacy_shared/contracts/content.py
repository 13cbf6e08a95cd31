"""Facts of the content service that other services act on.

`PostPublished` is the metrics service's list of posts to measure: a post the content service
published through the LinkedIn adapter, or a post an ambassador or manager recorded by its URL
(written outside the platform). `PostWithdrawn` ends the measuring of a post (deleted on
LinkedIn, withdrawn by its author, or its author erased).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import EventData, event
from advocacy_shared.contracts.limits import Key, Language, Topic

PostSource = Literal["scheduled", "manual"]
"""`scheduled`: posted by the platform through the adapter; `manual`: recorded by its URL."""


@event("content", "post", "published", 1)
class PostPublished(EventData):
    """A post by an ambassador is live on LinkedIn."""

    post_id: UUID = Field(description="The content service's id of the post")
    ambassador_id: UUID
    program_id: UUID | None = None
    content_item_id: UUID | None = Field(
        default=None, description="The library item the post came from, if any"
    )
    suggestion_id: UUID | None = Field(
        default=None, description="The suggestion the ambassador accepted, if any"
    )
    discipline: Key | None = Field(default=None, description="Discipline key from the playbook")
    leadership: bool = Field(description="The author is on the leadership track")
    language: Language | None = None
    topics: list[Topic] = Field(default_factory=list, max_length=50)
    linkedin_post_urn: str | None = Field(
        default=None, max_length=200, description="urn:li:share:… or urn:li:ugcPost:…"
    )
    post_url: str | None = Field(default=None, max_length=2000)
    source: PostSource
    published_at: datetime


@event("content", "post", "withdrawn", 1)
class PostWithdrawn(EventData):
    """A post is no longer measured: deleted on LinkedIn, withdrawn, or its author erased."""

    post_id: UUID
    ambassador_id: UUID
    reason: Literal["deleted", "withdrawn", "author_erased"]
    withdrawn_at: datetime
