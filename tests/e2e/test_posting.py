"""Posting through the gateway, the content service and the LinkedIn sandbox (through the real
`linkedin-api-client`): scheduled -> posted -> `PostPublished` consumed elsewhere; exactly once
across a crash between LinkedIn's answer and the commit; 401 asks to reconnect; 429 waits;
consent revoked cancels within 5 s; the manual path; bad input refused with nothing posted."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import text

from advocacy_content import posting
from advocacy_content.rpc import posting_wiring
from advocacy_devtools.linkedin_sandbox_posts import PostsState
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.content import PostPublished, PostWithdrawn
from advocacy_shared.contracts.linkedin import LinkedInConnectionExpired
from advocacy_shared.contracts.posts import PostReminderRaised, ReconnectRequested
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.linkedin import MEMBER_SCOPES
from advocacy_shared.linkedin.posts import escape_little_text
from advocacy_shared.topology import Topology
from tests.conftest import Platform
from tests.e2e.test_ambassadors import invite, published_until
from tests.e2e.test_content import ENGLISH_ITEM, OFFICE_ITEM, approved_item, call, content_ready
from tests.e2e.test_linkedin import of_type
from tests.e2e.test_skeleton import create_organisation
from tests.linkedin import connect, connected, consented, linkedin_settings
from tests.shared.helpers import polls, read_all

TEXT = "Vi søger en ny kollega (igen)! #hiring @team: læs mere_her"


@pytest.fixture
def member_scopes() -> tuple[str, ...]:
    """The scopes ambassadors grant when they connect (a test parametrizes this)."""
    return MEMBER_SCOPES


@pytest.fixture
def service_overrides(
    sandbox: FastAPI, member_scopes: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    linkedin = linkedin_settings(sandbox.state.url, member_scopes)
    return {
        "ambassadors": {"linkedin": linkedin},
        "content": {
            "linkedin": linkedin,
            "posting_poll_seconds": 0.1,
            "posting_lease_seconds": 0.5,
            "posting_retry_seconds": 0.2,
        },
    }


def sandbox_posts(sandbox: FastAPI) -> PostsState:
    posts: PostsState = sandbox.state.posts
    return posts


def soon(seconds: float = 0.5) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def write(platform: Platform, base: str, **fields: Any) -> httpx.Response:
    return await platform.http.post(
        f"{base}/posts", json={"text": TEXT, **fields}, headers=platform.auth
    )


async def post_when(
    platform: Platform, org: str, post_id: str, *states: str, timeout: float = 30.0
) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for _ in polls(timeout):
        shown = (
            await platform.http.get(f"/api/v1/orgs/{org}/posts/{post_id}", headers=platform.auth)
        ).json()
        if shown.get("state") in states:
            return shown
        await asyncio.sleep(0.05)
    raise AssertionError(shown)


async def content_events(
    nats_client: NatsClient, topology: Topology, *kinds: type[EventData]
) -> list[CloudEvent]:
    messages = await read_all(
        nats_client.jetstream(), topology.stream_name("content"), "*.content.>"
    )
    wanted = {kind.spec.type for kind in kinds}
    return [e for e in (CloudEvent.from_bytes(m.data) for m in messages) if e.type in wanted]


async def content_events_until(
    nats_client: NatsClient, topology: Topology, kind: type[EventData], count: int = 1
) -> list[CloudEvent]:
    found: list[CloudEvent] = []
    for _ in polls():
        found = await content_events(nats_client, topology, kind)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(found)


async def rows(platform: Platform, query: str, **params: Any) -> list[Any]:
    """The content service's database, read directly (also while the service is down)."""
    engine = create_engine(platform.settings["content"].effective_database_url())
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(text(query), params)).all())
    finally:
        await engine.dispose()


