"""The LinkedIn sandbox's analytics (linkedin-api.md sections 5 and 6), with engagement that grows
over time like a real post's, and a clock tests fast-forward.

- `GET /rest/memberCreatorPostAnalytics` (scope `r_member_postAnalytics`; the caller's own posts
  only): `q=entity&entity=(share:urn%3Ali%3Ashare%3AN)` (or `(ugc:…)`) or `q=me`; `queryType`
  IMPRESSION, MEMBERS_REACHED, REACTION, COMMENT or RESHARE (one a call, required);
  `aggregation` TOTAL (one element) or DAILY (one a day of `dateRange`, needed; MEMBERS_REACHED
  is TOTAL only). Elements carry `count`, `metricType` as the Rest.li union, `targetEntity`
  (`q=entity`) and `dateRange` (`{}` for TOTAL).
- `GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=…`
  (scope `rw_organization_admin`): lifetime totals of the page, or per share with
  `shares=List(…)`, or per day with `timeIntervals=(timeRange:(start:ms,end:ms),
  timeGranularityType:DAY)` (buckets omit `uniqueImpressionsCount`, as LinkedIn's do).
- Both check `LinkedIn-Version`, `X-Restli-Protocol-Version` and the token as the Posts API does
  (400, 426, 401), refuse a malformed Rest.li parameter with a 400, and answer 429 past
  `analytics_calls_per_member_per_day` calls a member a UTC day (no `Retry-After`: LinkedIn
  documents none; `/sandbox/faults` can queue 429s with one).

**The growth model.** A post's counts are a deterministic function of the sandbox's `seed`, the
post's URN and its age: impressions approach a potential `P` (800-6000 for a member, 60-600 for a
company page, drawn from the seed and URN) as `P * (1 - exp(-age / 20 h))`, so a post gains most
in its first day, little after three, and stops changing after about a week (`P * exp(-age/τ)`
falls under one impression); members reached, reactions, comments, reshares and clicks are
fixed shares of the impressions, drawn the same way. The same post at the same age always shows
the same counts, in any run.

**The clock.** Sandbox only: `POST /sandbox/clock` `{"advance_seconds": N}` moves the sandbox's
clock forward (posts age, tokens expire, daily quotas roll over), `GET /sandbox/clock` shows it;
tests call `AnalyticsState.advance` directly. `POST /sandbox/organizations/{id}/posts`
`{"count": N}` writes company-page posts; `POST /sandbox/tokens` `{"scopes": [...]}` hands a
token as the Developer Portal's token generator does (an organisation admin's, for example).
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from advocacy_devtools.linkedin_sandbox_posts import (
    PostsState,
    SandboxPost,
    _error,
    bearer,
    versioned,
)
from advocacy_shared.linkedin.posts import urn_made_at

if TYPE_CHECKING:
    from advocacy_devtools.linkedin_sandbox import SandboxState

QUERY_TYPES = ("IMPRESSION", "MEMBERS_REACHED", "REACTION", "COMMENT", "RESHARE")
METRIC_TYPE_UNION = (
    "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1"
)
GROWTH_HOURS = 20.0
"""τ of the growth curve: about 63 % of a post's impressions come in its first 20 hours."""
_ORGANIZATION = re.compile(r"^urn:li:organization:\d{1,20}$")


class RestliSyntaxError(ValueError):
    """A query value that is not Rest.li 2.0 (`(k:v)`, `List(a,b)`, percent-encoded leaves)."""


def parse_restli(value: str) -> Any:
    """A Rest.li 2.0 query value: `(k:v,k2:(x:1))` a dict, `List(a,b)` a list, a leaf a
    percent-decoded string. Keys in any order, as the client sorts them."""
    parsed, rest = _parse(value, 0)
    if rest != len(value):
        raise RestliSyntaxError(f"unexpected {value[rest : rest + 10]!r}")
    return parsed


