"""Reading analytics: a member's own post analytics (`/rest/memberCreatorPostAnalytics`), a
company page's posts (`/rest/posts?q=author`) and their statistics
(`/rest/organizationalEntityShareStatistics`), through the official client.

Each call is made once: the caller keeps the schedule and the budgets, so a 429 is not retried
here but reported (`LinkedInThrottled`, with `Retry-After` when LinkedIn gave one) for the caller
to honour, a 401 is `LinkedInTokenRejected` (the member must reconnect), a 5xx or no answer is
`LinkedInUnavailable` (try at the next slot). Reading twice is harmless, so nothing here needs
the create's care.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import requests

from advocacy_shared.linkedin.client import (
    LinkedInClient,
    LinkedInError,
    LinkedInRejected,
    LinkedInTokenRejected,
    LinkedInUnavailable,
)
from advocacy_shared.linkedin.posts import LinkedInPost, LinkedInThrottled, _post

QUERY_TYPES: dict[str, str] = {
    "IMPRESSION": "impressions",
    "MEMBERS_REACHED": "members_reached",
    "REACTION": "reactions",
    "COMMENT": "comments",
    "RESHARE": "reshares",
}
"""LinkedIn's `queryType` (one a call) and the count it fills."""
CALLS_PER_POST = len(QUERY_TYPES)
MAX_SHARES_PER_CALL = 20
"""Company posts asked in one statistics call (`shares=List(...)`), well under the 4000-character
query the client would tunnel as a POST."""


@dataclass(frozen=True)
class PostCounts:
    """Lifetime counts of one post, as LinkedIn reports them."""

    impressions: int
    members_reached: int | None
    reactions: int
    comments: int
    reshares: int
    clicks: int | None = None


def entity_of(urn: str) -> dict[str, str]:
    """The finder's `entity` for a post URN: `(share:…)` or `(ugc:…)`."""
    if urn.startswith("urn:li:share:"):
        return {"share": urn}
    if urn.startswith("urn:li:ugcPost:"):
        return {"ugc": urn}
    raise ValueError("LinkedIn's post analytics accept share and ugcPost URNs only")


def _metric_type(element: dict[str, Any]) -> str:
    """`metricType` is a union (`{"com.linkedin…MetricTypeV1": "IMPRESSION"}`), reportedly a
    plain string from 202605: both are read."""
    raw = element.get("metricType")
    if isinstance(raw, dict):
        values = [v for v in raw.values() if isinstance(v, str)]
        return values[0] if values else ""
    return raw if isinstance(raw, str) else ""


def _count(elements: list[Any], query_type: str) -> int:
    """The TOTAL count of one answer; no element means no data yet (0)."""
    total = 0
    for element in elements:
        if not isinstance(element, dict):
            continue
        kind = _metric_type(element)
        if kind and kind != query_type:
            continue
        count = element.get("count")
        if isinstance(count, int) and count >= 0:
            total += count
    return total


def _stats_counts(element: dict[str, Any]) -> PostCounts:
    stats = element.get("totalShareStatistics")
    stats = stats if isinstance(stats, dict) else {}

    def number(name: str) -> int:
        value = stats.get(name)
        return int(value) if isinstance(value, int | float) and value >= 0 else 0

    unique = stats.get("uniqueImpressionsCount")
    return PostCounts(
        impressions=number("impressionCount"),
        members_reached=int(unique) if isinstance(unique, int) and unique >= 0 else None,
        reactions=number("likeCount"),
        comments=number("commentCount"),
        reshares=number("shareCount"),
        clicks=number("clickCount"),
    )


