"""What every route module shares: the state dependency, documented problems, cursors, pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from advocacy_gateway.problems import PROBLEM_JSON, Problem, ProblemError
from advocacy_gateway.state import GatewayState
from advocacy_shared.paging import keyset_page

T = TypeVar("T")
R = TypeVar("R")


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": description}


COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed JSON or a bad cursor"),
    401: _problem("Missing, invalid, revoked or expired credentials"),
    403: _problem("The caller's role or scopes do not allow this, or the CSRF token is missing"),
    404: _problem("Unknown organisation (or one the caller does not belong to), or resource"),
    413: _problem("Body too large"),
    422: _problem("Validation error; or an Idempotency-Key reused with another body"),
    429: _problem("Rate limit exceeded (see Retry-After)"),
}
SERVICE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    503: _problem("A service is unavailable or not ready yet (see Retry-After)"),
    504: _problem("A service did not answer in time"),
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _problem("Conflicts with the current state (duplicate, in progress)")
}


async def gateway_state(request: Request) -> GatewayState:
    """`async` although it awaits nothing: FastAPI runs a plain function dependency in a worker
    thread, a hop that every request would pay for."""
    state: GatewayState = request.app.state.gateway
    return state


State = Annotated[GatewayState, Depends(gateway_state)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes a retry of this creating request safe: the first answer is replayed "
        "for 24 hours to the same caller sending the same key and body.",
    ),
]

Email = Annotated[
    str,
    StringConstraints(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$", max_length=320, strip_whitespace=True
    ),
]
"""An email address, checked for shape only: delivery is the identity provider's business."""

Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
CursorParam = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )


def page_of(
    rows: Sequence[R],
    limit: int,
    item: Callable[[R], T],
    position: Callable[[R], tuple[datetime, UUID]],
) -> Page[T]:
    """A page from `limit + 1` rows in keyset order: the extra row only says there is more."""
    shown, next_position = keyset_page(rows, limit, position)
    return Page(
        items=[item(row) for row in shown],
        next_cursor=encode_cursor(*next_position) if next_position is not None else None,
    )


def encode_cursor(at: datetime, ident: UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{ident}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if cursor is None:
        return None
    try:
        at, ident = base64.urlsafe_b64decode(cursor).decode().split("|")
        position = datetime.fromisoformat(at), UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if position[0].utcoffset() is None:  # every cursor this API gives carries its UTC offset
        raise _bad_cursor()
    return position


def _bad_cursor() -> ProblemError:
    return ProblemError(400, "bad-cursor", "the cursor is not one this API gave")


def after_id(cursor: str | None) -> UUID | None:
    """The keyset position of a list ordered by id, whose cursor is the last id shown."""
    if cursor is None:
        return None
    try:
        return UUID(cursor)
    except ValueError as exc:
        raise _bad_cursor() from exc


def after_number(cursor: str | None, minimum: int = 0) -> int | None:
    """The keyset position of a list ordered by a sequence number (assessments, transitions):
    a number as `cursor_of` writes it (no sign, no leading zeros), at least `minimum`."""
    if cursor is None:
        return None
    if (
        not (cursor.isascii() and cursor.isdigit())
        or len(cursor) > 10
        or cursor != str(int(cursor))
    ):
        raise _bad_cursor()
    if not minimum <= int(cursor) <= 10**9:
        raise _bad_cursor()
    return int(cursor)


def cursor_of(position: UUID | int | None) -> str | None:
    """The cursor for a service's next position, as `after_id` and `after_number` read it."""
    return None if position is None else str(position)
