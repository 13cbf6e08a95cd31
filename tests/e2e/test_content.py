"""The content service through the gateway, on a real NATS and real databases: the library's
approval workflow with its kept history, compliance rules refusing items with problem details that
name the rule, ambassadors' proposals, tenant isolation, and suggestions ranked from the copies the
service keeps of other services' events (ambassadors, the planner's playbook and programs, the
metrics service's post engagement), explained, kept once a day, and announced as notifications."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from sqlalchemy import select

from advocacy_content.models import AmbassadorCopy, DisciplineCopy, ProgramCopy
from advocacy_shared.contracts.ambassadors import (
    AmbassadorActivityChanged,
    AmbassadorErased,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
    ConsentRevoked,
)
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.metrics import PostEngagementMeasured
from advocacy_shared.envelope import CloudEvent
from tests.actors import bearer, new_key
from tests.conftest import Platform
from tests.e2e.test_skeleton import create_organisation
from tests.shared.helpers import dump_database, eventually, polls

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SELLER_ITEM: dict[str, Any] = {
    "title": "Bæredygtige løsninger hos vores kunder #medarbejder",
    "body": "Se hvordan vi hjalp en kunde med bæredygtige løsninger.",
    "link": "https://www.acme.dk/cases/1",
    "kind": "customer_case",
    "disciplines": ["social_selling"],
    "topics": ["bæredygtighed"],
    "language": "da",
}
ENGLISH_ITEM: dict[str, Any] = {
    "title": "Why zero trust matters #medarbejder",
    "body": "Our specialists on cloud security.",
    "kind": "industry_theme",
    "disciplines": ["thought_leadership"],
    "topics": ["cloud security"],
    "language": "en",
}
OFFICE_ITEM: dict[str, Any] = {
    "title": "En dag på kontoret #medarbejder",
    "body": "Kollegaskab og udvikling.",
    "kind": "vacancy",
    "disciplines": ["employer_branding"],
    "language": "da",
}
RULES = {
    "required_disclosure": "#medarbejder",
    "blocked_phrases": ["gratis", "garanteret afkast"],
    "allowed_link_domains": ["acme.dk"],
}


async def content_ready(platform: Platform) -> str:
    """A new organisation, once the content service has provisioned it (from the event)."""
    org = str((await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"])
    for _ in polls():
        response = await platform.http.get(
            f"/api/v1/orgs/{org}/compliance/rules", headers=platform.auth
        )
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            return org
        await asyncio.sleep(0.05)
    raise AssertionError("the content service never provisioned the organisation")


def url(org: str, path: str) -> str:
    return f"/api/v1/orgs/{org}{path}"


async def call(
    platform: Platform,
    method: str,
    org: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await platform.http.request(
        method, url(org, path), json=body, headers=headers or platform.auth
    )


async def approved_item(platform: Platform, org: str, fields: dict[str, Any]) -> dict[str, Any]:
    created = await call(platform, "POST", org, "/content", fields)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    submitted = await call(platform, "POST", org, f"/content/{item_id}/submit")
    assert submitted.status_code == 200, submitted.text
    approved = await call(
        platform, "POST", org, f"/content/{item_id}/review", {"decision": "approve"}
    )
    assert approved.status_code == 200, approved.text
    body: dict[str, Any] = approved.json()
    return body


async def publish(platform: Platform, service: str, org: str, fact: EventData) -> CloudEvent:
    """One fact, as its owning service publishes it: through that service's outbox."""
    runtime = platform.runtimes[service]
    async with runtime.transaction() as session:
        return await runtime.outbox.add(session, fact, organisation_id=org)


async def content_events(platform: Platform, org: str, kind: str) -> list[dict[str, Any]]:
    """The data of the content service's events of one kind (`suggestions.prepared.v1`)."""
    runtime = platform.runtimes["content"]
    table = runtime.outbox.table
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(table.c.subject, table.c.payload).where(table.c.organisation_id == org)
        )
        return [json.loads(p)["data"] for s, p in rows if s.endswith(kind)]


async def copy_of(platform: Platform, model: Any, **where: Any) -> Any:
    async with platform.runtimes["content"].sessions() as session:
        query = select(model).where(*(getattr(model, k) == v for k, v in where.items()))
        return (await session.execute(query)).scalars().first()


