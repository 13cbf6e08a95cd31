"""`advocacy run --demo`: a demo organisation whose every admin page has something to show.

Everything is made through the public API with the admin key, so the demo walks the real paths
(validation, events, the services' own copies): the organisation and one member of each role, a
pilot program, a consent text, a dozen ambassadors (three on the leadership track) who consented
and were trained, compliance rules, a content library in every status of its workflow, posts of
the ambassadors reported on the manual path (LinkedIn's share link, the sandbox's URLs), and a
month of analytics snapshots: the company page's posts over the last 28 days and the ambassadors'
posts as measured now (the API dates a post when it is reported, so their history starts today).

Running it again changes nothing that is there: each step looks for what it would make first.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import httpx

from advocacy_shared.linkedin.posts import urn_made_at

log = logging.getLogger(__name__)

SLUG = "demo"
PASSWORD = "demo password 2027"  # noqa: S105 - printed on purpose: a demo on one machine
"""The demo members' password, printed by `advocacy run --demo`."""
ROLES = ("org_admin", "program_manager", "leadership_viewer", "analyst")
CONSENT_VERSION = "demo-1"
CONSENT_TEXT = (
    "I agree that the program may suggest content to me, post on LinkedIn on my behalf when I "
    "schedule a post, and collect the analytics of my posts. I can withdraw at any time."
)
PROGRAM: dict[str, Any] = {
    "name": "LinkedIn pilot",
    "owner": "Head of communications",
    "objectives": ["Sales & lead generation", "Qualified applicants"],
    "disciplines": ["social_selling", "employer_branding"],
    "capacity": {"fte_share": 0.5},
    "awareness_topics": ["cloud security"],
}
PEOPLE = [
    ("Astrid Holm", ["sales_marketing"], ["cloud security", "customers"], False),
    ("Bo Lindqvist", ["specialist"], ["cloud security", "ai"], False),
    ("Camilla Berg", ["sales_marketing"], ["customers", "sustainability"], False),
    ("Dennis Møller", ["specialist"], ["ai", "data"], False),
    ("Emma Friis", ["everyone"], ["culture", "hiring"], False),
    ("Frederik Dahl", ["specialist"], ["data", "cloud security"], False),
    ("Gitte Nørgaard", ["everyone"], ["hiring", "culture"], False),
    ("Hans Kjær", ["sales_marketing"], ["sustainability"], False),
    ("Ida Skov", ["specialist"], ["ai"], False),
    ("Jens Vestergaard", ["leadership"], ["vision", "sustainability"], True),
    ("Karen Lund", ["leadership"], ["culture", "vision"], True),
    ("Lars Bech", ["leadership"], ["customers", "vision"], True),
]
QUIET = {"Hans Kjær", "Ida Skov"}
"""Ambassadors who have not posted: the momentum table and the suggestion nudge show them."""
RULES = {
    "required_disclosure": None,
    "blocked_phrases": ["guaranteed returns", "confidential"],
    "allowed_link_domains": ["example.com", "linkedin.com"],
}
ITEMS: list[tuple[str, str, str, list[str], str]] = [
    # (title, kind, final status, topics, body)
    (
        "How Nordfjord cut cloud costs by 30 %",
        "customer_case",
        "approved",
        ["cloud security", "customers"],
        "Nordfjord moved its analytics to our platform and cut its cloud bill by a third.",
    ),
    (
        "Why AI needs good data first",
        "industry_theme",
        "approved",
        ["ai", "data"],
        "Most AI projects stall on data quality. Here is what we learned from twenty of them.",
    ),
    (
        "We are hiring cloud engineers in Aarhus",
        "vacancy",
        "approved",
        ["hiring", "cloud security"],
        "Join the team that keeps 400 customers' systems secure. Apply by the end of the month.",
    ),
    (
        "Our 2030 sustainability goals",
        "vision",
        "approved",
        ["sustainability", "vision"],
        "By 2030 our data centres run on renewable power. The roadmap, step by step.",
    ),
    (
        "Meet us at the Copenhagen security summit",
        "event",
        "approved",
        ["cloud security", "customers"],
        "Three talks and a booth: come and say hello at the summit next month.",
    ),
    (
        "A week with our graduate programme",
        "company_news",
        "approved",
        ["culture", "hiring"],
        "Five graduates tell what their first week looked like.",
    ),
    (
        "Quarterly results, in plain words",
        "company_news",
        "in_review",
        ["vision"],
        "What the quarter meant for customers and colleagues, without the jargon.",
    ),
    (
        "Draft: customer story from Vestbank",
        "customer_case",
        "draft",
        ["customers"],
        "Vestbank's fraud team and ours: a story still waiting for the customer's approval.",
    ),
    (
        "Last year's summer party",
        "company_news",
        "retired",
        ["culture"],
        "Photos and thanks from last year's summer party.",
    ),
]


