"""Posting on a member's behalf: the Posts API (`/rest/posts`) through the official client, the
manual path's share links, and reading a post's URN out of a permalink.

A create is never retried here. A retry after a timeout or a 5xx could post twice (LinkedIn may
have created the post before the answer was lost), so `create` makes exactly one call and says
what is known: created (the URN from `x-restli-id`), refused (nothing posted), throttled (nothing
posted; try later), or unknown (`LinkedInOutcomeUnknown`: the caller reconciles before trying
again). LinkedIn refuses the same commentary by the same author shortly after with a 422
`DUPLICATE_POST` naming the first post, which `create` reports as `LinkedInDuplicate` with that
URN: the caller's reconciliation of an attempt in doubt.

Commentary is sent in LinkedIn's little text format: every reserved character is escaped, or
LinkedIn would silently cut the text at the first one.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests

from advocacy_shared.linkedin.client import (
    LinkedInClient,
    LinkedInError,
    LinkedInRejected,
    LinkedInTokenRejected,
    LinkedInUnavailable,
)
from advocacy_shared.telemetry import LINKEDIN_CALLS

RESERVED = "\\|{}@[]()<>#*_~"
"""The little text format's reserved characters (the backslash first: it escapes the others)."""
MAX_COMMENTARY = 3000
POST_URN = re.compile(r"urn:li:(?:share|ugcPost):\d{1,30}")
ACTIVITY_URN = re.compile(r"urn:li:activity:\d{1,30}")
_SLUG_ACTIVITY = re.compile(r"-activity-(\d{1,30})-")


class LinkedInThrottled(LinkedInUnavailable):
    """429: a daily budget (the member's or the app's) is spent. Nothing was posted."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class LinkedInOutcomeUnknown(LinkedInUnavailable):
    """No answer (a transport error, a time-out) or a 5xx to a create: the post may or may not
    exist. Reconcile before trying again."""


class LinkedInDuplicate(LinkedInRejected):
    """422 `DUPLICATE_POST`: the same commentary was posted shortly before, as `urn`."""

    def __init__(self, message: str, *, urn: str | None) -> None:
        super().__init__(message, status=422, code="DUPLICATE_POST")
        self.urn = urn


class LinkedInPostRefused(LinkedInRejected):
    """LinkedIn refused the post (a 400, 403 or 422 other than a duplicate): nothing was posted.
    `detail` is LinkedIn's own message (it names the field or the rule, never a token)."""

    def __init__(self, message: str, *, status: int | None, code: str | None, detail: str) -> None:
        super().__init__(message, status=status, code=code)
        self.detail = detail


@dataclass(frozen=True)
class LinkedInPost:
    urn: str
    author: str
    commentary: str
    created_at: datetime | None


def escape_little_text(text: str) -> str:
    """Text as LinkedIn's little text format wants it: every reserved character escaped."""
    return "".join(f"\\{char}" if char in RESERVED else char for char in text)


def post_urn_from_url(url: str) -> str | None:
    """The post URN a permalink names (`/feed/update/urn:li:share:N/` or `urn:li:ugcPost:N`),
    None when there is none. Activity permalinks (`urn:li:activity:N`, `/posts/…-activity-N-…`)
    carry no share or ugcPost id (LinkedIn documents no mapping): see `activity_urn_from_url`."""
    match = POST_URN.search(unquote(url))
    return match.group(0) if match else None


def activity_urn_from_url(url: str) -> str | None:
    """The activity URN of a permalink (`urn:li:activity:N` or `/posts/<slug>-activity-N-…`)."""
    decoded = unquote(url)
    match = ACTIVITY_URN.search(decoded)
    if match:
        return match.group(0)
    slug = _SLUG_ACTIVITY.search(urlsplit(decoded).path)
    return f"urn:li:activity:{slug.group(1)}" if slug else None


ID_TIME_SHIFT = 22
"""LinkedIn's post and activity ids are time-ordered: the id shifted right by 22 bits is the
creation time in milliseconds since the Unix epoch (what LinkedIn's own permalinks show; not in
its API documentation, so a value outside a plausible range is ignored)."""


def urn_id(urn: str) -> int | None:
    """The number at the end of a share, ugcPost or activity URN."""
    match = re.fullmatch(r"urn:li:(?:share|ugcPost|activity):(\d{1,30})", urn)
    return int(match.group(1)) if match else None


