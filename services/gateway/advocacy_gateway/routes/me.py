"""An ambassador's own side: a signed-in user whose account is linked to their ambassador record
(`POST /api/v1/invitation/link`) sees and acts on that record alone: their profile, LinkedIn
connection, today's suggestions (dismiss one, or accept it by writing a post from it) and their
posts (write, edit, schedule, cancel, report the manual path's URL).

The record comes from the session, never from the path: another ambassador's suggestion or post
id is not found (404), the same as an unknown one, so nothing tells a colleague's ids apart. An
account that is not linked gets 404 on every route here.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from advocacy_gateway.access import Permission
from advocacy_gateway.auth import Access
from advocacy_gateway.problems import ProblemError
from advocacy_gateway.routes.common import COMMON_PROBLEMS, CONFLICT, SERVICE_PROBLEMS
from advocacy_gateway.routes.forward import BY_ID, get, mount, patch, post, reference
from advocacy_gateway.routes.posts import STATE, NewPost, PostChanges, PostedAt, Schedule
from advocacy_shared.contracts import ambassadors as ambassador_contracts
from advocacy_shared.contracts.content import DISMISS_SUGGESTION, GET_SUGGESTION, SUGGEST
from advocacy_shared.contracts.linkedin import GET_CONNECTION
from advocacy_shared.contracts.posts import (
    CANCEL_POST,
    CREATE_POST,
    EDIT_POST,
    GET_POST,
    LIST_POSTS,
    REPORT_POST_URL,
    SCHEDULE_POST,
)

SELF = Permission.SELF_SERVICE


def own_ambassador(access: Access) -> UUID:
    """The caller's own ambassador record in the organisation; 404 when none is linked."""
    ambassador_id = access.principal.ambassador_in(access.organisation.id)
    if ambassador_id is None:
        raise ProblemError(
            404,
            "not-linked",
            "this account is not linked to an ambassador record: open your invitation link "
            "while signed in to link it",
        )
    return ambassador_id


MINE = {"ambassador_id": own_ambassador}
OWN_POST = {"author_id": own_ambassador}
SUGGESTION = "/suggestions/{suggestion_id}"
POST = "/posts/{post_id}"

# fmt: off
ROUTES = [
    get("/ambassador", ambassador_contracts.GET, SELF, "my_ambassador",
        "Your own ambassador record (404 when your account is not linked to one)",
        from_caller=MINE),
    get("/linkedin", GET_CONNECTION, SELF, "my_linkedin",
        "Your LinkedIn connection's status and expiry (never the token)", from_caller=MINE),
    get("/suggestions", SUGGEST, SELF, "my_suggestions",
        "Today's suggestions for you, ranked, each explained, with its angle prompt",
        from_caller=MINE),
    get(SUGGESTION, GET_SUGGESTION, SELF, "my_suggestion", "One of your suggestions",
        from_caller=MINE),
    post(SUGGESTION + "/dismiss", DISMISS_SUGGESTION, SELF, "dismiss_my_suggestion",
         "Not for you: the item is not suggested to you again", from_caller=MINE,
         responses=CONFLICT),
    post("/posts", CREATE_POST, SELF, "create_my_post",
         "Write a post in your own words (accepting a suggestion: name its `suggestion_id`) and "
         "schedule it", body=NewPost, status_code=201,
         from_caller={**MINE, "created_by": reference},
         location="/api/v1/orgs/{org_id}/me/posts/{reply.id}", responses=CONFLICT),
    get("/posts", LIST_POSTS, SELF, "list_my_posts", "Your posts", paging=BY_ID, params=STATE,
        from_caller=MINE),
    get(POST, GET_POST, SELF, "get_my_post", "One of your posts", from_caller=OWN_POST),
    patch(POST, EDIT_POST, SELF, "edit_my_post",
          "Edit the text or the time of your draft, scheduled or failed post", body=PostChanges,
          from_caller=OWN_POST, responses=CONFLICT),
    post(POST + "/schedule", SCHEDULE_POST, SELF, "schedule_my_post",
         "Schedule your draft, move it, or schedule a failed one again", body=Schedule,
         from_caller=OWN_POST, responses=CONFLICT),
    post(POST + "/cancel", CANCEL_POST, SELF, "cancel_my_post",
         "Cancel your post that is not live yet", from_caller=OWN_POST, responses=CONFLICT),
    post(POST + "/published", REPORT_POST_URL, SELF, "report_my_post_url",
         "The manual path: you posted it; report its link", body=PostedAt,
         from_caller=OWN_POST, responses=CONFLICT),
]
# fmt: on

router = mount(
    APIRouter(
        prefix="/api/v1/orgs/{org_id}/me",
        tags=["me"],
        responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS},
    ),
    ROUTES,
)


async def only_own(request: object, access: Access, _state: object) -> None:
    """A `check` for staff routes that ambassadors may also call (suggestions, proposals): an
    ambassador-role user reaches only their own record; another's is not found."""
    if not access.principal.only_own_ambassador(access.organisation.id):
        return
    if getattr(request, "ambassador_id", None) != own_ambassador(access):
        raise ProblemError(404, "not-found", "no such ambassador in this organisation")


def own_if_ambassador(access: Access) -> UUID | None:
    """For staff routes reading by a suggestion's id: an ambassador-role user only their own."""
    if access.principal.only_own_ambassador(access.organisation.id):
        return own_ambassador(access)
    return None
