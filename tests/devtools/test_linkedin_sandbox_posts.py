"""The LinkedIn sandbox's Posts API and share pages, over HTTP on a loopback port, and the
adapter's posting calls through the official `linkedin-api-client` against it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from advocacy_devtools.linkedin_sandbox import _Token
from advocacy_devtools.linkedin_sandbox_posts import PostsState, cut_at_unescaped
from advocacy_shared.linkedin import LinkedInClient, LinkedInRejected, LinkedInTokenRejected
from advocacy_shared.linkedin.posts import (
    LinkedInDuplicate,
    LinkedInOutcomeUnknown,
    LinkedInPostRefused,
    LinkedInPosts,
    LinkedInThrottled,
    activity_urn_from_url,
    escape_little_text,
    post_urn_from_url,
    share_url,
)
from tests.shared.test_linkedin_adapter import Sandbox, start_sandbox

MEMBER = "urn:li:person:782bbtaQ"
HEADERS = {"LinkedIn-Version": "202506", "X-Restli-Protocol-Version": "2.0.0"}


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    started, server = await start_sandbox(posts_per_member_per_day=3)
    yield started
    await server.stop()


def token(sandbox: Sandbox, *scopes: str, lifetime: timedelta = timedelta(days=60)) -> str:
    """A token the sandbox issued (as its accessToken endpoint would)."""
    issued = "AQV" + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    sandbox.state.tokens[issued] = _Token(
        client_id="adapter-test",
        scopes=scopes or ("openid", "w_member_social"),
        created_at=now,
        expires_at=now + lifetime,
    )
    return issued


def posts_of(sandbox: Sandbox) -> PostsState:
    state: PostsState = sandbox.app.state.posts
    return state


def body(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {
        "author": MEMBER,
        "commentary": text,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
        **extra,
    }


async def test_create_needs_linkedins_headers_a_valid_token_and_the_posting_scope(
    sandbox: Sandbox,
) -> None:
    good = token(sandbox)
    auth = {"Authorization": f"Bearer {good}"}
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        no_version = await http.post("/rest/posts", json=body(), headers=auth)
        assert no_version.status_code == 400
        assert no_version.json()["code"] == "VERSION_MISSING"
        assert no_version.headers["X-Restli-Gateway-Error"] == "true"

        sunset = await http.post(
            "/rest/posts", json=body(), headers={**auth, **HEADERS, "LinkedIn-Version": "202201"}
        )
        assert sunset.status_code == 426
        assert sunset.json() == {
            "status": 426,
            "code": "NONEXISTENT_VERSION",
            "message": "Requested version 20220101 is not active",
        }

        no_protocol = await http.post(
            "/rest/posts", json=body(), headers={**auth, "LinkedIn-Version": "202506"}
        )
        assert no_protocol.status_code == 400

        for refused, code in (
            ("garbage", "INVALID_ACCESS_TOKEN"),
            (token(sandbox, lifetime=timedelta(seconds=-1)), "EXPIRED_ACCESS_TOKEN"),
        ):
            answer = await http.post(
                "/rest/posts",
                json=body(),
                headers={**HEADERS, "Authorization": f"Bearer {refused}"},
            )
            assert answer.status_code == 401
            assert answer.json()["code"] == code
        revoked = token(sandbox)
        await http.post("/sandbox/tokens/revoke", json={"access_token": revoked})
        answer = await http.post(
            "/rest/posts", json=body(), headers={**HEADERS, "Authorization": f"Bearer {revoked}"}
        )
        assert answer.json()["code"] == "REVOKED_ACCESS_TOKEN"

        no_scope = token(sandbox, "openid", "profile")
        answer = await http.post(
            "/rest/posts", json=body(), headers={**HEADERS, "Authorization": f"Bearer {no_scope}"}
        )
        assert answer.status_code == 403
        assert answer.json()["message"] == "Not enough permissions to access: posts.CREATE.20250601"

        created = await http.post("/rest/posts", json=body(), headers={**auth, **HEADERS})
        assert created.status_code == 201
        assert created.content == b""
        assert created.headers["x-restli-id"].startswith("urn:li:share:")
    assert len(posts_of(sandbox).posts) == 1


async def test_validation_errors_duplicates_and_the_daily_budget_in_linkedins_shape(
    sandbox: Sandbox,
) -> None:
    headers = {**HEADERS, "Authorization": f"Bearer {token(sandbox)}"}
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        missing = body()
        del missing["visibility"]
        answer = await http.post("/rest/posts", json=missing, headers=headers)
        assert answer.status_code == 422
        assert answer.json()["message"] == (
            "ERROR :: /visibility :: field is required but not found and has no default value"
        )

        too_long = await http.post("/rest/posts", json=body("x" * 3001), headers=headers)
        assert too_long.status_code == 400
        assert too_long.json()["message"] == (
            "ShareCommentary text length (3001 characters) exceeded the maximum allowed "
            "(3000 characters)"
        )
        (error,) = too_long.json()["errorDetails"]["inputErrors"]
        assert error["input"]["inputPath"]["fieldPath"] == "/commentary"

        other = await http.post(
            "/rest/posts", json=body(author="urn:li:person:someoneelse"), headers=headers
        )
        assert other.status_code == 403

        first = await http.post("/rest/posts", json=body("Once"), headers=headers)
        again = await http.post("/rest/posts", json=body("Once"), headers=headers)
        assert again.status_code == 422
        assert again.json()["code"] == "DUPLICATE_POST"
        assert (
            again.json()["message"] == f"Content is a duplicate of {first.headers['x-restli-id']}"
        )

        for text in ("Two", "Three"):
            assert (
                await http.post("/rest/posts", json=body(text), headers=headers)
            ).status_code == 201
        spent = await http.post("/rest/posts", json=body("Four"), headers=headers)
        assert spent.status_code == 429
    assert len(posts_of(sandbox).posts) == 3

    # Midnight UTC: the budget is new.
    sandbox.state.clock = lambda: datetime.now(UTC) + timedelta(days=1)
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        answer = await http.post("/rest/posts", json=body("Four"), headers=headers)
    assert answer.status_code == 201


async def test_a_post_is_read_found_by_author_and_deleted(sandbox: Sandbox) -> None:
    writer = {**HEADERS, "Authorization": f"Bearer {token(sandbox)}"}
    reader = {**HEADERS, "Authorization": f"Bearer {token(sandbox, 'r_member_social')}"}
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        urn = (await http.post("/rest/posts", json=body("Read me"), headers=writer)).headers[
            "x-restli-id"
        ]
        raw_colon = await http.get(f"/rest/posts/{urn}", headers=writer)
        assert raw_colon.status_code == 400
        read = await http.get(f"/rest/posts/{quote(urn, safe='')}", headers=writer)
        assert read.status_code == 200
        shown = read.json()
        assert shown["id"] == urn
        assert shown["commentary"] == "Read me"
        assert shown["createdAt"] == shown["publishedAt"] > 0
        assert "lifecycleStateInfo" in shown

        refused = await http.get(f"/rest/posts?q=author&author={quote(MEMBER)}", headers=writer)
        assert refused.status_code == 403
        found = await http.get(f"/rest/posts?q=author&author={quote(MEMBER)}", headers=reader)
        assert [p["id"] for p in found.json()["elements"]] == [urn]

        gone = await http.delete(f"/rest/posts/{quote(urn, safe='')}", headers=writer)
        assert gone.status_code == 204
        again = await http.delete(f"/rest/posts/{quote(urn, safe='')}", headers=writer)
        assert again.status_code == 404
        missing = await http.get(f"/rest/posts/{quote(urn, safe='')}", headers=writer)
        assert missing.status_code == 404


async def test_unescaped_reserved_characters_cut_the_text_as_linkedin_does(
    sandbox: Sandbox,
) -> None:
    assert cut_at_unescaped("Hi (there)") == "Hi "
    assert cut_at_unescaped(r"Hi \(there\)") == r"Hi \(there\)"
    headers = {**HEADERS, "Authorization": f"Bearer {token(sandbox)}"}
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        answer = await http.post(
            "/rest/posts", json=body("We hire (again) #talent"), headers=headers
        )
    assert answer.status_code == 201
    (post,) = posts_of(sandbox).posts.values()
    assert post.commentary == "We hire "


async def test_the_share_page_posts_and_redirects_to_the_permalink(sandbox: Sandbox) -> None:
    link = share_url(sandbox.url, "Read this (it's good) #news")
    async with httpx.AsyncClient() as browser:
        page = await browser.get(link)
        assert page.status_code == 200
        assert "Read this (it&#x27;s good) #news" in page.text
        posted = await browser.post(
            f"{sandbox.url}/sandbox/share", data={"text": "Read this (it's good) #news"}
        )
        assert posted.status_code == 303
        permalink = f"{sandbox.url}{posted.headers['location']}"
        shown = await browser.get(permalink)
    assert shown.status_code == 200
    urn = post_urn_from_url(permalink)
    assert urn is not None
    assert urn in posts_of(sandbox).posts
    assert posts_of(sandbox).posts[urn].via == "share page"


def test_post_urns_and_activity_urns_are_read_from_permalinks() -> None:
    assert (
        post_urn_from_url("https://www.linkedin.com/feed/update/urn:li:share:7290000000000000001/")
        == "urn:li:share:7290000000000000001"
    )
    assert (
        post_urn_from_url("https://www.linkedin.com/feed/update/urn%3Ali%3AugcPost%3A123/")
        == "urn:li:ugcPost:123"
    )
    assert post_urn_from_url("https://www.linkedin.com/in/someone/") is None
    assert (
        activity_urn_from_url("https://www.linkedin.com/feed/update/urn:li:activity:7290/")
        == "urn:li:activity:7290"
    )
    assert (
        activity_urn_from_url(
            "https://www.linkedin.com/posts/ada-lovelace_hiring-activity-7291234567890-AbCd/"
        )
        == "urn:li:activity:7291234567890"
    )
    assert escape_little_text("a(b)#c_d") == r"a\(b\)\#c\_d"


async def test_the_adapter_posts_through_the_official_client(sandbox: Sandbox) -> None:
    client = LinkedInClient(sandbox.settings(max_attempts=2))
    posts = LinkedInPosts(client)
    writer = token(sandbox)
    text = "Proud of the team (again)! #hiring @everyone"

    urn = await posts.create(writer, MEMBER, text)

    stored = posts_of(sandbox).posts[urn]
    assert stored.commentary == escape_little_text(text)  # nothing cut
    read = await posts.get(writer, urn)
    assert read is not None
    assert read.commentary == escape_little_text(text)
    with pytest.raises(LinkedInDuplicate) as duplicate:
        await posts.create(writer, MEMBER, text)
    assert duplicate.value.urn == urn
    with pytest.raises(LinkedInPostRefused) as too_long:
        await posts.create(writer, MEMBER, "x" * 3001)
    assert "3001 characters" in too_long.value.detail
    with pytest.raises(LinkedInRejected):
        await posts.find_by_author(writer, MEMBER)  # needs r_member_social
    found = await posts.find_by_author(token(sandbox, "r_member_social"), MEMBER)
    assert [p.urn for p in found] == [urn]

    calls = sandbox.state.calls
    await sandbox.fault("/rest/posts", 429)
    before = calls["/rest/posts"]
    with pytest.raises(LinkedInThrottled) as throttled:
        await posts.create(writer, MEMBER, "Throttled")
    assert throttled.value.retry_after == 0
    await sandbox.fault("/rest/posts", 503)
    with pytest.raises(LinkedInOutcomeUnknown):
        await posts.create(writer, MEMBER, "Maybe")
    await sandbox.fault("/rest/posts", None, delay=2)
    slow = LinkedInPosts(LinkedInClient(sandbox.settings(read_timeout_seconds=0.3)))
    with pytest.raises(LinkedInOutcomeUnknown):
        await slow.create(writer, MEMBER, "Slow")
    assert calls["/rest/posts"] == before + 3  # one call each: a create is never retried

    async with httpx.AsyncClient() as http:
        await http.post(f"{sandbox.url}/sandbox/tokens/expire", json={"access_token": writer})
    with pytest.raises(LinkedInTokenRejected):
        await posts.create(writer, MEMBER, "Expired")
    client.close()