async def onboard(
    platform: Platform,
    org: str,
    *,
    segments: list[str],
    topics: list[str],
    languages: list[str],
    program_id: UUID | None = None,
    leadership: bool = False,
    posts_per_week: float = 1.0,
) -> UUID:
    ambassador = uuid4()
    await publish(
        platform,
        "ambassadors",
        org,
        AmbassadorOnboarded(
            ambassador_id=ambassador,
            external_id=None,
            program_id=program_id,
            leadership=leadership,
            onboarded_at=NOW,
            version=1,
        ),
    )
    await publish(
        platform,
        "ambassadors",
        org,
        AmbassadorProfileChanged(
            ambassador_id=ambassador,
            leadership=leadership,
            segments=segments,
            topics=topics,
            languages=languages,
            posts_per_week=posts_per_week,
            changed_at=NOW,
            version=2,
        ),
    )

    async def applied() -> bool:
        copy = await copy_of(platform, AmbassadorCopy, ambassador_id=ambassador)
        return copy is not None and copy.version == 2

    await eventually(applied)
    return ambassador


# --- The library ---------------------------------------------------------------------------------


async def test_an_item_goes_from_draft_through_review_to_approved_and_retired_with_its_history(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    rules = await call(platform, "PUT", org, "/compliance/rules", RULES)
    assert rules.status_code == 200, rules.text
    assert rules.json()["version"] == 1

    draft = {**SELLER_ITEM, "title": "Helt gratis rådgivning", "link": "https://evil.example/x"}
    created = await call(platform, "POST", org, "/content", draft)
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["status"] == "draft"
    assert created.headers["Location"].endswith(f"/content/{item['id']}")
    one = f"/content/{item['id']}"

    refused = await call(platform, "POST", org, one + "/submit")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "compliance rule required_disclosure" in problem["detail"]
    assert [v["rule"] for v in problem["context"]["violations"]] == [
        "required_disclosure",
        "blocked_phrase",
        "link_domain",
    ]
    assert problem["context"]["violations"][1]["value"] == "gratis"

    fixed = await call(
        platform,
        "PUT",
        org,
        one,
        {"title": SELLER_ITEM["title"], "link": SELLER_ITEM["link"]},
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["revision"] == 2
    submitted = await call(platform, "POST", org, one + "/submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "in_review"

    busy = await call(platform, "PUT", org, one, {"title": "Changed in review"})
    assert busy.status_code == 409, busy.text

    comms = bearer(await new_key(platform.gateway, org, "comms"))
    not_an_approver = await call(
        platform, "POST", org, one + "/review", {"decision": "approve"}, comms
    )
    assert not_an_approver.status_code == 403, not_an_approver.text
    assert (await call(platform, "GET", org, one, headers=comms)).status_code == 200

    approved = await call(
        platform, "POST", org, one + "/review", {"decision": "approve", "note": "Fint"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    async def announced() -> bool:
        return bool(await content_events(platform, org, "item.approved.v1"))

    await eventually(announced)
    (fact,) = await content_events(platform, org, "item.approved.v1")
    assert fact["item_id"] == item["id"]

    retired = await call(platform, "POST", org, one + "/retire", {"note": "Udløbet"})
    assert retired.status_code == 200
    assert retired.json()["status"] == "retired"
    again = await call(platform, "POST", org, one + "/retire", {})
    assert again.status_code == 409

    history = await call(platform, "GET", org, one + "/history")
    assert history.status_code == 200, history.text
    steps = history.json()["items"]
    assert [(s["action"], s["to_status"]) for s in steps] == [
        ("created", "draft"),
        ("edited", "draft"),
        ("submitted", "in_review"),
        ("approved", "approved"),
        ("retired", "retired"),
    ]
    assert steps[0]["snapshot"]["title"] == "Helt gratis rådgivning"
    assert steps[1]["snapshot"]["title"] == SELLER_ITEM["title"]
    assert steps[3]["note"] == "Fint"
    assert all(s["actor"] for s in steps)

    listed = await call(platform, "GET", org, "/content?status=retired")
    assert [i["id"] for i in listed.json()["items"]] == [item["id"]]


async def test_rejection_sends_an_item_back_to_draft_and_unknown_disciplines_are_refused(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    created = await call(platform, "POST", org, "/content", SELLER_ITEM)
    one = f"/content/{created.json()['id']}"
    await call(platform, "POST", org, one + "/submit")
    rejected = await call(
        platform, "POST", org, one + "/review", {"decision": "reject", "note": "Mere konkret"}
    )
    assert rejected.json()["status"] == "draft"
    not_in_review = await call(platform, "POST", org, one + "/review", {"decision": "approve"})
    assert not_in_review.status_code == 409

    unknown = await call(platform, "POST", org, "/content", {**SELLER_ITEM, "disciplines": ["x_y"]})
    assert unknown.status_code == 422
    assert "no discipline x_y" in unknown.json()["detail"]


async def test_an_ambassadors_proposal_is_checked_and_enters_review(platform: Platform) -> None:
    org = await content_ready(platform)
    await call(platform, "PUT", org, "/compliance/rules", RULES)
    ambassador = await onboard(
        platform, org, segments=["specialist"], topics=["cloud"], languages=["en"]
    )
    proposal = {"ambassador_id": str(ambassador), "item": ENGLISH_ITEM}
    proposed = await call(platform, "POST", org, "/content/proposals", proposal)
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["status"] == "in_review"
    assert proposed.json()["proposed_by_ambassador"] == str(ambassador)

    blocked = {**ENGLISH_ITEM, "body": "Garanteret afkast for alle"}
    refused = await call(platform, "POST", org, "/content/proposals", {**proposal, "item": blocked})
    assert refused.status_code == 422
    assert refused.json()["context"]["rule"] == "blocked_phrase"
    stranger = {"ambassador_id": str(uuid4()), "item": ENGLISH_ITEM}
    assert (await call(platform, "POST", org, "/content/proposals", stranger)).status_code == 404

    check = await call(platform, "POST", org, "/compliance/check", {"text": "gratis!", "links": []})
    assert check.json()["ok"] is False
    assert [v["rule"] for v in check.json()["violations"]] == [
        "required_disclosure",
        "blocked_phrase",
    ]


async def test_another_organisations_items_and_suggestions_are_unknown(platform: Platform) -> None:
    mine, theirs = await content_ready(platform), await content_ready(platform)
    item = await approved_item(platform, theirs, SELLER_ITEM)
    ambassador = await onboard(
        platform, theirs, segments=["sales_marketing"], topics=[], languages=["da"]
    )
    listed = await call(platform, "GET", theirs, f"/ambassadors/{ambassador}/suggestions")
    suggestion = listed.json()["items"][0]["id"]
    for method, path, body in [
        ("GET", f"/content/{item['id']}", None),
        ("GET", f"/content/{item['id']}/history", None),
        ("PUT", f"/content/{item['id']}", {"title": "Mine now"}),
        ("POST", f"/content/{item['id']}/submit", None),
        ("POST", f"/content/{item['id']}/review", {"decision": "approve"}),
        ("POST", f"/content/{item['id']}/retire", {}),
        ("GET", f"/suggestions/{suggestion}", None),
        ("GET", f"/ambassadors/{ambassador}/suggestions", None),
    ]:
        response = await call(platform, method, mine, path, body)
        assert response.status_code == 404, (method, path, response.text)
    assert (await call(platform, "GET", mine, "/content")).json()["items"] == []
    assert (await call(platform, "GET", theirs, f"/suggestions/{suggestion}")).status_code == 200


# --- Suggestions ---------------------------------------------------------------------------------


async def test_suggestions_are_ranked_from_the_copies_explained_kept_and_announced(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    program = await call(
        platform,
        "POST",
        org,
        "/programs",
        {
            "name": "Pilot",
            "owner": "Comms",
            "objectives": ["Sales & lead generation", "Qualified applicants"],
            "disciplines": ["social_selling", "employer_branding"],
            "capacity": {"fte_share": 0.5},
            "start_date": "2027-01-04",
        },
    )
    assert program.status_code == 201, program.text
    program_id = UUID(program.json()["id"])
    prompts = ["Fortæl om et kundeproblem, du har løst", "Hvad lærte du af din seneste case?"]
    edited = await call(
        platform, "PATCH", org, "/playbook/rows/social_selling", {"angle_prompts": prompts}
    )
    assert edited.status_code == 200, edited.text

    async def planner_facts_kept() -> bool:
        discipline = await copy_of(
            platform, DisciplineCopy, organisation_id=UUID(org), key="social_selling"
        )
        return (
            await copy_of(platform, ProgramCopy, program_id=program_id) is not None
            and discipline is not None
            and discipline.angle_prompts == prompts
        )

    await eventually(planner_facts_kept)

    seller_item = await approved_item(platform, org, SELLER_ITEM)
    english_item = await approved_item(platform, org, ENGLISH_ITEM)
    office_item = await approved_item(platform, org, OFFICE_ITEM)
    seller = await onboard(
        platform,
        org,
        segments=["sales_marketing"],
        topics=["bæredygtighed"],
        languages=["da"],
        program_id=program_id,
    )

    response = await call(platform, "GET", org, f"/ambassadors/{seller}/suggestions")
    assert response.status_code == 200, response.text
    listing = response.json()
    assert listing["stored"] is True
    assert "2 suggestions" in listing["cadence"]
    top = listing["items"][0]
    assert top["item_id"] == seller_item["id"]
    assert top["discipline"] == "social_selling"
    assert top["angle_prompt"] in prompts
    assert top["leadership_prompt"] is None
    assert top["summary"] == "Suggested because it fits your discipline and matches your topics."
    signals = {s["signal"]: s for s in top["signals"]}
    assert set(signals) == {
        "discipline_fit",
        "topic_match",
        "language",
        "freshness",
        "objective_priority",
        "learned_performance",
        "diversity",
        "cadence",
    }
    assert signals["discipline_fit"]["weight"] == 0.3
    assert "sales_marketing colleagues like you" in signals["discipline_fit"]["reason"]
    assert "'bæredygtighed'" in signals["topic_match"]["reason"]
    assert "objective #1 of 2: 'Sales & lead generation'" in signals["objective_priority"]["reason"]
    assert "Not measured yet" in signals["learned_performance"]["reason"]
    assert all(s["reason"] for s in top["signals"])

    again = await call(platform, "GET", org, f"/ambassadors/{seller}/suggestions")
    assert [s["id"] for s in again.json()["items"]] == [s["id"] for s in listing["items"]]
    one = await call(platform, "GET", org, f"/suggestions/{top['id']}")
    assert one.status_code == 200
    assert one.json()["angle_prompt"] == top["angle_prompt"]

    async def prepared() -> bool:
        return bool(await content_events(platform, org, "suggestions.prepared.v1"))

    await eventually(prepared)
    (ready,) = await content_events(platform, org, "suggestions.prepared.v1")
    assert ready["ambassador_id"] == str(seller)
    assert ready["items"][0]["suggestion_id"] == top["id"]

    # Learned performance arrives from the metrics service as events.
    await publish(
        platform,
        "metrics",
        org,
        PostEngagementMeasured(
            post_id=uuid4(),
            ambassador_id=seller,
            content_item_id=UUID(office_item["id"]),
            impressions=1000,
            reactions=50,
            comments=10,
            reshares=2,
            engagement_rate=0.062,
            observed_at=NOW,
        ),
    )

    async def learned() -> bool:
        preview = await call(platform, "GET", org, f"/ambassadors/{seller}/suggestions/preview")
        office = [s for s in preview.json()["items"] if s["item_id"] == office_item["id"]]
        return bool(office) and any(
            s["signal"] == "learned_performance" and s["value"] == 1.0 for s in office[0]["signals"]
        )

    await eventually(learned)
    preview = await call(platform, "GET", org, f"/ambassadors/{seller}/suggestions/preview?count=3")
    assert preview.json()["stored"] is False
    assert len(preview.json()["items"]) == 2, "the English thought-leadership item fits nothing"
    assert english_item["id"] not in {s["item_id"] for s in preview.json()["items"]}
    office = next(s for s in preview.json()["items"] if s["item_id"] == office_item["id"])
    words = next(s for s in office["signals"] if s["signal"] == "learned_performance")["reason"]
    assert "engaged 6.2% on average" in words

    await publish(
        platform,
        "ambassadors",
        org,
        ConsentRevoked(
            ambassador_id=seller, external_id=None, consent_version="v1", revoked_at=NOW, version=3
        ),
    )

    async def refused() -> bool:
        response = await call(platform, "GET", org, f"/ambassadors/{seller}/suggestions")
        return response.status_code == 409

    await eventually(refused)


async def test_a_quiet_ambassador_gets_one_nudge_and_leaders_get_thought_leadership_prompts(
    platform: Platform,
) -> None:
    org = await content_ready(platform)
    item = await approved_item(platform, org, SELLER_ITEM)
    other = {"title": "Endnu en case #medarbejder", "body": "Om vores produkter", "topics": []}
    await approved_item(platform, org, {**SELLER_ITEM, **other})
    leader = await onboard(
        platform,
        org,
        segments=["sales_marketing", "leadership"],
        topics=["bæredygtighed"],
        languages=["da"],
        leadership=True,
        posts_per_week=0.5,
    )
    listing = (await call(platform, "GET", org, f"/ambassadors/{leader}/suggestions")).json()
    (pick,) = listing["items"]
    assert pick["item_id"] == item["id"]
    assert pick["leadership_prompt"] in [
        "Take a stand on an industry agenda",
        "Share the professional hobby-horse you never tire of",
    ]

    quiet = await onboard(platform, org, segments=["sales_marketing"], topics=[], languages=["da"])
    await publish(
        platform,
        "ambassadors",
        org,
        AmbassadorActivityChanged(ambassador_id=quiet, state="quiet", changed_at=NOW, version=3),
    )

    async def is_quiet() -> bool:
        copy = await copy_of(platform, AmbassadorCopy, ambassador_id=quiet)
        return copy is not None and copy.activity == "quiet"

    await eventually(is_quiet)
    nudged = (await call(platform, "GET", org, f"/ambassadors/{quiet}/suggestions")).json()
    assert "quiet" in nudged["cadence"]
    (nudge,) = nudged["items"]
    assert nudge["nudge"] is True
    assert nudge["item_id"] != pick["item_id"], "the leader had the other one today"
    assert nudge["summary"].startswith("A gentle nudge")

    async def announced() -> bool:
        return bool(await content_events(platform, org, "ambassador.nudged.v1"))

    await eventually(announced)
    (fact,) = await content_events(platform, org, "ambassador.nudged.v1")
    assert fact["suggestion_id"] == nudge["id"]
    assert fact["angle_prompt"] == nudge["angle_prompt"]


async def test_a_retired_playbook_discipline_is_retired_in_the_copy(platform: Platform) -> None:
    org = await content_ready(platform)
    retired = await call(platform, "DELETE", org, "/playbook/rows/employer_branding")
    assert retired.status_code == 200, retired.text

    async def copy_retired() -> bool:
        copy = await copy_of(
            platform, DisciplineCopy, organisation_id=UUID(org), key="employer_branding"
        )
        return copy is not None and copy.retired and copy.playbook_version == 2

    await eventually(copy_retired)
    refused = await call(platform, "POST", org, "/content", OFFICE_ITEM)
    assert refused.status_code == 422
    assert refused.json()["context"]["unknown_disciplines"] == ["employer_branding"]


async def test_erasure_leaves_nothing_that_names_the_ambassador(platform: Platform) -> None:
    org = await content_ready(platform)
    await approved_item(platform, org, SELLER_ITEM)
    ada = await onboard(platform, org, segments=["sales_marketing"], topics=[], languages=["da"])
    proposal = {"ambassador_id": str(ada), "item": ENGLISH_ITEM}
    assert (await call(platform, "POST", org, "/content/proposals", proposal)).status_code == 201
    listing = await call(platform, "GET", org, f"/ambassadors/{ada}/suggestions")
    assert listing.json()["items"]
    sessions = platform.runtimes["content"].sessions

    async def published() -> bool:
        table = platform.runtimes["content"].outbox.table
        async with sessions() as session:
            rows = await session.execute(
                select(table.c.id).where(
                    table.c.organisation_id == org, table.c.published_at.is_(None)
                )
            )
            return rows.first() is None

    await eventually(published)
    assert str(ada) in await dump_database(sessions)
    await publish(
        platform, "ambassadors", org, AmbassadorErased(ambassador_id=ada, erased_at=NOW, version=3)
    )

    async def forgotten() -> bool:
        return str(ada) not in await dump_database(sessions)

    await eventually(forgotten)
    assert await copy_of(platform, AmbassadorCopy, ambassador_id=ada) is None
    await publish(
        platform,
        "ambassadors",
        org,
        AmbassadorProfileChanged(
            ambassador_id=ada,
            leadership=False,
            segments=["specialist"],
            topics=[],
            languages=["da"],
            posts_per_week=1,
            changed_at=NOW,
            version=2,
        ),
    )
    marker = await onboard(platform, org, segments=["specialist"], topics=[], languages=["da"])
    assert marker, "a later fact was applied, so the stale one was handled before it"
    assert await copy_of(platform, AmbassadorCopy, ambassador_id=ada) is None