def created_at_of(urn: str) -> datetime | None:
    """When LinkedIn made the post the URN names, read from its id; None when the id holds no
    readable time."""
    number = urn_id(urn)
    if number is None:
        return None
    try:
        return datetime.fromtimestamp((number >> ID_TIME_SHIFT) / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def urn_made_at(moment: datetime, low_bits: int, kind: str = "share") -> str:
    """A URN whose id carries `moment` as LinkedIn's ids do (the sandbox and the demo make them)."""
    number = (int(moment.timestamp() * 1000) << ID_TIME_SHIFT) | (low_bits % (1 << ID_TIME_SHIFT))
    return f"urn:li:{kind}:{number}"


def share_url(web_base_url: str, text: str) -> str:
    """LinkedIn's composer, pre-filled with `text` (`/feed/?shareActive=true&text=`)."""
    return f"{web_base_url.rstrip('/')}/feed/?shareActive=true&text={quote(text, safe='')}"


def permalink(web_base_url: str, urn: str) -> str:
    return f"{web_base_url.rstrip('/')}/feed/update/{urn}/"


class LinkedInPosts:
    """The Posts API of one LinkedIn app, over the adapter's client (timeouts, fetch guard)."""

    def __init__(self, client: LinkedInClient) -> None:
        self.client = client
        self.version = client.settings.api_version

    async def create(self, access_token: str, author: str, text: str) -> str:
        """Post `text` as `author` (public, main feed); the new post's URN. One call, no retry."""
        entity = {
            "author": author,
            "commentary": escape_little_text(text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        restli = self.client._restli
        try:
            outcome = await asyncio.to_thread(
                self.client._observed,
                lambda: restli.create(
                    resource_path="/posts",
                    entity=entity,
                    access_token=access_token,
                    version_string=self.version,
                ),
            )
        except requests.RequestException as exc:
            LINKEDIN_CALLS.labels("post create", "unknown").inc()
            raise LinkedInOutcomeUnknown(
                f"LinkedIn's post create got no answer ({type(exc).__name__})"
            ) from exc
        response, status = outcome.result, outcome.status
        if status == 201 and response is not None and response.entity_id:
            LINKEDIN_CALLS.labels("post create", "ok").inc()
            return str(response.decoded_entity_id or response.entity_id)
        LINKEDIN_CALLS.labels("post create", "failed").inc()
        body = response.entity if response is not None and isinstance(response.entity, dict) else {}
        raise _create_failure(status, body, outcome.retry_after)

    async def find_by_author(
        self, access_token: str, author: str, count: int = 20
    ) -> list[LinkedInPost]:
        """The author's latest posts, newest first (`q=author`; LinkedIn wants `r_member_social`:
        a `LinkedInRejected` 403 without it)."""
        restli = self.client._restli
        response = await self.client._call(
            "post finder",
            lambda: restli.finder(
                resource_path="/posts",
                finder_name="author",
                query_params={"author": author, "count": count, "sortBy": "LAST_MODIFIED"},
                access_token=access_token,
                version_string=self.version,
            ),
        )
        if response.status_code != 200:
            raise _failure("post finder", response.status_code, _body(response))
        return [_post(element) for element in response.elements or [] if isinstance(element, dict)]

    async def get(self, access_token: str, urn: str) -> LinkedInPost | None:
        """One post by its URN; None when LinkedIn knows none (404: unknown or deleted)."""
        restli = self.client._restli
        response = await self.client._call(
            "post read",
            lambda: restli.get(
                resource_path="/posts/{id}",
                path_keys={"id": urn},
                access_token=access_token,
                version_string=self.version,
            ),
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _failure("post read", response.status_code, _body(response))
        return _post(response.entity)


def _body(response: Any) -> dict[str, Any]:
    entity = getattr(response, "entity", None)
    return entity if isinstance(entity, dict) else {}


def _post(entity: dict[str, Any]) -> LinkedInPost:
    created = entity.get("createdAt")
    return LinkedInPost(
        urn=str(entity.get("id", "")),
        author=str(entity.get("author", "")),
        commentary=str(entity.get("commentary", "")),
        created_at=(
            datetime.fromtimestamp(created / 1000, UTC) if isinstance(created, int) else None
        ),
    )


def _failure(what: str, status: int | None, body: dict[str, Any]) -> LinkedInError:
    code = body.get("code") or body.get("serviceErrorCode")
    shown = f"{status}{f' {code}' if code else ''}"
    if status == 401:
        return LinkedInTokenRejected(f"LinkedIn refused the {what} ({shown})", status=401)
    if status is None or status >= 500 or status == 429:
        return LinkedInUnavailable(f"LinkedIn's {what} answered {status}", status=status)
    return LinkedInRejected(
        f"LinkedIn refused the {what} ({shown})", status=status, code=str(code) if code else None
    )


def _create_failure(
    status: int | None, body: dict[str, Any], retry_after: str | None
) -> LinkedInError:
    if status == 429:
        after = float(retry_after) if retry_after and retry_after.isdigit() else None
        return LinkedInThrottled("LinkedIn throttled the post create (429)", retry_after=after)
    if status is None or status >= 500:
        return LinkedInOutcomeUnknown(
            f"LinkedIn's post create answered {status or 'an unreadable response'}", status=status
        )
    message = str(body.get("message", ""))
    if status == 422 and (body.get("code") == "DUPLICATE_POST" or "duplicate" in message):
        found = POST_URN.search(message)
        return LinkedInDuplicate(
            "LinkedIn refused the post create as a duplicate (422 DUPLICATE_POST)",
            urn=found.group(0) if found else None,
        )
    if status == 201:  # created, but no x-restli-id: we cannot know which post it is
        return LinkedInOutcomeUnknown("LinkedIn's post create named no post", status=status)
    failure = _failure("post create", status, body)
    if type(failure) is LinkedInRejected:
        code = failure.code
        return LinkedInPostRefused(str(failure), status=status, code=code, detail=message[:300])
    return failure