@dataclass
class DemoSummary:
    organisation_id: str
    ambassadors: int
    items: int
    posts: int
    snapshots: int


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), 30.0)
    except ValueError:
        return 1.0


class Demo:
    """The demo's steps over one HTTP client carrying the admin key."""

    def __init__(self, client: httpx.AsyncClient, timeout: float = 120.0) -> None:
        self.http = client
        self.timeout = timeout
        self.org = ""
        self.random = random.Random(2027)
        self.start = datetime.now(UTC)

    @property
    def base(self) -> str:
        return f"/api/v1/orgs/{self.org}"

    async def call(
        self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kw: Any
    ) -> Any:
        response = await self._within_rate_limit(method, path, **kw)
        if response.status_code not in expect:
            raise DemoError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    async def _within_rate_limit(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The request, sent again after the wait the gateway names when it answers 429: the demo
        makes more calls than the admin key's burst allows on a fast machine, and a refused
        request did nothing, so sending it again is safe."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            response = await self.http.request(method, path, **kw)
            if response.status_code != 429 or asyncio.get_running_loop().time() > deadline:
                return response
            await asyncio.sleep(_retry_after(response))

    async def every(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = await self.call("GET", path, params=params)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def until(self, what: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        """Retry while a service has not yet learnt of what was just made (its copy is an event
        away): a 404, a 409 or a 503 now is a 2xx a moment later."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            try:
                return await attempt()
            except DemoError as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise DemoError(f"{what}: {exc}") from exc
            await asyncio.sleep(0.3)

    # --- The steps ---

    async def organisation(self) -> None:
        orgs = await self.every("/api/v1/orgs")
        found = next((o for o in orgs if o.get("slug") == SLUG), None)
        if found is None:
            found = await self.call("POST", "/api/v1/orgs", json={"name": "Demo A/S", "slug": SLUG})
        self.org = found["id"]
        await self.until("the playbook", lambda: self.call("GET", f"{self.base}/playbook"))

    async def members(self) -> None:
        for role in ROLES:
            body = {
                "email": email(role),
                "display_name": role.replace("_", " ").title(),
                "role": role,
                "password": PASSWORD,
            }
            await self.call("POST", f"{self.base}/members", expect=(201, 409), json=body)

    async def program(self) -> str:
        programs = await self.every(f"{self.base}/programs")
        found = next((p for p in programs if p["name"] == PROGRAM["name"]), None)
        if found is None:
            start = (date.today() - timedelta(days=35)).isoformat()
            found = await self.call(
                "POST", f"{self.base}/programs", json={**PROGRAM, "start_date": start}
            )
        return str(found["id"])

    async def ambassadors(self, program_id: str) -> dict[str, dict[str, Any]]:
        texts = await self.call("GET", f"{self.base}/consent-texts")
        if not any(t["version"] == CONSENT_VERSION for t in texts["items"]):
            await self.call(
                "POST",
                f"{self.base}/consent-texts",
                json={"version": CONSENT_VERSION, "text": CONSENT_TEXT},
            )
        existing = {a["email"]: a for a in await self.every(f"{self.base}/ambassadors")}
        people: dict[str, dict[str, Any]] = {}
        for name, segments, topics, leader in PEOPLE:
            address = f"{name.split()[0].lower()}@demo.example"
            person = existing.get(address)
            if person is None:
                profile = {
                    "segments": segments,
                    "topics": topics,
                    "languages": ["da", "en"],
                    "leadership": leader,
                }
                person = await self.call(
                    "POST",
                    f"{self.base}/ambassadors",
                    json={
                        "display_name": name,
                        "email": address,
                        "program_id": program_id,
                        "profile": profile,
                    },
                )
            if person["state"] == "invited":
                consent = {
                    "consent_version": CONSENT_VERSION,
                    "consent_text": CONSENT_TEXT,
                    "allows_posting": True,
                    "allows_analytics": True,
                }
                await self.call(
                    "POST", f"{self.base}/ambassadors/{person['id']}/consent", json=consent
                )
                await self.call(
                    "POST",
                    f"{self.base}/ambassadors/{person['id']}/trainings",
                    json={"enablement_format": "workshop"},
                )
                # The profile given at the invitation reaches the content service (topics and
                # languages for the suggestions) only with a profile change, so one is made.
                await self.call(
                    "PUT", f"{self.base}/ambassadors/{person['id']}/profile", json=person["profile"]
                )
            people[name] = person
        return people

    async def library(self) -> list[dict[str, Any]]:
        rules_path = f"{self.base}/compliance/rules"
        rules = await self.until("the compliance rules", partial(self.call, "GET", rules_path))
        if {key: rules[key] for key in RULES} != RULES:
            await self.call("PUT", rules_path, json=RULES)
        existing = {i["title"]: i for i in await self.every(f"{self.base}/content")}
        items = []
        for title, kind, status, topics, body in ITEMS:
            item = existing.get(title) or await self.call(
                "POST",
                f"{self.base}/content",
                json={
                    "title": title,
                    "kind": kind,
                    "topics": topics,
                    "body": body,
                    "language": "en",
                    "disciplines": ["social_selling"]
                    if kind in {"customer_case", "event"}
                    else ["employer_branding"],
                    "segments": ["everyone"],
                    "link": "https://example.com/news",
                },
            )
            item = await self.advance(item, status)
            items.append(item)
        return items

    async def advance(self, item: dict[str, Any], status: str) -> dict[str, Any]:
        path = f"{self.base}/content/{item['id']}"
        order = ["draft", "in_review", "approved", "retired"]
        while order.index(item["status"]) < order.index(status):
            if item["status"] == "draft":
                item = await self.call("POST", f"{path}/submit")
            elif item["status"] == "in_review":
                item = await self.call(
                    "POST",
                    f"{path}/review",
                    json={"decision": "approve", "note": "Fits the pilot's objectives."},
                )
            else:
                item = await self.call("POST", f"{path}/retire", json={"note": "Out of season."})
        return item

    async def posts(
        self, people: dict[str, dict[str, Any]], items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        approved = [i for i in items if i["status"] == "approved"]
        published = []
        for index, (name, person) in enumerate(people.items()):
            if name in QUIET:
                continue
            path = f"{self.base}/ambassadors/{person['id']}/posts"
            mine = await self.every(path)
            wanted = 1 + index % 3
            for number in range(len(mine), wanted):
                item = approved[(index + number) % len(approved)]
                body = {
                    "text": f"{item['title']}: {item['body']} #{name.split()[0].lower()}",
                    "content_item_id": item["id"],
                    "path": "manual",
                    "language": "en",
                    "scheduled_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                }
                await self.until(f"a post for {name}", partial(self.call, "POST", path, json=body))
            # The ambassador posted through the share link on a day of the past month and the
            # link is reported: published on the day its LinkedIn id carries.
            for number, post in enumerate(await self.every(path)):
                if post["state"] == "scheduled":
                    went_out = self.start - timedelta(days=2 + (index * 7 + number * 11) % 26)
                    urn = urn_made_at(went_out, self.random.randrange(1 << 22))
                    url = f"https://www.linkedin.com/feed/update/{urn}/"
                    await self.call(
                        "POST", f"{self.base}/posts/{post['id']}/published", json={"url": url}
                    )
            published += [p for p in await self.every(path) if p["state"] == "published"]
        return published

    async def snapshots(self, program_id: str, posts: list[dict[str, Any]]) -> int:
        noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        rows: list[dict[str, Any]] = []
        for day in range(1, 29, 3):  # the company page posted every third day this month
            observed = noon - timedelta(days=day)
            impressions = 900 + self.random.randrange(900)
            rows.append(
                {
                    "row": len(rows) + 1,
                    "company_post_urn": f"urn:li:share:{7_100_000_000_000_000_000 + day}",
                    "program_id": program_id,
                    "observed_at": observed.isoformat(),
                    "impressions": impressions,
                    "members_reached": impressions * 3 // 4,
                    "reactions": 8 + day % 7,
                    "comments": day % 3,
                    "reshares": day % 2,
                }
            )
        for post in posts:
            known = partial(self.call, "GET", f"{self.base}/metrics/posts/{post['id']}")
            await self.until("the metrics service's copy of a post", known)
            rows += [
                {"row": len(rows) + number + 1, "post_id": post["id"], **counts}
                for number, counts in enumerate(post_snapshots(post, self.start))
            ]
        result = await self.call("POST", f"{self.base}/metrics/imports", json=rows)
        if result["failures"]:
            raise DemoError(f"snapshots refused: {result['failures'][:3]}")
        return int(result["stored"]) + int(result["duplicates"])


SNAPSHOT_AGES = (
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=4),
    timedelta(days=7),
    timedelta(days=14),
    timedelta(days=21),
)
"""When the demo observes a post after it went out: often at first, rarer later, as polling does."""


def post_snapshots(post: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """A post's engagement growing as a real post's does (most of it in the first days), observed
    at `SNAPSHOT_AGES` up to `now`. The values come from the post's id, so running the demo again
    the same day repeats the same rows (duplicates: nothing new)."""
    went_out = datetime.fromisoformat(post["published_at"])
    final = 600 + int(hashlib.sha256(post["id"].encode()).hexdigest()[:8], 16) % 3000
    rows = []
    for age in SNAPSHOT_AGES:
        if went_out + age > now:
            break
        impressions = round(final * (1 - math.exp(-age / timedelta(days=2))))
        rows.append(
            {
                "observed_at": (went_out + age).isoformat(),
                "impressions": impressions,
                "members_reached": impressions * 4 // 5,
                "reactions": impressions // 40,
                "comments": impressions // 300,
                "reshares": impressions // 700,
                "clicks": impressions // 90,
            }
        )
    return rows


class DemoError(Exception):
    """A step of the demo the platform refused."""


def email(role: str) -> str:
    return f"{role.replace('_', '.')}@demo.example"


async def seed(base_url: str, admin_key: str, timeout: float = 120.0) -> DemoSummary:
    """Make (or find) the demo organisation and its month of activity."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        demo = Demo(client, timeout)
        await demo.organisation()
        await demo.members()
        program_id = await demo.program()
        people = await demo.ambassadors(program_id)
        items = await demo.library()
        posts = await demo.posts(people, items)
        snapshots = await demo.snapshots(program_id, posts)
        return DemoSummary(demo.org, len(people), len(items), len(posts), snapshots)


def sign_in_text(base_url: str) -> str:
    lines = [f"  demo:          {base_url}/admin, organisation `{SLUG}`, password `{PASSWORD}`, as"]
    lines += [f"                 {email(role)}" for role in ROLES]
    return "\n".join(lines) + "\n"