async def test_a_scheduled_post_is_published_through_the_client_and_consumed_by_another_service(
    platform: Platform, sandbox: FastAPI, nats_client: NatsClient, topology: Topology
) -> None:
    # Another service's durable consumer of the fact (the metrics service's role).
    js = nats_client.jetstream()
    consumer = await js.pull_subscribe(
        PostPublished.spec.subject(topology),
        durable="test_metrics_posts",
        stream=topology.stream_name("content"),
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
    )
    org = await content_ready(platform)
    base = await connected(platform, org, "ada@acme.dk")
    item = UUID((await approved_item(platform, org, OFFICE_ITEM))["id"])

    written = await write(
        platform,
        base,
        scheduled_at=soon(1.0),
        content_item_id=str(item),
        discipline="employer_branding",
        language="da",
        topics=["rekruttering"],
    )

    assert written.status_code == 201, written.text
    post = written.json()
    assert (post["state"], post["path"], post["attempts"]) == ("scheduled", "api", 0)
    assert written.headers["location"] == f"/api/v1/orgs/{org}/posts/{post['id']}"
    assert sandbox_posts(sandbox).posts == {}  # not before its time
    published = await post_when(platform, org, post["id"], "published", "failed")
    assert published["state"] == "published", published
    (on_linkedin,) = sandbox_posts(sandbox).posts.values()
    assert published["linkedin_post_urn"] == on_linkedin.urn  # from `x-restli-id`
    assert published["post_url"] == f"{sandbox.state.url}/feed/update/{on_linkedin.urn}/"
    assert on_linkedin.commentary == escape_little_text(TEXT)  # escaped: nothing was cut
    assert on_linkedin.via == "api"
    assert published["attempts"] == 1
    assert datetime.fromisoformat(published["published_at"]) >= datetime.fromisoformat(
        post["scheduled_at"]
    )

    (message,) = await consumer.fetch(1, timeout=10)
    fact = PostPublished.model_validate(CloudEvent.from_bytes(message.data).data)
    await message.ack()
    assert CloudEvent.from_bytes(message.data).orgid == org
    assert fact.post_id == UUID(post["id"])
    assert fact.ambassador_id == UUID(base.rsplit("/", 1)[1])
    assert fact.linkedin_post_urn == on_linkedin.urn
    assert (fact.suggestion_id, fact.content_item_id) == (None, item)
    assert (fact.discipline, fact.language, fact.topics) == (
        "employer_branding",
        "da",
        ["rekruttering"],
    )
    assert fact.leadership is False
    assert fact.source == "scheduled"
    listed = await platform.http.get(f"{base}/posts", headers=platform.auth)
    assert [p["id"] for p in listed.json()["items"]] == [post["id"]]


