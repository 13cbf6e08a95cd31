"""An ambassador's own side: a signed-in account linked to its ambassador record by the accepted
invitation (token + same address), then `/orgs/{org}/me/…` serving that record alone: a
colleague's or another organisation's ids are not found (404); suggestions accepted or dismissed
are marked and not suggested again; the daily run prepares every list once, also with two runs
at once; colleagues' simultaneous first calls keep an item within the daily cap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlmodel import col, select

from advocacy_content import suggestions as content_suggestions
from advocacy_content.app import run_daily_suggestions
from advocacy_content.models import AmbassadorCopy, SuggestionRecord
from tests import actors
from tests.actors import Browser, add_member, sign_in
from tests.conftest import Platform
from tests.e2e.test_ambassadors import invite
from tests.e2e.test_content import (
    SELLER_ITEM,
    approved_item,
    content_events,
    content_ready,
    copy_of,
    onboard,
)
from tests.shared.helpers import eventually


def news(number: int) -> dict[str, Any]:
    """An item for everyone (no discipline, no audience), in Danish: suggested to any colleague."""
    return {
        "title": f"Nyt fra Acme nummer {number} #medarbejder",
        "body": "Vi åbner et nyt kontor og fortæller om det.",
        "kind": "company_news",
        "language": "da",
    }


async def consenting_copy(platform: Platform, ambassador_id: str) -> None:
    async def applied() -> bool:
        copy = await copy_of(platform, AmbassadorCopy, ambassador_id=UUID(ambassador_id))
        return copy is not None and copy.consent

    await eventually(applied)


async def linked_ambassador(platform: Platform, org: str, email: str) -> tuple[str, Browser]:
    """An ambassador whose account is linked (tests.actors), once the content service knows
    they consented."""
    ambassador_id, browser = await actors.linked_ambassador(platform.gateway, org, email)
    await consenting_copy(platform, ambassador_id)
    return ambassador_id, browser


def me(org: str, path: str) -> str:
    return f"/api/v1/orgs/{org}/me{path}"


def soon(minutes: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def test_an_account_is_linked_by_its_accepted_invitation_and_address_only(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    other_org = await content_ready(platform)
    ada = await invite(platform, org, "ada@acme.dk")
    bob = await invite(platform, org, "bob@acme.dk")
    await add_member(platform.gateway, org, "ada@acme.dk", "ambassador")
    browser = await sign_in(platform.gateway, "ada@acme.dk", organisation=org)

    assert (await browser.http.get(me(org, "/ambassador"))).status_code == 404
    assert (await browser.http.get("/api/v1/auth/me")).json()["ambassador_id"] is None

    ada_token = await actors.invitation_token(platform.gateway, org, ada["id"])
    pending = await browser.http.post(
        "/api/v1/invitation/link", headers={**ada_token, **browser.unsafe()}
    )
    assert pending.status_code == 409, pending.text  # accept first
    assert pending.json()["context"]["rule"] == "invitation_accepted"

    # A colleague's link, accepted: another address.
    bob_token = await actors.accept_invitation(platform.gateway, org, bob["id"])
    stolen = await browser.http.post(
        "/api/v1/invitation/link", headers={**bob_token, **browser.unsafe()}
    )
    assert stolen.status_code == 409, stolen.text
    assert stolen.json()["context"]["rule"] == "same_address"

    eve = await invite(platform, other_org, "ada@acme.dk")  # same address, other organisation
    foreign = await browser.http.post(
        "/api/v1/invitation/link",
        headers={
            **await actors.accept_invitation(platform.gateway, other_org, eve["id"]),
            **browser.unsafe(),
        },
    )
    assert foreign.status_code == 404, foreign.text

    no_csrf = await browser.http.post("/api/v1/invitation/link", headers=ada_token)
    assert no_csrf.status_code == 403
    by_key = await platform.http.post(
        "/api/v1/invitation/link", headers={**ada_token, **platform.auth}
    )
    assert by_key.status_code == 403

    ada_token = await actors.accept_invitation(platform.gateway, org, ada["id"])
    linked = await browser.http.post(
        "/api/v1/invitation/link", headers={**ada_token, **browser.unsafe()}
    )
    assert linked.status_code == 200, linked.text
    again = await browser.http.post(
        "/api/v1/invitation/link", headers={**ada_token, **browser.unsafe()}
    )
    assert again.status_code == 200  # the same link again changes nothing
    me_now = (await browser.http.get("/api/v1/auth/me")).json()
    assert me_now["ambassador_id"] == ada["id"]
    assert me_now["roles"] == {org: "ambassador"}
    own = await browser.http.get(me(org, "/ambassador"))
    assert own.status_code == 200, own.text
    assert own.json()["id"] == ada["id"]
    assert own.json()["email"] == "ada@acme.dk"

    # The record is one account's: another account of the organisation cannot take it.
    await add_member(platform.gateway, org, "ada2@acme.dk", "analyst")
    taker = await sign_in(platform.gateway, "ada2@acme.dk", organisation=org)
    refused = await taker.http.post(
        "/api/v1/invitation/link", headers={**ada_token, **taker.unsafe()}
    )
    assert refused.status_code == 409  # another address
    # Another organisation's self-service routes: unknown organisation for this account.
    assert (await browser.http.get(me(other_org, "/ambassador"))).status_code == 404


async def test_an_ambassador_reaches_only_their_own_suggestions_and_posts(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    other_org = await content_ready(platform)
    await approved_item(platform, org, news(1))
    await approved_item(platform, org, news(2))
    await approved_item(platform, org, news(3))
    await approved_item(platform, other_org, news(1))
    ada_id, ada = await linked_ambassador(platform, org, "ada@acme.dk")
    bob_id, bob = await linked_ambassador(platform, org, "bob@acme.dk")
    eve_id, eve = await linked_ambassador(platform, other_org, "eve@other.dk")

    mine = await ada.http.get(me(org, "/suggestions"))
    assert mine.status_code == 200, mine.text
    assert mine.json()["ambassador_id"] == ada_id
    assert mine.json()["items"], mine.json()
    ada_suggestion = mine.json()["items"][0]
    assert ada_suggestion["angle_prompt"]
    assert ada_suggestion["summary"]
    bob_suggestions = (await bob.http.get(me(org, "/suggestions"))).json()["items"]
    eve_suggestions = (await eve.http.get(me(other_org, "/suggestions"))).json()["items"]
    assert bob_suggestions
    assert eve_suggestions

    # The staff routes: an ambassador reaches only their own record; a colleague's is unknown.
    own = await ada.http.get(f"/api/v1/orgs/{org}/ambassadors/{ada_id}/suggestions")
    assert own.status_code == 200
    for path in (
        f"/api/v1/orgs/{org}/ambassadors/{bob_id}/suggestions",
        f"/api/v1/orgs/{org}/suggestions/{bob_suggestions[0]['id']}",
        f"/api/v1/orgs/{org}/ambassadors/{eve_id}/suggestions",
        f"/api/v1/orgs/{org}/suggestions/{eve_suggestions[0]['id']}",
        me(org, f"/suggestions/{bob_suggestions[0]['id']}"),
        me(org, f"/suggestions/{eve_suggestions[0]['id']}"),
        f"/api/v1/orgs/{other_org}/ambassadors/{eve_id}/suggestions",
    ):
        answer = await ada.http.get(path)
        assert answer.status_code == 404, (path, answer.text)
    proposal = await ada.http.post(
        f"/api/v1/orgs/{org}/content/proposals",
        json={"ambassador_id": bob_id, "item": news(9)},
        headers=ada.unsafe(),
    )
    assert proposal.status_code == 404, proposal.text
    for path in (f"/api/v1/orgs/{org}/posts", f"/api/v1/orgs/{org}/ambassadors/{bob_id}/posts"):
        assert (await ada.http.get(path)).status_code == 403  # staff lists stay staff's

    # Accepting: a post in her own words from her suggestion; the suggestion is marked.
    written = await ada.http.post(
        me(org, "/posts"),
        json={
            "text": "Mit eget bud på bæredygtighed hos kunderne #medarbejder",
            "suggestion_id": ada_suggestion["id"],
            "path": "manual",
        },
        headers=ada.unsafe(),
    )
    assert written.status_code == 201, written.text
    post = written.json()
    assert post["ambassador_id"] == ada_id
    assert post["state"] == "draft"
    assert written.headers["location"].endswith(f"/me/posts/{post['id']}")
    marked = await ada.http.get(me(org, f"/suggestions/{ada_suggestion['id']}"))
    assert marked.json()["status"] == "accepted"
    edited = await ada.http.patch(
        me(org, f"/posts/{post['id']}"),
        json={"text": "Endnu bedre, med mine ord #medarbejder"},
        headers=ada.unsafe(),
    )
    assert edited.status_code == 200, edited.text
    scheduled = await ada.http.post(
        me(org, f"/posts/{post['id']}/schedule"),
        json={"scheduled_at": soon()},
        headers=ada.unsafe(),
    )
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["state"] == "scheduled"
    listed = (await ada.http.get(me(org, "/posts"))).json()["items"]
    assert [p["id"] for p in listed] == [post["id"]]

    # A colleague's post, or a suggestion of theirs, is unknown to her on every route.
    bob_post = (
        await bob.http.post(
            me(org, "/posts"),
            json={"text": "Bobs eget opslag #medarbejder", "path": "manual"},
            headers=bob.unsafe(),
        )
    ).json()
    colleague: list[tuple[str, str, Any]] = [
        ("GET", me(org, f"/posts/{bob_post['id']}"), None),
        ("PATCH", me(org, f"/posts/{bob_post['id']}"), {"text": "kapret #medarbejder"}),
        ("POST", me(org, f"/posts/{bob_post['id']}/schedule"), {"scheduled_at": soon()}),
        ("POST", me(org, f"/posts/{bob_post['id']}/cancel"), None),
        (
            "POST",
            me(org, f"/posts/{bob_post['id']}/published"),
            {"url": "https://www.linkedin.com/feed/update/urn:li:share:7290000000000000000/"},
        ),
        ("POST", me(org, f"/suggestions/{bob_suggestions[0]['id']}/dismiss"), None),
        (
            "POST",
            me(org, "/posts"),
            {
                "text": "Fra Bobs forslag #medarbejder",
                "suggestion_id": bob_suggestions[0]["id"],
                "path": "manual",
            },
        ),
    ]
    for method, path, body in colleague:
        answer = await ada.http.request(method, path, json=body, headers=ada.unsafe())
        assert answer.status_code == 404, (method, path, answer.text)
    assert (await bob.http.get(me(org, f"/posts/{bob_post['id']}"))).json()["state"] == "draft"
    assert (await bob.http.get(me(org, f"/suggestions/{bob_suggestions[0]['id']}"))).json()[
        "status"
    ] == "open"

    cancelled = await ada.http.post(me(org, f"/posts/{post['id']}/cancel"), headers=ada.unsafe())
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    # API keys are nobody's own: the self-service routes are not theirs.
    assert (
        await platform.http.get(me(org, "/suggestions"), headers=platform.auth)
    ).status_code in (
        403,
        404,
    )


async def test_accepted_and_dismissed_suggestions_are_marked_and_not_suggested_again(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    seller = await approved_item(platform, org, news(1))
    office = await approved_item(platform, org, news(2))
    ada_id, ada = await linked_ambassador(platform, org, "ada@acme.dk")
    shown = {s["item_id"]: s for s in (await ada.http.get(me(org, "/suggestions"))).json()["items"]}
    assert {seller["id"], office["id"]} <= set(shown), shown
    dismissed = await ada.http.post(
        me(org, f"/suggestions/{shown[office['id']]['id']}/dismiss"), headers=ada.unsafe()
    )
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    accepted_post = await ada.http.post(
        me(org, "/posts"),
        json={
            "text": "Mine ord #medarbejder",
            "suggestion_id": shown[seller["id"]]["id"],
            "path": "manual",
        },
        headers=ada.unsafe(),
    )
    assert accepted_post.status_code == 201, accepted_post.text
    listed = {
        s["item_id"]: s["status"]
        for s in (await ada.http.get(me(org, "/suggestions"))).json()["items"]
    }
    assert listed == {seller["id"]: "accepted", office["id"]: "dismissed"}
    refused = await ada.http.post(
        me(org, f"/suggestions/{shown[seller['id']]['id']}/dismiss"), headers=ada.unsafe()
    )
    assert refused.status_code == 409  # a post was written from it

    # The next day's ranking leaves out what she dismissed or already posted.
    runtime = platform.runtimes["content"]
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    async with runtime.transaction() as session:
        next_day = await content_suggestions.suggest_for(
            session, runtime.outbox, UUID(org), UUID(ada_id), tomorrow
        )
    assert {s.item_id for s in next_day.items}.isdisjoint({UUID(seller["id"]), UUID(office["id"])})


async def suggestion_rows(platform: Platform, org: str) -> list[SuggestionRecord]:
    async with platform.runtimes["content"].sessions() as session:
        query = select(SuggestionRecord).where(col(SuggestionRecord.organisation_id) == UUID(org))
        return list((await session.execute(query)).scalars())


async def test_the_daily_run_prepares_each_list_once_and_requests_read_it(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    for number in range(8):
        await approved_item(platform, org, news(number))
    cohort = [
        await onboard(platform, org, segments=["specialist"], topics=[], languages=["da"])
        for _ in range(4)
    ]
    runtime = platform.runtimes["content"]
    now = datetime.now(UTC)
    made = await asyncio.gather(
        run_daily_suggestions(runtime, now), run_daily_suggestions(runtime, now)
    )
    assert sorted(made) == [0, len(cohort)], made  # two replicas at once: one ran the day
    rows = await suggestion_rows(platform, org)
    assert {r.ambassador_id for r in rows} == set(cohort)
    assert await run_daily_suggestions(runtime, now) == 0  # prepared: nothing again that day
    assert len(await suggestion_rows(platform, org)) == len(rows)

    for ambassador_id in cohort:
        prepared = {r.id for r in rows if r.ambassador_id == ambassador_id}
        answer = await platform.http.get(
            f"/api/v1/orgs/{org}/ambassadors/{ambassador_id}/suggestions", headers=platform.auth
        )
        assert answer.status_code == 200, answer.text
        assert {UUID(s["id"]) for s in answer.json()["items"]} == prepared
    announced = await content_events(platform, org, "suggestions.prepared.v1")
    assert sorted(UUID(e["ambassador_id"]) for e in announced) == sorted(cohort)


async def test_colleagues_first_calls_at_once_keep_an_item_within_the_daily_cap(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    item = await approved_item(platform, org, SELLER_ITEM)
    cohort = [
        await onboard(
            platform, org, segments=["sales_marketing"], topics=["bæredygtighed"], languages=["da"]
        )
        for _ in range(8)
    ]
    cap = max(1, len(cohort) // 4)

    async def first_call(ambassador_id: UUID) -> httpx.Response:
        return await platform.http.get(
            f"/api/v1/orgs/{org}/ambassadors/{ambassador_id}/suggestions", headers=platform.auth
        )

    answers = await asyncio.gather(*(first_call(a) for a in cohort))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    given = [a for a in answers if any(s["item_id"] == item["id"] for s in a.json()["items"])]
    assert len(given) == cap, [a.json()["items"] for a in answers]
    rows = [r for r in await suggestion_rows(platform, org) if r.item_id == UUID(item["id"])]
    assert len(rows) == cap
