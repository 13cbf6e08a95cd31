"""An ambassador's own side over real HTTP: a linked account reaches its own record's suggestions
and posts; a colleague's ids and another organisation's are not found (404, never 403: nothing
tells whose an id is); API keys have no own side; an unlinked account has none either."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.actors import (
    add_member,
    linked_ambassador,
    ready_organisation,
    sign_in,
)
from tests.security.conftest import Live

ITEM: dict[str, Any] = {
    "title": "Nyt kontor i Odense",
    "body": "Vi åbner et nyt kontor.",
    "kind": "company_news",
    "language": "da",
}


async def approved(live: Live, org: str) -> None:
    created = await live.http.post(f"/api/v1/orgs/{org}/content", json=ITEM, headers=live.auth)
    assert created.status_code == 201, created.text
    base = f"/api/v1/orgs/{org}/content/{created.json()['id']}"
    assert (await live.http.post(f"{base}/submit", headers=live.auth)).status_code == 200
    review = await live.http.post(f"{base}/review", json={"decision": "approve"}, headers=live.auth)
    assert review.status_code == 200, review.text


async def suggestions_of(browser: Any, org: str) -> list[dict[str, Any]]:
    """Today's suggestions, once the content service knows the person consented."""
    for _ in range(300):
        answer = await browser.http.get(f"/api/v1/orgs/{org}/me/suggestions")
        if answer.status_code == 200:
            items: list[dict[str, Any]] = answer.json()["items"]
            return items
        assert answer.status_code == 409, answer.text  # consent not yet in the copy
        await asyncio.sleep(0.05)
    raise AssertionError("the content service never learnt of the consent")


async def test_a_colleagues_and_another_organisations_ids_are_not_found(live: Live) -> None:
    org = await ready_organisation(live, "Acme")
    other = await ready_organisation(live, "Globex")
    await approved(live, org)
    await approved(live, other)
    ada_id, ada = await linked_ambassador(live, org, "ada@acme.dk")
    bob_id, bob = await linked_ambassador(live, org, "bob@acme.dk")
    eve_id, eve = await linked_ambassador(live, other, "eve@globex.dk")
    await suggestions_of(ada, org)
    bob_suggestion = (await suggestions_of(bob, org) or [{"id": ada_id}])[0]["id"]
    eve_suggestion = (await suggestions_of(eve, other) or [{"id": ada_id}])[0]["id"]
    bob_post = await bob.http.post(
        f"/api/v1/orgs/{org}/me/posts",
        json={"text": "Bobs opslag", "path": "manual"},
        headers=bob.unsafe(),
    )
    eve_post = await eve.http.post(
        f"/api/v1/orgs/{other}/me/posts",
        json={"text": "Eves opslag", "path": "manual"},
        headers=eve.unsafe(),
    )
    assert bob_post.status_code == eve_post.status_code == 201

    assert (await ada.http.get(f"/api/v1/orgs/{org}/me/ambassador")).json()["id"] == ada_id
    for foreign_post, foreign_suggestion, foreign_ambassador in (
        (bob_post.json()["id"], bob_suggestion, bob_id),
        (eve_post.json()["id"], eve_suggestion, eve_id),
    ):
        for method, path in (
            ("GET", f"/me/posts/{foreign_post}"),
            ("POST", f"/me/posts/{foreign_post}/cancel"),
            ("GET", f"/me/suggestions/{foreign_suggestion}"),
            ("POST", f"/me/suggestions/{foreign_suggestion}/dismiss"),
            ("GET", f"/suggestions/{foreign_suggestion}"),
            ("GET", f"/ambassadors/{foreign_ambassador}/suggestions"),
        ):
            answer = await ada.http.request(
                method, f"/api/v1/orgs/{org}{path}", headers=ada.unsafe()
            )
            assert answer.status_code == 404, (method, path, answer.text)
    # Another organisation's own side: that organisation is unknown to this account.
    answer = await ada.http.get(f"/api/v1/orgs/{other}/me/suggestions")
    assert answer.status_code == 404
    assert (await bob.http.get(f"/api/v1/orgs/{org}/me/posts")).json()["items"][0]["id"] == (
        bob_post.json()["id"]
    )


async def test_keys_and_unlinked_accounts_have_no_own_side(live: Live) -> None:
    org = await ready_organisation(live, "Acme")
    key = await live.http.post(
        f"/api/v1/orgs/{org}/api-keys",
        json={"name": "comms", "scopes": ["comms", "admin"]},
        headers=live.auth,
    )
    assert key.status_code == 201, key.text
    bearer = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (
        await live.http.get(f"/api/v1/orgs/{org}/me/suggestions", headers=bearer)
    ).status_code == 403
    await add_member(live, org, "ida@acme.dk", "ambassador")
    ida = await sign_in(live, "ida@acme.dk", organisation=org)
    for path in ("/me/ambassador", "/me/suggestions", "/me/posts"):
        assert (await ida.http.get(f"/api/v1/orgs/{org}{path}")).status_code == 404
    assert (await ida.http.get("/api/v1/auth/me")).json()["ambassador_id"] is None