@pytest.mark.parametrize(
    ("member_scopes", "reconciled"),
    [
        (MEMBER_SCOPES, "duplicate"),  # sent again: LinkedIn's duplicate check names the post
        ((*MEMBER_SCOPES, "r_member_social"), "found"),  # found among the author's posts
    ],
)
async def test_a_crash_between_linkedins_answer_and_the_commit_posts_once(
    platform: Platform,
    sandbox: FastAPI,
    nats_client: NatsClient,
    topology: Topology,
    reconciled: str,
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    base = await connected(platform, org, "ada@acme.dk")
    answered = asyncio.Event()

    async def crash(_post_id: UUID) -> None:
        answered.set()
        await asyncio.Event().wait()  # the process dies here: the record is never committed

    posting_wiring().publisher.after_linkedin_answer = crash
    post = (await write(platform, base, scheduled_at=soon(0))).json()
    await asyncio.wait_for(answered.wait(), 30)
    assert len(sandbox_posts(sandbox).posts) == 1  # LinkedIn has it ...
    await platform.stop("content")  # ... and the content service dies before recording it
    (in_doubt,) = await rows(platform, "SELECT state, attempts FROM posts")
    assert tuple(in_doubt) == ("posting", 1)
    (attempt,) = await rows(platform, "SELECT outcome FROM post_attempts")
    assert attempt[0] == "pending"

    await platform.start("content")  # a restart (any replica) picks it up after the lease

    published = await post_when(platform, org, post["id"], "published", "failed")
    assert published["state"] == "published", published
    (on_linkedin,) = sandbox_posts(sandbox).posts.values()  # still exactly one post
    assert published["linkedin_post_urn"] == on_linkedin.urn
    outcomes = await rows(platform, "SELECT number, outcome FROM post_attempts ORDER BY number")
    assert [tuple(r) for r in outcomes] == [(1, "unknown"), (2, reconciled)]
    facts = await content_events_until(nats_client, topology, PostPublished)
    await asyncio.sleep(0.5)  # a second fact would come from the same relay pass
    facts = await content_events(nats_client, topology, PostPublished)
    assert [PostPublished.model_validate(f.data).post_id for f in facts] == [UUID(post["id"])]


async def test_an_attempt_lost_before_it_reached_linkedin_is_sent_once_on_restart(
    platform: Platform, sandbox: FastAPI
) -> None:
    """The other side of the crash: the attempt was recorded, LinkedIn never got it."""
    org = (await create_organisation(platform, "Acme"))["id"]
    base = await connected(platform, org, "ada@acme.dk")
    stopped = asyncio.Event()

    async def dies_before_calling(_claim: Any) -> Any:
        stopped.set()
        await asyncio.Event().wait()  # the process dies after the claim's commit

    posting_wiring().publisher.attempt = dies_before_calling  # type: ignore[method-assign,assignment]
    post = (await write(platform, base, scheduled_at=soon(0))).json()
    await asyncio.wait_for(stopped.wait(), 30)
    await platform.stop("content")
    assert sandbox_posts(sandbox).posts == {}

    await platform.start("content")

    published = await post_when(platform, org, post["id"], "published", "failed")
    assert published["state"] == "published", published
    assert len(sandbox_posts(sandbox).posts) == 1
    outcomes = await rows(platform, "SELECT outcome FROM post_attempts ORDER BY number")
    assert [r[0] for r in outcomes] == ["unknown", "created"]


async def test_consent_revoked_while_a_post_is_scheduled_cancels_it_within_5_seconds(
    platform: Platform,
    sandbox: FastAPI,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The posts are due in an hour, so that no loaded machine lets one reach its time before
    the cancellation; the publisher's clock then moves past it, and a colleague's post due at
    the same time goes out while the cancelled ones do not."""
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await connected(platform, org, "ada@acme.dk")
    bob = await connected(platform, org, "bob@acme.dk")
    carol = await connected(platform, org, "carol@acme.dk")
    due = datetime.now(UTC) + timedelta(hours=1)
    ada_post = (await write(platform, ada, scheduled_at=due.isoformat())).json()
    ada_draft = (await write(platform, ada, text="Just a draft")).json()
    bob_post = (await write(platform, bob, scheduled_at=due.isoformat())).json()
    assert ada_draft["state"] == "draft"

    started = time.monotonic()
    revoked = await platform.http.delete(f"{ada}/consent", headers=platform.auth)
    assert revoked.status_code == 200
    cancelled = await post_when(platform, org, ada_post["id"], "cancelled", timeout=5.0)
    elapsed = time.monotonic() - started
    offboarded = await platform.http.post(
        f"{bob}/offboard", json={"reason": "left_program"}, headers=platform.auth
    )
    assert offboarded.status_code == 200
    bob_cancelled = await post_when(platform, org, bob_post["id"], "cancelled", timeout=5.0)
    bob_elapsed = time.monotonic() - started - elapsed

    assert elapsed < 5.0
    assert bob_elapsed < 5.0
    with capsys.disabled():
        print(
            f"\nconsent revoked -> post cancelled in {elapsed:.2f} s; "
            f"offboarded -> cancelled in {bob_elapsed:.2f} s"
        )
    assert cancelled["cancel_reason"] == "consent_revoked"
    assert bob_cancelled["cancel_reason"] == "ambassador_offboarded"
    draft = await post_when(platform, org, ada_draft["id"], "cancelled", timeout=5.0)
    assert draft["cancel_reason"] == "consent_revoked"

    carol_post = (await write(platform, carol, text="Carol's", scheduled_at=due.isoformat())).json()
    past_due = due + timedelta(minutes=1)
    monkeypatch.setattr(posting, "utc_now", lambda: past_due)
    published = await post_when(platform, org, carol_post["id"], "published", "failed")
    assert published["state"] == "published", published
    (on_linkedin,) = sandbox_posts(sandbox).posts.values()  # past their time: none of theirs
    assert on_linkedin.commentary == "Carol's"
    for post in (ada_post, bob_post):
        assert (await post_when(platform, org, post["id"], "cancelled"))["attempts"] == 0


async def test_a_401_asks_to_reconnect_and_a_429_waits_then_posts(
    platform: Platform, sandbox: FastAPI, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await connected(platform, org, "ada@acme.dk")

    # 429 once: the post waits (Retry-After) and goes out on the next attempt.
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{sandbox.state.url}/sandbox/faults", json={"path": "/rest/posts", "status": 429}
        )
    post = (await write(platform, ada, scheduled_at=soon(0))).json()
    published = await post_when(platform, org, post["id"], "published", "failed")
    assert (published["state"], published["attempts"]) == ("published", 2)
    outcomes = await rows(platform, "SELECT outcome FROM post_attempts ORDER BY number")
    assert [r[0] for r in outcomes] == ["throttled", "created"]

    # The member's daily budget is spent: the post waits for midnight UTC.
    sandbox_posts(sandbox).posts_per_member_per_day = 1
    waiting = (await write(platform, ada, text="Tomorrow", scheduled_at=soon(0))).json()
    for _ in polls():
        shown = (
            await platform.http.get(
                f"/api/v1/orgs/{org}/posts/{waiting['id']}", headers=platform.auth
            )
        ).json()
        if shown["attempts"] == 1 and shown["state"] == "scheduled":
            break
        await asyncio.sleep(0.05)
    tomorrow = datetime.combine(
        datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC
    )
    assert datetime.fromisoformat(shown["next_attempt_at"]) >= tomorrow
    assert "429" in shown["last_error"]
    sandbox_posts(sandbox).posts_per_member_per_day = 150
    cancelled = await platform.http.post(
        f"/api/v1/orgs/{org}/posts/{waiting['id']}/cancel", headers=platform.auth
    )
    assert cancelled.json()["state"] == "cancelled"

    # 401: LinkedIn refuses the token. The post fails asking to reconnect; nothing is posted.
    (issued,) = sandbox.state.sandbox.tokens
    async with httpx.AsyncClient() as http:
        await http.post(f"{sandbox.state.url}/sandbox/tokens/revoke", json={"access_token": issued})
    refused = (await write(platform, ada, text="Refused", scheduled_at=soon(0))).json()
    failed = await post_when(platform, org, refused["id"], "failed", "published")
    assert (failed["state"], failed["failure"]) == ("failed", "reconnect_needed")
    assert "401" in failed["last_error"]
    (asked,) = await content_events_until(nats_client, topology, ReconnectRequested)
    request = ReconnectRequested.model_validate(asked.data)
    assert (request.post_id, request.reason) == (UUID(refused["id"]), "token_rejected")
    await published_until(
        nats_client, topology, lambda p: bool(of_type(p, LinkedInConnectionExpired))
    )
    status = (await platform.http.get(f"{ada}/linkedin", headers=platform.auth)).json()
    assert status["status"] == "expired"
    assert len(sandbox_posts(sandbox).posts) == 1

    # Reconnected, the failed post is scheduled again and goes out.
    assert (await connect(platform, ada)).status_code == 200
    again = await platform.http.post(
        f"/api/v1/orgs/{org}/posts/{refused['id']}/schedule",
        json={"scheduled_at": soon(0)},
        headers=platform.auth,
    )
    assert again.status_code == 200, again.text
    done = await post_when(platform, org, refused["id"], "published", "failed")
    assert done["state"] == "published"


async def test_the_manual_path_share_link_reminder_and_reported_url(
    platform: Platform, sandbox: FastAPI, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await consented(platform, org, "ada@acme.dk")  # not connected: only the manual path

    refused = await write(platform, ada, scheduled_at=soon(0))
    assert refused.status_code == 409
    assert "path=manual" in refused.json()["detail"]
    written = await write(platform, ada, scheduled_at=soon(0.3), path="manual")
    assert written.status_code == 201, written.text
    post = written.json()
    assert post["path"] == "manual"
    assert post["share_url"].startswith(f"{sandbox.state.url}/feed/?shareActive=true&text=")

    (reminder,) = await content_events_until(nats_client, topology, PostReminderRaised)
    raised = PostReminderRaised.model_validate(reminder.data)
    assert (raised.post_id, raised.kind) == (UUID(post["id"]), "manual_post_due")
    assert raised.due_at == datetime.fromisoformat(post["scheduled_at"])
    async with httpx.AsyncClient() as browser:  # the ambassador shares it on LinkedIn
        page = await browser.get(post["share_url"])
        assert "læs mere_her" in page.text
        shared = await browser.post(f"{sandbox.state.url}/sandbox/share", data={"text": TEXT})
    permalink = f"{sandbox.state.url}{shared.headers['location']}"
    (on_linkedin,) = sandbox_posts(sandbox).posts.values()
    assert sandbox_posts(sandbox).posts[on_linkedin.urn].via == "share page"

    bad = await platform.http.post(
        f"/api/v1/orgs/{org}/posts/{post['id']}/published",
        json={"url": "https://www.linkedin.com/in/ada/"},
        headers=platform.auth,
    )
    assert bad.status_code == 422
    assert bad.json()["context"]["rule"] == "post_url"
    reported = await platform.http.post(
        f"/api/v1/orgs/{org}/posts/{post['id']}/published",
        json={"url": permalink},
        headers=platform.auth,
    )
    assert reported.status_code == 200, reported.text
    assert reported.json()["state"] == "published"
    assert reported.json()["linkedin_post_urn"] == on_linkedin.urn
    (fact,) = await content_events_until(nats_client, topology, PostPublished)
    published = PostPublished.model_validate(fact.data)
    assert (published.source, published.linkedin_post_urn) == ("manual", on_linkedin.urn)
    assert published.post_url == permalink
    again = await platform.http.post(
        f"/api/v1/orgs/{org}/posts/{post['id']}/published",
        json={"url": permalink},
        headers=platform.auth,
    )
    assert again.status_code == 409


async def test_bad_input_is_refused_with_the_rule_named_and_nothing_posted(
    platform: Platform, sandbox: FastAPI
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    other = (await create_organisation(platform, "Other"))["id"]
    ada = await connected(platform, org, "ada@acme.dk")
    invited = await invite(platform, org, "eve@acme.dk")
    stranger = await invite(platform, other, "bob@other.dk")

    past = await write(
        platform, ada, scheduled_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()
    )
    assert past.status_code == 422
    assert past.json()["context"]["rule"] == "schedule_in_past"
    assert "in the past" in past.json()["detail"]

    no_consent = await write(
        platform, f"/api/v1/orgs/{org}/ambassadors/{invited['id']}", scheduled_at=soon(5)
    )
    assert no_consent.status_code == 409
    assert no_consent.json()["context"]["rule"] == "ambassador_state"
    no_posting = await consented(platform, org, "cleo@acme.dk", allows_posting=False)
    refused = await write(platform, no_posting, scheduled_at=soon(5), path="manual")
    assert refused.status_code == 409
    assert refused.json()["context"]["rule"] == "consent"

    not_connected = await consented(platform, org, "dan@acme.dk")
    unconnected = await write(platform, not_connected, scheduled_at=soon(5), path="api")
    assert unconnected.status_code == 409
    assert unconnected.json()["context"]["rule"] == "linkedin_connection"

    foreign = await write(
        platform, f"/api/v1/orgs/{org}/ambassadors/{stranger['id']}", scheduled_at=soon(5)
    )
    assert foreign.status_code == 404
    too_long = await write(platform, ada, text="x" * 3001)
    assert too_long.status_code == 422

    assert await rows(platform, "SELECT id FROM posts") == []
    draft = (await write(platform, ada)).json()
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"text": "Changed"}),
        ("POST", "/schedule", {"scheduled_at": soon(5)}),
        ("POST", "/cancel", None),
        ("POST", "/published", {"url": "https://www.linkedin.com/feed/update/urn:li:share:1/"}),
    ):
        cross = await platform.http.request(
            method,
            f"/api/v1/orgs/{other}/posts/{draft['id']}{suffix}",
            json=body,
            headers=platform.auth,
        )
        assert cross.status_code == 404, (method, suffix, cross.text)
    unchanged = await platform.http.get(
        f"/api/v1/orgs/{org}/posts/{draft['id']}", headers=platform.auth
    )
    assert (unchanged.json()["state"], unchanged.json()["text"]) == ("draft", TEXT)
    await asyncio.sleep(0.5)
    assert sandbox_posts(sandbox).posts == {}


@pytest.mark.parametrize("member_scopes", [("openid", "profile", "email")])
async def test_a_connection_without_posting_permission_takes_the_manual_path(
    platform: Platform, sandbox: FastAPI
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await connected(platform, org, "ada@acme.dk")
    status = (await platform.http.get(f"{ada}/linkedin", headers=platform.auth)).json()
    assert "w_member_social" not in status["scopes"]

    written = await write(platform, ada, scheduled_at=soon(0))
    assert written.status_code == 201, written.text
    assert written.json()["path"] == "manual"
    insisted = await write(platform, ada, text="Through the API", path="api")
    assert insisted.status_code == 409
    assert "w_member_social" in insisted.json()["detail"]
    await asyncio.sleep(0.5)
    assert sandbox_posts(sandbox).posts == {}


async def test_erasure_withdraws_published_posts_and_deletes_the_authors_posts(
    platform: Platform, sandbox: FastAPI, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await connected(platform, org, "ada@acme.dk")
    post = (await write(platform, ada, scheduled_at=soon(0))).json()
    await post_when(platform, org, post["id"], "published")
    (await write(platform, ada, text="A draft")).json()

    assert (await platform.http.delete(ada, headers=platform.auth)).status_code == 200

    (withdrawn,) = await content_events_until(nats_client, topology, PostWithdrawn)
    fact = PostWithdrawn.model_validate(withdrawn.data)
    assert (fact.post_id, fact.reason) == (UUID(post["id"]), "author_erased")
    for _ in polls():
        if not await rows(platform, "SELECT id FROM posts"):
            break
        await asyncio.sleep(0.05)
    assert await rows(platform, "SELECT id FROM posts") == []
    assert await rows(platform, "SELECT id FROM post_attempts") == []


async def test_an_outcome_unknown_too_long_is_not_resent_until_a_person_schedules_it_again(
    platform: Platform, sandbox: FastAPI
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await connected(platform, org, "ada@acme.dk")
    publisher = posting_wiring().publisher
    publisher.settings = publisher.settings.model_copy(update={"posting_resend_within_hours": 1e-6})
    async with httpx.AsyncClient() as http:  # LinkedIn fails: did it post or not?
        await http.post(
            f"{sandbox.state.url}/sandbox/faults", json={"path": "/rest/posts", "status": 503}
        )
    post = (await write(platform, ada, scheduled_at=soon(0))).json()

    failed = await post_when(platform, org, post["id"], "failed", "published")
    assert (failed["state"], failed["failure"]) == ("failed", "outcome_unknown")
    assert sandbox_posts(sandbox).posts == {}  # not sent again on a guess

    again = await platform.http.post(
        f"/api/v1/orgs/{org}/posts/{post['id']}/schedule",
        json={"scheduled_at": soon(0)},
        headers=platform.auth,
    )
    assert again.status_code == 200, again.text
    assert again.json()["attempts"] == 0  # a new round
    published = await post_when(platform, org, post["id"], "published", "failed")
    assert published["state"] == "published", published
    assert len(sandbox_posts(sandbox).posts) == 1
    outcomes = await rows(platform, "SELECT outcome FROM post_attempts ORDER BY number")
    assert [r[0] for r in outcomes] == ["dismissed", "created"]


async def test_a_post_that_breaks_a_compliance_rule_is_refused_naming_the_rule(
    platform: Platform, sandbox: FastAPI
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await connected(platform, org, "ada@acme.dk")
    for _ in polls():
        rules = await platform.http.put(
            f"/api/v1/orgs/{org}/compliance/rules",
            json={"blocked_phrases": ["gratis"], "allowed_link_domains": ["acme.dk"]},
            headers=platform.auth,
        )
        if rules.status_code != 503:
            break
        await asyncio.sleep(0.05)
    assert rules.status_code == 200, rules.text
    refused = await platform.http.post(
        f"{ada}/posts",
        json={"text": "Helt GRATIS for alle: https://evil.example/x", "scheduled_at": soon(5)},
        headers=platform.auth,
    )
    assert refused.status_code == 422, refused.text
    assert "blocked_phrase" in refused.json()["detail"]
    assert "link_domain" in refused.json()["detail"]
    assert (await write(platform, ada, scheduled_at=soon(5))).status_code == 201


async def test_a_post_from_the_library_must_name_an_approved_item_of_its_organisation(
    platform: Platform, sandbox: FastAPI
) -> None:
    org = await content_ready(platform)
    other = await content_ready(platform)
    ada = await connected(platform, org, "ada@acme.dk")
    item = await approved_item(platform, org, ENGLISH_ITEM)
    foreign = await approved_item(platform, other, ENGLISH_ITEM)
    draft = await call(platform, "POST", org, "/content", OFFICE_ITEM)
    assert draft.status_code == 201, draft.text

    unknown = await write(platform, ada, content_item_id=foreign["id"], scheduled_at=soon(5))
    assert unknown.status_code == 404, unknown.text
    unapproved = await write(platform, ada, content_item_id=draft.json()["id"])
    assert unapproved.status_code == 422, unapproved.text
    assert "only approved items" in unapproved.json()["detail"]
    missing_suggestion = await write(platform, ada, suggestion_id=str(uuid4()))
    assert missing_suggestion.status_code == 404, missing_suggestion.text

    accepted = await write(platform, ada, content_item_id=item["id"])
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["content_item_id"] == item["id"]
