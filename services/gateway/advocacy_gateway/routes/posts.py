"""Posts: an ambassador's post written, scheduled and published on LinkedIn by the content
service (docs/posting.md), forwarded over request-reply.

Writing a post for an ambassador (from a suggestion, a library item, or from scratch) lives under
the ambassador; a post is then reached by its own id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway.access import Permission
from advocacy_gateway.routes.common import COMMON_PROBLEMS, CONFLICT, SERVICE_PROBLEMS
from advocacy_gateway.routes.forward import BY_ID, get, mount, patch, post, reference
from advocacy_shared.contracts.limits import Key, Language, Topic
from advocacy_shared.contracts.posts import (
    CANCEL_POST,
    CREATE_POST,
    EDIT_POST,
    GET_POST,
    LIST_POSTS,
    MAX_POST_TEXT,
    MAX_URL,
    REPORT_POST_URL,
    SCHEDULE_POST,
    PathChoice,
    PostState,
)

MANAGE, READ = Permission.POSTS_MANAGE, Permission.POSTS_READ
ONE = "/posts/{post_id}"
BY_CALLER = {"created_by": reference}
STATE = {"post_state": Annotated[PostState | None, Query()]}


class NewPost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1, max_length=MAX_POST_TEXT, description="The post in the ambassador's words"
    )
    scheduled_at: datetime | None = Field(
        default=None,
        description="When to publish (with a time zone; not in the past); none keeps a draft",
    )
    suggestion_id: UUID | None = Field(default=None, description="The suggestion accepted")
    content_item_id: UUID | None = Field(default=None, description="The library item used")
    discipline: Key | None = Field(default=None, description="The discipline it serves")
    language: Language | None = None
    topics: list[Topic] = Field(default_factory=list, max_length=50)
    path: PathChoice = Field(
        default="auto",
        description="`auto`: through LinkedIn's API when the connection may post, else a share "
        "link; `api` insists on the API; `manual`: a share link, then report the post's URL",
    )


class PostChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=MAX_POST_TEXT)
    scheduled_at: datetime | None = Field(default=None, description="A new time (not past)")


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: datetime = Field(description="When to publish (with a time zone; not past)")


class PostedAt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=10,
        max_length=MAX_URL,
        description="The post's link on LinkedIn, e.g. "
        "https://www.linkedin.com/feed/update/urn:li:share:7290000000000000000/",
    )


# fmt: off
AMBASSADOR_ROUTES = [
    post("", CREATE_POST, MANAGE, "create_post",
         "Write a post for the ambassador (accepting a suggestion or from scratch) and schedule "
         "it; consent, the LinkedIn connection and the compliance rules are checked",
         body=NewPost, status_code=201, from_caller=BY_CALLER,
         location="/api/v1/orgs/{org_id}/posts/{reply.id}"),
    get("", LIST_POSTS, READ, "list_ambassador_posts", "The ambassador's posts",
        paging=BY_ID, params=STATE),
]
ROUTES = [
    get("/posts", LIST_POSTS, READ, "list_posts", "Every post of the organisation",
        paging=BY_ID, params=STATE),
    get(ONE, GET_POST, READ, "get_post",
        "One post: its state, attempts, LinkedIn URN, and the share link on the manual path"),
    patch(ONE, EDIT_POST, MANAGE, "edit_post",
          "Edit the text or the time of a draft, scheduled or failed post", body=PostChanges),
    post(ONE + "/schedule", SCHEDULE_POST, MANAGE, "schedule_post",
         "Schedule a draft, move a scheduled post, or schedule a failed one again (after "
         "reconnecting LinkedIn)", body=Schedule),
    post(ONE + "/cancel", CANCEL_POST, MANAGE, "cancel_post",
         "Cancel a post that is not live yet"),
    post(ONE + "/published", REPORT_POST_URL, MANAGE, "report_post_url",
         "The manual path: the ambassador posted it; report its link (the post's URN is taken "
         "from it) and the post is published", body=PostedAt),
]
# fmt: on

PROBLEMS = {**COMMON_PROBLEMS, **SERVICE_PROBLEMS, **CONFLICT}
ambassador_router = mount(
    APIRouter(
        prefix="/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/posts",
        tags=["posts"],
        responses=PROBLEMS,
    ),
    AMBASSADOR_ROUTES,
)
router = mount(
    APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["posts"], responses=PROBLEMS), ROUTES
)