class LinkedInAnalytics:
    """Analytics of one LinkedIn app, over the adapter's client (timeouts, fetch guard)."""

    def __init__(self, client: LinkedInClient) -> None:
        self.client = client
        self.version = client.settings.api_version

    async def member_post(self, access_token: str, post_urn: str) -> PostCounts:
        """The member's own post's lifetime counts: one TOTAL call per query type
        (`CALLS_PER_POST` calls; the first failure stops the rest)."""
        entity = entity_of(post_urn)
        counts: dict[str, int] = {}
        restli = self.client._restli
        for query_type, name in QUERY_TYPES.items():
            response = await self._once(
                "post analytics",
                partial(
                    restli.finder,
                    resource_path="/memberCreatorPostAnalytics",
                    finder_name="entity",
                    query_params={
                        "entity": entity,
                        "queryType": query_type,
                        "aggregation": "TOTAL",
                    },
                    access_token=access_token,
                    version_string=self.version,
                ),
            )
            counts[name] = _count(response.elements or [], query_type)
        return PostCounts(
            impressions=counts["impressions"],
            members_reached=min(counts["members_reached"], counts["impressions"]),
            reactions=counts["reactions"],
            comments=counts["comments"],
            reshares=counts["reshares"],
        )

    async def organization_posts(
        self, access_token: str, organization_urn: str, count: int = 50
    ) -> list[LinkedInPost]:
        """The company page's latest posts, newest first (`q=author`; LinkedIn wants
        `r_organization_social` or a page role)."""
        restli = self.client._restli
        response = await self._once(
            "company post finder",
            lambda: restli.finder(
                resource_path="/posts",
                finder_name="author",
                query_params={"author": organization_urn, "count": count, "sortBy": "CREATED"},
                access_token=access_token,
                version_string=self.version,
            ),
        )
        return [_post(e) for e in response.elements or [] if isinstance(e, dict)]

    async def share_statistics(
        self, access_token: str, organization_urn: str, shares: list[str]
    ) -> dict[str, PostCounts]:
        """Lifetime statistics of the page's `shares` (organic only), by share URN."""
        found: dict[str, PostCounts] = {}
        restli = self.client._restli
        for start in range(0, len(shares), MAX_SHARES_PER_CALL):
            chunk = shares[start : start + MAX_SHARES_PER_CALL]
            response = await self._once(
                "share statistics",
                partial(
                    restli.finder,
                    resource_path="/organizationalEntityShareStatistics",
                    finder_name="organizationalEntity",
                    query_params={"organizationalEntity": organization_urn, "shares": chunk},
                    access_token=access_token,
                    version_string=self.version,
                ),
            )
            for element in response.elements or []:
                if isinstance(element, dict) and isinstance(element.get("share"), str):
                    found[element["share"]] = _stats_counts(element)
        return found

    async def _once(self, what: str, call: Callable[[], Any]) -> Any:
        """One call, its status checked: 200 gives the response, anything else a typed error."""
        try:
            outcome = await asyncio.to_thread(self.client._observed, call)
        except requests.RequestException as exc:
            raise LinkedInUnavailable(
                f"LinkedIn's {what} could not be reached ({type(exc).__name__})"
            ) from exc
        status = outcome.status
        if status == 200 and outcome.result is not None:
            return outcome.result
        raise _failure(what, status, _body(outcome.result), outcome.retry_after)


def _body(response: Any) -> dict[str, Any]:
    entity = getattr(response, "entity", None)
    return entity if isinstance(entity, dict) else {}


def _failure(
    what: str, status: int | None, body: dict[str, Any], retry_after: str | None
) -> LinkedInError:
    code = body.get("code") or body.get("serviceErrorCode")
    shown = f"{status}{f' {code}' if code else ''}"
    if status == 429:
        after = float(retry_after) if retry_after and retry_after.isdigit() else None
        return LinkedInThrottled(f"LinkedIn throttled the {what} (429)", retry_after=after)
    if status == 401:
        return LinkedInTokenRejected(f"LinkedIn refused the {what} ({shown})", status=401)
    if status is None or status >= 500 or status == 200:
        return LinkedInUnavailable(f"LinkedIn's {what} answered {status or 'nothing'}")
    return LinkedInRejected(
        f"LinkedIn refused the {what} ({shown})", status=status, code=str(code) if code else None
    )
