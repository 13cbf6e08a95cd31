"""The LinkedIn sandbox's analytics over HTTP on a loopback port, and the adapter's analytics
calls through the official `linkedin-api-client` against it: LinkedIn's request and answer
shapes, errors, 401 and 429, and engagement that grows with a post's age on a clock the test
moves forward."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from advocacy_devtools.linkedin_sandbox_analytics import (
    AnalyticsState,
    counts_at,
    parse_restli,
)
from advocacy_shared.linkedin import LinkedInClient, LinkedInRejected, LinkedInTokenRejected
from advocacy_shared.linkedin.analytics import CALLS_PER_POST, LinkedInAnalytics
from advocacy_shared.linkedin.posts import LinkedInPosts, LinkedInThrottled
from tests.devtools.test_linkedin_sandbox_posts import MEMBER, token
from tests.shared.test_linkedin_adapter import Sandbox, start_sandbox

HEADERS = {"LinkedIn-Version": "202506", "X-Restli-Protocol-Version": "2.0.0"}
ANALYTICS = ("openid", "w_member_social", "r_member_postAnalytics")


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    started, server = await start_sandbox(analytics_calls_per_member_per_day=12)
    yield started
    await server.stop()


def analytics_of(sandbox: Sandbox) -> AnalyticsState:
    state: AnalyticsState = sandbox.app.state.analytics
    return state


async def posted(sandbox: Sandbox, access_token: str, text: str = "Hello") -> str:
    client = LinkedInClient(sandbox.settings())
    return await LinkedInPosts(client).create(access_token, MEMBER, text)


def test_restli_values_parse_in_any_key_order_with_encoded_leaves() -> None:
    assert parse_restli("(share:urn%3Ali%3Ashare%3A1)") == {"share": "urn:li:share:1"}
    assert parse_restli("List(urn%3Ali%3Ashare%3A1,urn%3Ali%3Ashare%3A2)") == [
        "urn:li:share:1",
        "urn:li:share:2",
    ]
    nested = "(end:(day:6,month:5,year:2025),start:(year:2025,month:5,day:4))"
    assert parse_restli(nested) == {
        "end": {"day": "6", "month": "5", "year": "2025"},
        "start": {"year": "2025", "month": "5", "day": "4"},
    }


def test_engagement_grows_quickly_then_settles_the_same_for_the_same_post() -> None:
    urn = "urn:li:share:7000000000000000001"
    ages = [timedelta(hours=h) for h in (0, 1, 6, 24, 72, 168, 240, 480)]
    impressions = [counts_at(14, urn, age)["IMPRESSION"] for age in ages]
    assert impressions[0] == 0
    assert impressions == sorted(impressions)  # never down
    assert impressions[3] > impressions[-1] / 2  # most of it in the first day
    assert impressions[-2] == impressions[-1]  # quiet after a week and a half
    assert counts_at(14, urn, ages[3]) == counts_at(14, urn, ages[3])
    assert counts_at(15, urn, ages[3]) != counts_at(14, urn, ages[3])  # the seed matters
    for age in ages:
        counts = counts_at(14, urn, age)
        assert counts["MEMBERS_REACHED"] <= counts["IMPRESSION"]
        assert counts["REACTION"] >= counts["COMMENT"] >= 0


async def test_member_post_analytics_are_linkedin_shaped_and_grow_with_the_clock(
    sandbox: Sandbox,
) -> None:
    good = token(sandbox, *ANALYTICS)
    urn = await posted(sandbox, good)
    entity = f"(share:{quote(urn, safe='')})"
    url = f"/rest/memberCreatorPostAnalytics?q=entity&entity={entity}&queryType=IMPRESSION"
    auth = {**HEADERS, "Authorization": f"Bearer {good}"}
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        fresh = (await http.get(url + "&aggregation=TOTAL", headers=auth)).json()
        analytics_of(sandbox).advance(timedelta(days=2))
        later = (await http.get(url + "&aggregation=TOTAL", headers=auth)).json()
        assert (await http.get(url, headers={"Authorization": f"Bearer {good}"})).json()[
            "code"
        ] == "VERSION_MISSING"
        no_scope = token(sandbox, "openid", "w_member_social")
        forbidden = await http.get(url, headers={**HEADERS, "Authorization": f"Bearer {no_scope}"})
        no_type = await http.get(url.replace("&queryType=IMPRESSION", ""), headers=auth)
        reached_daily = await http.get(
            url.replace("IMPRESSION", "MEMBERS_REACHED") + "&aggregation=DAILY", headers=auth
        )
        bad_entity = await http.get(
            "/rest/memberCreatorPostAnalytics?q=entity&entity=(share:urn%3Ali%3Ashare%3A1"
            "&queryType=IMPRESSION",
            headers=auth,
        )
    assert "elements" in fresh, fresh
    (element,) = fresh["elements"]
    assert element["metricType"] == {
        "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1": (
            "IMPRESSION"
        )
    }
    assert element["targetEntity"] == {"share": urn}
    assert element["dateRange"] == {}
    assert fresh["paging"] == {"start": 0, "count": 10, "links": []}
    assert later["elements"][0]["count"] > element["count"]
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "ACCESS_DENIED"
    assert no_type.status_code == 400
    assert reached_daily.status_code == 400
    assert bad_entity.status_code == 400


async def test_the_adapter_reads_a_posts_counts_through_the_official_client(
    sandbox: Sandbox,
) -> None:
    good = token(sandbox, *ANALYTICS)
    urn = await posted(sandbox, good)
    adapter = LinkedInAnalytics(LinkedInClient(sandbox.settings()))
    analytics_of(sandbox).advance(timedelta(hours=30))

    counts = await adapter.member_post(good, urn)

    expected = counts_at(analytics_of(sandbox).seed, urn, timedelta(hours=30))
    assert counts.impressions == pytest.approx(expected["IMPRESSION"], abs=2)
    assert counts.members_reached is not None
    assert 0 < counts.members_reached <= counts.impressions
    assert counts.reactions > 0
    assert analytics_of(sandbox).entity_calls[urn] == CALLS_PER_POST

    # A member reads only their own posts' analytics; a revoked token is a 401.
    sandbox.state.tokens[good].status = "revoked"
    with pytest.raises(LinkedInTokenRejected):
        await adapter.member_post(good, urn)


async def test_past_the_daily_calls_a_429_and_a_queued_429_carries_retry_after(
    sandbox: Sandbox,
) -> None:
    good = token(sandbox, *ANALYTICS)
    urn = await posted(sandbox, good)
    adapter = LinkedInAnalytics(LinkedInClient(sandbox.settings()))
    await adapter.member_post(good, urn)  # 5 calls
    await adapter.member_post(good, urn)  # 10
    with pytest.raises(LinkedInThrottled) as spent:
        await adapter.member_post(good, urn)  # the 13th call is over 12
    assert spent.value.retry_after is None  # LinkedIn documents none: wait for midnight UTC
    analytics_of(sandbox).advance(timedelta(days=1))  # a new UTC day
    async with httpx.AsyncClient() as http:
        queued = await http.post(
            f"{sandbox.url}/sandbox/faults",
            json={
                "path": "/rest/memberCreatorPostAnalytics",
                "status": 429,
                "retry_after_seconds": 120,
            },
        )
        assert queued.status_code == 204
    with pytest.raises(LinkedInThrottled) as throttled:
        await adapter.member_post(good, urn)
    assert throttled.value.retry_after == 120
    assert (await adapter.member_post(good, urn)).impressions > 0


async def test_a_company_pages_posts_and_their_statistics(sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        made = (await http.post("/sandbox/organizations/2414183/posts", json={"count": 3})).json()
        issued = (
            await http.post("/sandbox/tokens", json={"scopes": ["rw_organization_admin"]})
        ).json()
        member_token = token(sandbox, *ANALYTICS)
        organization = "urn%3Ali%3Aorganization%3A2414183"
        auth = {**HEADERS, "Authorization": f"Bearer {issued['access_token']}"}
        await http.post("/sandbox/clock", json={"advance_seconds": 86_400})
        lifetime = (
            await http.get(
                "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
                f"&organizationalEntity={organization}",
                headers=auth,
            )
        ).json()
        daily = await http.get(
            "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
            f"&organizationalEntity={organization}&timeIntervals=(timeRange:(start:0,"
            "end:172800000),timeGranularityType:DAY)",
            headers=auth,
        )
        forbidden = await http.get(
            "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
            f"&organizationalEntity={organization}",
            headers={**HEADERS, "Authorization": f"Bearer {member_token}"},
        )
    adapter = LinkedInAnalytics(LinkedInClient(sandbox.settings()))
    found = await adapter.organization_posts(issued["access_token"], "urn:li:organization:2414183")
    statistics = await adapter.share_statistics(
        issued["access_token"], "urn:li:organization:2414183", [post.urn for post in found]
    )

    assert sorted(post.urn for post in found) == sorted(made)
    assert set(statistics) == set(made)
    (total,) = lifetime["elements"]
    assert total["organizationalEntity"] == "urn:li:organization:2414183"
    assert total["totalShareStatistics"]["impressionCount"] == sum(
        s.impressions for s in statistics.values()
    )
    assert all(s.members_reached is not None for s in statistics.values())
    stats: dict[str, Any] = total["totalShareStatistics"]
    engaged = stats["clickCount"] + stats["likeCount"] + stats["commentCount"]
    assert stats["engagement"] == pytest.approx(
        (engaged + stats["shareCount"]) / stats["impressionCount"]
    )
    assert daily.status_code == 200
    assert all(
        "uniqueImpressionsCount" not in e["totalShareStatistics"] for e in daily.json()["elements"]
    )
    assert forbidden.status_code == 403
    with pytest.raises(LinkedInRejected):
        await adapter.organization_posts(member_token, "urn:li:organization:2414183")
