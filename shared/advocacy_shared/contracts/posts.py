"""Posts: what an ambassador publishes on LinkedIn through the content service, and the requests
and notifications around it (docs/posting.md).

A post is written (from a suggestion, a library item or from scratch), scheduled, and published
at its time through the LinkedIn adapter (`path` `api`), or, without posting permission, by the
ambassador through a share link, who then reports the post's URL (`path` `manual`). When it is
live the content service publishes `PostPublished` (contracts/content.py).

The notifications are facts for the comms platform to deliver in its own channels: they carry
ids, the post's state and links, never a name, an email or a token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import EventData, Operation, RpcReply, RpcRequest, event
from advocacy_shared.contracts.limits import Key, Language, ShortText, Topic

MAX_POST_TEXT = 3000
"""LinkedIn's limit on a post's commentary."""
MAX_URL = 2000

PostState = Literal["draft", "scheduled", "posting", "published", "cancelled", "failed"]
PostPath = Literal["api", "manual"]
"""`api`: the platform posts at the scheduled time; `manual`: the ambassador posts through a share
link and reports the post's URL."""
PathChoice = Literal["auto", "api", "manual"]
FailureKind = Literal[
    "reconnect_needed", "no_consent", "refused", "outcome_unknown", "attempts_exhausted"
]
CancelReason = Literal["cancelled", "consent_revoked", "ambassador_offboarded", "ambassador_erased"]


# --- Requests ------------------------------------------------------------------------------------


class CreatePost(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID
    text: str = Field(min_length=1, max_length=MAX_POST_TEXT, description="The post, as written")
    scheduled_at: datetime | None = Field(
        default=None, description="When to publish (UTC); none keeps the post a draft"
    )
    content_item_id: UUID | None = Field(default=None, description="The library item, if any")
    suggestion_id: UUID | None = Field(default=None, description="The accepted suggestion")
    discipline: Key | None = Field(default=None, description="Discipline key from the playbook")
    language: Language | None = None
    topics: list[Topic] = Field(default_factory=list, max_length=50)
    path: PathChoice = Field(
        default="auto",
        description="`auto`: through the API when the connection may post (`w_member_social`), "
        "else the manual path; `api` insists on the API; `manual`: a share link",
    )
    created_by: ShortText = Field(min_length=1, description="Who wrote it (user or API key id)")


class PostRequest(RpcRequest):
    organisation_id: UUID
    post_id: UUID
    author_id: UUID | None = Field(
        default=None,
        description="Self-service: the post must be this ambassador's (another's is not found)",
    )


class EditPost(RpcRequest):
    organisation_id: UUID
    post_id: UUID
    author_id: UUID | None = Field(
        default=None,
        description="Self-service: the post must be this ambassador's (another's is not found)",
    )
    text: str | None = Field(default=None, min_length=1, max_length=MAX_POST_TEXT)
    scheduled_at: datetime | None = Field(
        default=None, description="A new time; the post must not be posted or posting"
    )


class SchedulePost(RpcRequest):
    organisation_id: UUID
    post_id: UUID
    author_id: UUID | None = Field(
        default=None,
        description="Self-service: the post must be this ambassador's (another's is not found)",
    )
    scheduled_at: datetime = Field(description="When to publish (UTC), not in the past")


class ReportPostUrl(RpcRequest):
    """The manual path: the ambassador posted it and reports where."""

    organisation_id: UUID
    post_id: UUID
    author_id: UUID | None = Field(
        default=None,
        description="Self-service: the post must be this ambassador's (another's is not found)",
    )
    url: str = Field(
        min_length=10,
        max_length=MAX_URL,
        description="The post's permalink: https://www.linkedin.com/feed/update/urn:li:share:…/",
    )


class ListPosts(RpcRequest):
    organisation_id: UUID
    ambassador_id: UUID | None = None
    post_state: PostState | None = Field(default=None, description="Only posts in this state")
    limit: int = Field(default=50, ge=1, le=200)
    after: UUID | None = None


class Post(RpcReply):
    id: UUID
    organisation_id: UUID
    ambassador_id: UUID
    program_id: UUID | None
    content_item_id: UUID | None
    suggestion_id: UUID | None
    discipline: str | None
    leadership: bool
    language: str | None
    topics: list[str]
    text: str
    path: PostPath
    state: PostState
    scheduled_at: datetime | None
    attempts: int = Field(description="Calls made to LinkedIn's Posts API for it")
    next_attempt_at: datetime | None = Field(
        description="When the service tries again (after a 429 or an unknown outcome)"
    )
    last_error: str | None
    failure: FailureKind | None
    cancel_reason: CancelReason | None
    linkedin_post_urn: str | None
    post_url: str | None
    share_url: str | None = Field(description="Manual path: LinkedIn's composer, pre-filled")
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PostPage(RpcReply):
    items: list[Post]
    next_after: UUID | None


CREATE_POST: Operation[CreatePost, Post] = Operation("content", "post.create", CreatePost, Post)
GET_POST: Operation[PostRequest, Post] = Operation("content", "post.get", PostRequest, Post)
LIST_POSTS: Operation[ListPosts, PostPage] = Operation("content", "post.list", ListPosts, PostPage)
EDIT_POST: Operation[EditPost, Post] = Operation("content", "post.edit", EditPost, Post)
SCHEDULE_POST: Operation[SchedulePost, Post] = Operation(
    "content", "post.schedule", SchedulePost, Post
)
CANCEL_POST: Operation[PostRequest, Post] = Operation("content", "post.cancel", PostRequest, Post)
REPORT_POST_URL: Operation[ReportPostUrl, Post] = Operation(
    "content", "post.report_url", ReportPostUrl, Post
)


# --- Notifications -------------------------------------------------------------------------------


@event("content", "ambassador", "reconnect_requested", 1)
class ReconnectRequested(EventData):
    """LinkedIn refused the ambassador's token (401) while a post was due: ask them to reconnect
    LinkedIn; the post waits as `failed` (`reconnect_needed`) and can be scheduled again."""

    ambassador_id: UUID
    post_id: UUID | None = Field(default=None, description="The post that could not be published")
    reason: Literal["token_rejected", "not_connected"]
    requested_at: datetime


@event("content", "post", "reminder_raised", 1)
class PostReminderRaised(EventData):
    """A post on the manual path is due: remind the ambassador to post it with its share link and
    report its URL. The link carries the post's text, so it is not in the event: the comms
    platform reads it from the post (`GET /api/v1/orgs/{org}/posts/{post_id}`, `share_url`)."""

    post_id: UUID
    ambassador_id: UUID
    kind: Literal["manual_post_due"]
    due_at: datetime
    raised_at: datetime