def _parse(text: str, at: int) -> tuple[Any, int]:
    if text.startswith("List(", at):
        items: list[Any] = []
        at += 5
        while at < len(text) and text[at] != ")":
            item, at = _parse(text, at)
            items.append(item)
            if at < len(text) and text[at] == ",":
                at += 1
        return items, _expect(text, at, ")")
    if at < len(text) and text[at] == "(":
        record: dict[str, Any] = {}
        at += 1
        while at < len(text) and text[at] != ")":
            key_end = text.find(":", at)
            if key_end < 0:
                raise RestliSyntaxError("a key without a value")
            key = unquote(text[at:key_end])
            record[key], at = _parse(text, key_end + 1)
            if at < len(text) and text[at] == ",":
                at += 1
        return record, _expect(text, at, ")")
    end = at
    while end < len(text) and text[end] not in "(),:":
        end += 1
    return unquote(text[at:end]), end


def raw_params(query: str) -> dict[str, Any]:
    """The query's parameters, read as LinkedIn does: from the raw string, since decoding first
    would merge an encoded `:` in a URN with Rest.li's own syntax."""
    params: dict[str, Any] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, raw = pair.partition("=")
        structured = raw.startswith(("(", "List("))
        params[unquote(key)] = parse_restli(raw) if structured else unquote(raw)
    return params


def _expect(text: str, at: int, char: str) -> int:
    if at >= len(text) or text[at] != char:
        raise RestliSyntaxError(f"expected {char!r}")
    return at + 1


@dataclass(frozen=True)
class Profile:
    """A post's potential and rates, drawn from the seed and its URN."""

    potential: int
    reached: float
    reactions: float
    comments: float
    reshares: float
    clicks: float


def profile(seed: int, urn: str, company: bool) -> Profile:
    digest = hashlib.sha256(f"{seed}:{urn}".encode()).digest()
    draw = random.Random(int.from_bytes(digest[:8], "big"))
    if company:
        return Profile(
            potential=draw.randint(60, 600),
            reached=draw.uniform(0.5, 0.7),
            reactions=draw.uniform(0.008, 0.02),
            comments=draw.uniform(0.001, 0.003),
            reshares=draw.uniform(0.0005, 0.0015),
            clicks=draw.uniform(0.005, 0.015),
        )
    return Profile(
        potential=draw.randint(800, 6000),
        reached=draw.uniform(0.55, 0.8),
        reactions=draw.uniform(0.015, 0.04),
        comments=draw.uniform(0.002, 0.006),
        reshares=draw.uniform(0.001, 0.003),
        clicks=draw.uniform(0.005, 0.02),
    )


def counts_at(seed: int, urn: str, age: timedelta, *, company: bool = False) -> dict[str, int]:
    """The post's lifetime counts at `age` (none before it exists): non-decreasing in `age`."""
    shape = profile(seed, urn, company)
    hours = max(age.total_seconds() / 3600.0, 0.0)
    impressions = math.floor(shape.potential * (1.0 - math.exp(-hours / GROWTH_HOURS)))
    return {
        "IMPRESSION": impressions,
        "MEMBERS_REACHED": math.floor(impressions * shape.reached),
        "REACTION": math.floor(impressions * shape.reactions),
        "COMMENT": math.floor(impressions * shape.comments),
        "RESHARE": math.floor(impressions * shape.reshares),
        "CLICK": math.floor(impressions * shape.clicks),
    }


@dataclass
class AnalyticsState:
    """The seed, the fast-forward and the analytics calls counted per member and UTC day."""

    seed: int
    offset: timedelta = timedelta(0)
    calls_per_member_per_day: int = 100_000
    calls: dict[tuple[str, str], int] = field(default_factory=dict)
    entity_calls: dict[str, int] = field(default_factory=dict)
    """Calls per post URN (every query type): what tests count."""

    def advance(self, by: timedelta) -> None:
        """Move the sandbox's clock forward by `by`."""
        self.offset += by


class AdvanceIn(BaseModel):
    advance_seconds: float = Field(ge=0, le=400 * 86_400)


