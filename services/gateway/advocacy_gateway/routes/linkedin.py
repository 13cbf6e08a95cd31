"""An ambassador's LinkedIn connection: start it, LinkedIn's callback, its status, disconnect.

The gateway only forwards: the ambassadors service keeps the state, exchanges the code through
the LinkedIn adapter and keeps the token sealed. No token ever reaches this API.
"""

from __future__ import annotations

import hashlib
import html
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Query
from fastapi.responses import HTMLResponse

from advocacy_gateway.access import Permission
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CONFLICT,
    SERVICE_PROBLEMS,
    State,
)
from advocacy_gateway.routes.forward import delete, get, mount, post
from advocacy_gateway.settings import LINKEDIN_CALLBACK_PATH
from advocacy_shared.contracts.errors import (
    Conflict,
    Invalid,
    NotFound,
    NotReady,
    RemoteInternalError,
)
from advocacy_shared.contracts.linkedin import (
    AUTHORIZE,
    COMPLETE,
    DISCONNECT,
    GET_CONNECTION,
    CompleteLinkedIn,
)

COMPLETE_TIMEOUT_SECONDS = 30.0  # a code exchange and a userinfo call, with retries
FLOW_COOKIE = "advocacy_linkedin_flow"


def flow_binding(nonce: str) -> str:
    """What the ambassadors service keeps of the browser's flow cookie: its SHA-256."""
    return hashlib.sha256(nonce.encode()).hexdigest()


MANAGE, READ = Permission.AMBASSADORS_MANAGE, Permission.AMBASSADORS_READ

# fmt: off
ROUTES = [
    post("/authorize", AUTHORIZE, MANAGE, "authorize",
         "Start connecting the ambassador's LinkedIn profile: a single-use link that works "
         "for about 10 minutes; send the ambassador's browser there"),
    get("", GET_CONNECTION, READ, "connection",
        "The LinkedIn connection's status and expiry (never the token)"),
    delete("", DISCONNECT, MANAGE, "disconnect", "Disconnect LinkedIn: the token is deleted"),
]
# fmt: on

router = mount(
    APIRouter(
        prefix="/api/v1/orgs/{org_id}/ambassadors/{ambassador_id}/linkedin",
        tags=["linkedin"],
        responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS, **CONFLICT},
    ),
    ROUTES,
)
callback_router = APIRouter(tags=["linkedin"])


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {}}}


@callback_router.get(
    LINKEDIN_CALLBACK_PATH,
    response_class=HTMLResponse,
    summary="Where LinkedIn sends the ambassador's browser back (register this URL at the app)",
    responses={
        200: _html("Connected"),
        400: _html("Unknown, used or expired state; LinkedIn's error; a refused code"),
        502: _html("LinkedIn or the ambassadors service failed"),
        422: COMMON_PROBLEMS[422],
        429: COMMON_PROBLEMS[429],
        **SERVICE_PROBLEMS,
    },
)
async def callback(
    state: State,
    state_param: Annotated[str, Query(alias="state", min_length=1, max_length=200)],
    code: Annotated[str | None, Query(min_length=1, max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
    flow_cookie: Annotated[str | None, Cookie(alias=FLOW_COOKIE, max_length=100)] = None,
) -> HTMLResponse:
    del error_description  # LinkedIn's own words; the page names the error code only
    binding = flow_binding(flow_cookie) if flow_cookie else None
    try:
        connected = await state.rpc.call(
            COMPLETE,
            CompleteLinkedIn(state=state_param, code=code, error=error, browser_binding=binding),
            timeout=COMPLETE_TIMEOUT_SECONDS,
        )
    except (Invalid, Conflict, NotFound) as exc:
        return _page(400, "LinkedIn was not connected", exc.message)
    except (NotReady, RemoteInternalError) as exc:
        return _page(502, "LinkedIn was not connected", f"{exc.message}. Please try again.")
    return _page(
        200,
        "LinkedIn is connected",
        f"Your LinkedIn profile is connected until {connected.expires_at:%Y-%m-%d}. "
        "You can close this window.",
    )


def _page(status: int, title: str, text: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>",
        status_code=status,
    )