class CompanyPostsIn(BaseModel):
    count: int = Field(default=1, ge=1, le=100)


class TokenRequest(BaseModel):
    scopes: list[str] = Field(min_length=1, max_length=20)


def _daily_range(raw: Any) -> tuple[date, date] | None:
    try:
        start, end = raw["start"], raw["end"]
        first = date(int(start["year"]), int(start["month"]), int(start["day"]))
        last = date(int(end["year"]), int(end["month"]), int(end["day"]))
    except (KeyError, TypeError, ValueError):
        return None
    return (first, last) if first < last and (last - first).days <= 366 else None


def _day(moment: date) -> dict[str, int]:
    return {"year": moment.year, "month": moment.month, "day": moment.day}


def _midnight(moment: date) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def mount_analytics(app: FastAPI, state: SandboxState, posts: PostsState) -> AnalyticsState:
    """Add the analytics endpoints, the clock and the company-page helpers to the sandbox."""
    analytics = AnalyticsState(
        seed=state.settings.analytics_seed,
        calls_per_member_per_day=state.settings.analytics_calls_per_member_per_day,
    )
    app.state.analytics = analytics
    real_clock = state.clock
    state.clock = lambda: real_clock() + analytics.offset
    member = f"urn:li:person:{state.settings.member_sub}"

    def checked(
        request: Request, resource: str, needs: str
    ) -> tuple[dict[str, Any], Response | None]:
        version, refusal = versioned(request)
        if refusal is not None:
            return {}, refusal
        scopes, refusal = bearer(state, request)
        if refusal is not None:
            return {}, refusal
        if needs not in scopes:
            return {}, _error(
                403,
                f"Not enough permissions to access: {resource}.FINDER.{version}01",
                "ACCESS_DENIED",
                serviceErrorCode=100,
            )
        try:
            return raw_params(request.url.query), None
        except RestliSyntaxError as exc:
            return {}, _error(400, f"Invalid query parameter: {exc}", "ILLEGAL_ARGUMENT")

    def throttled() -> Response | None:
        day = (member, state.clock().astimezone(UTC).date().isoformat())
        analytics.calls[day] = analytics.calls.get(day, 0) + 1
        if analytics.calls[day] > analytics.calls_per_member_per_day:
            return _error(429, "Resource level throttle limit for calls to this resource")
        return None

    def age(post: SandboxPost, at: datetime | None = None) -> timedelta:
        return (at or state.clock()) - post.created_at

    def element(count: int, query_type: str, target: dict[str, str] | None, span: Any) -> Any:
        shown: dict[str, Any] = {"count": count, "metricType": {METRIC_TYPE_UNION: query_type}}
        if target is not None:
            shown["targetEntity"] = target
        shown["dateRange"] = span
        return shown

    def member_counts(
        chosen: list[SandboxPost], query_type: str, at: datetime | None = None
    ) -> int:
        return sum(
            counts_at(analytics.seed, p.urn, age(p, at))[query_type]
            for p in chosen
            if (at or state.clock()) >= p.created_at
        )

    @app.get("/rest/memberCreatorPostAnalytics", response_model=None, tags=["analytics"])
    async def member_post_analytics(request: Request) -> Response:
        params, refusal = checked(request, "memberCreatorPostAnalytics", "r_member_postAnalytics")
        if refusal is not None:
            return refusal
        query_type = params.get("queryType")
        if query_type not in QUERY_TYPES:
            return _error(400, "queryType is required: one of " + ", ".join(QUERY_TYPES))
        aggregation = params.get("aggregation", "TOTAL")
        if aggregation not in ("TOTAL", "DAILY"):
            return _error(400, f"Invalid aggregation {str(aggregation)[:20]!r}")
        if aggregation == "DAILY" and query_type == "MEMBERS_REACHED":
            return _error(400, "MEMBERS_REACHED supports the TOTAL aggregation only")
        target: dict[str, str] | None = None
        if params.get("q") == "entity":
            entity = params.get("entity")
            if not isinstance(entity, dict) or len(entity) != 1:
                return _error(400, "entity must be (share:<urn>) or (ugc:<urn>)")
            ((kind, urn),) = entity.items()
            if kind not in ("share", "ugc") or not isinstance(urn, str):
                return _error(400, "entity must be (share:<urn>) or (ugc:<urn>)")
            post = posts.posts.get(urn)
            if post is None:
                return _error(404, f"Post {urn[:60]} not found", "NOT_FOUND")
            if post.author != member:
                return _error(
                    403,
                    "Analytics are available for the member's own posts only",
                    "ACCESS_DENIED",
                    serviceErrorCode=100,
                )
            chosen, target = [post], {kind: urn}
        elif params.get("q") == "me":
            chosen = posts.by_author(member)
        else:
            return _error(400, "Finder q=entity or q=me is required", "INVALID_FINDER")
        refusal = throttled()
        if refusal is not None:
            return refusal
        for post in chosen:
            analytics.entity_calls[post.urn] = analytics.entity_calls.get(post.urn, 0) + 1
        if aggregation == "TOTAL":
            elements = [element(member_counts(chosen, query_type), query_type, target, {})]
        else:
            span = _daily_range(params.get("dateRange"))
            if span is None:
                return _error(400, "dateRange (start, end) is required for DAILY, end after start")
            elements = []
            day = span[0]
            while day < span[1]:
                start, end = _midnight(day), _midnight(day + timedelta(days=1))
                gained = member_counts(chosen, query_type, end) - member_counts(
                    chosen, query_type, start
                )
                range_ = {"start": _day(day), "end": _day(day + timedelta(days=1))}
                elements.append(element(max(gained, 0), query_type, target, range_))
                day += timedelta(days=1)
        return JSONResponse(
            {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}
        )

    def statistics(urns: list[str], at: datetime, *, unique: bool) -> dict[str, Any]:
        totals = {"IMPRESSION": 0, "MEMBERS_REACHED": 0, "REACTION": 0, "COMMENT": 0}
        totals |= {"RESHARE": 0, "CLICK": 0}
        for urn in urns:
            post = posts.posts[urn]
            if at >= post.created_at:
                for name, value in counts_at(
                    analytics.seed, urn, at - post.created_at, company=True
                ).items():
                    totals[name] += value
        engaged = totals["CLICK"] + totals["REACTION"] + totals["COMMENT"] + totals["RESHARE"]
        shown = {
            "impressionCount": totals["IMPRESSION"],
            "clickCount": totals["CLICK"],
            "likeCount": totals["REACTION"],
            "commentCount": totals["COMMENT"],
            "shareCount": totals["RESHARE"],
            "engagement": engaged / totals["IMPRESSION"] if totals["IMPRESSION"] else 0.0,
        }
        if unique:
            shown["uniqueImpressionsCount"] = totals["MEMBERS_REACHED"]
        return shown

    def bucket_stats(urns: list[str], start: datetime, end: datetime) -> dict[str, Any]:
        later, earlier = statistics(urns, end, unique=False), statistics(urns, start, unique=False)
        shown = {k: later[k] - earlier[k] for k in later if k != "engagement"}
        engaged = shown["clickCount"] + shown["likeCount"] + shown["commentCount"]
        engaged += shown["shareCount"]
        shown["engagement"] = (
            engaged / shown["impressionCount"] if shown["impressionCount"] else 0.0
        )
        return shown

    @app.get("/rest/organizationalEntityShareStatistics", response_model=None, tags=["analytics"])
    async def share_statistics(request: Request) -> Response:
        params, refusal = checked(
            request, "organizationalEntityShareStatistics", "rw_organization_admin"
        )
        if refusal is not None:
            return refusal
        organization = params.get("organizationalEntity")
        if params.get("q") != "organizationalEntity" or not isinstance(organization, str):
            return _error(400, "Finder q=organizationalEntity with an organizationalEntity")
        if not _ORGANIZATION.match(organization):
            return _error(400, f"Invalid organizationalEntity {organization[:60]!r}")
        own = [p.urn for p in posts.by_author(organization)]
        wanted = params.get("shares")
        if wanted is not None:
            if not isinstance(wanted, list) or not all(isinstance(u, str) for u in wanted):
                return _error(400, "shares must be List(<share urn>,...)")
            unknown = [u for u in wanted if u not in own]
            if unknown:
                return _error(
                    403, f"{unknown[0][:60]} is not a post of {organization}", "ACCESS_DENIED"
                )
        refusal = throttled()
        if refusal is not None:
            return refusal
        now = state.clock()
        intervals = params.get("timeIntervals")
        if intervals is not None:
            try:
                granularity = intervals["timeGranularityType"]
                start_ms = int(intervals["timeRange"]["start"])
                end_ms = int(intervals["timeRange"]["end"])
            except (KeyError, TypeError, ValueError):
                return _error(
                    400, "timeIntervals=(timeRange:(start:ms,end:ms),timeGranularityType:DAY)"
                )
            if granularity != "DAY" or end_ms <= start_ms or end_ms - start_ms > 366 * 86_400_000:
                return _error(400, "the sandbox answers DAY buckets of up to 366 days")
            elements = []
            for bucket in range(start_ms, end_ms, 86_400_000):
                start = datetime.fromtimestamp(bucket / 1000, UTC)
                end = min(start + timedelta(days=1), now)
                if end <= start:
                    break
                elements.append(
                    {
                        "organizationalEntity": organization,
                        "timeRange": {"start": bucket, "end": bucket + 86_400_000},
                        "totalShareStatistics": bucket_stats(wanted or own, start, end),
                    }
                )
        elif wanted is not None:
            elements = [
                {
                    "organizationalEntity": organization,
                    "share": urn,
                    "totalShareStatistics": statistics([urn], now, unique=True),
                }
                for urn in wanted
            ]
        else:
            elements = [
                {
                    "organizationalEntity": organization,
                    "totalShareStatistics": statistics(own, now, unique=True),
                }
            ]
        return JSONResponse(
            {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}
        )

    @app.get("/sandbox/clock", tags=["sandbox"])
    async def clock() -> dict[str, Any]:
        """Sandbox only: the sandbox's time and how far it was moved forward."""
        return {
            "now": state.clock().isoformat(),
            "offset_seconds": analytics.offset.total_seconds(),
        }

    @app.post("/sandbox/clock", tags=["sandbox"])
    async def advance(body: AdvanceIn) -> dict[str, Any]:
        """Sandbox only: move the clock forward (posts age and gain engagement)."""
        analytics.advance(timedelta(seconds=body.advance_seconds))
        return await clock()

    @app.post("/sandbox/organizations/{organization_id}/posts", tags=["sandbox"])
    async def company_posts(organization_id: int, body: CompanyPostsIn) -> list[str]:
        """Sandbox only: the company page `urn:li:organization:{id}` posts `count` times now."""
        author = f"urn:li:organization:{organization_id}"
        made = []
        for number in range(body.count):
            urn = urn_made_at(state.clock(), secrets.randbits(22))
            commentary = f"Company update {number + 1}"
            posts.posts[urn] = SandboxPost(
                urn=urn,
                author=author,
                commentary=commentary,
                body={"author": author, "commentary": commentary, "visibility": "PUBLIC"},
                created_at=state.clock(),
                via="company page",
            )
            made.append(urn)
        return made

    @app.post("/sandbox/tokens", tags=["sandbox"])
    async def token(body: TokenRequest) -> dict[str, Any]:
        """Sandbox only: a token with `scopes`, as the Developer Portal's token generator gives
        (an organisation admin's `rw_organization_admin`, for example)."""
        lifetime = state.settings.token_lifetime_seconds
        made = state.issue_token(state.settings.client_id, tuple(body.scopes))
        return {"access_token": made, "expires_in": lifetime}

    return analytics
