"""Ambassadors through the gateway: invitation, explicit versioned consent, training, the
leadership track, revocation, and the events each step publishes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NatsClient

from advocacy_shared.contracts.ambassadors import (
    AmbassadorActivityChanged,
    AmbassadorErased,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
    AmbassadorTrained,
    ConsentRevoked,
)
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.topology import Topology
from tests.conftest import Platform
from tests.e2e.test_skeleton import create_organisation
from tests.gateway.webhook_receiver import Receiver
from tests.shared.helpers import dump_database, eventually, polls, read_all

CONSENT = {
    "consent_version": "2026-11",
    "consent_text": "I allow the platform to post on my behalf and to collect my post analytics.",
    "allows_posting": True,
    "allows_analytics": True,
}


async def invite(platform: Platform, org_id: str, email: str, **extra: Any) -> dict[str, Any]:
    for _ in polls():  # the ambassadors service provisions the organisation from its event
        response = await platform.http.post(
            f"/api/v1/orgs/{org_id}/ambassadors",
            json={"email": email, "display_name": email.split("@")[0], **extra},
            headers=platform.auth,
        )
        if response.status_code != 503:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def events(nats_client: NatsClient, topology: Topology) -> list[CloudEvent]:
    messages = await read_all(
        nats_client.jetstream(), topology.stream_name("ambassadors"), "*.ambassadors.>"
    )
    return [CloudEvent.from_bytes(m.data) for m in messages]


async def published_until(
    nats_client: NatsClient, topology: Topology, done: Callable[[list[CloudEvent]], bool]
) -> list[CloudEvent]:
    """The ambassadors stream's events, once `done` holds of them (fails after 30 s)."""
    published: list[CloudEvent] = []
    for _ in polls():
        published = await events(nats_client, topology)
        if done(published):
            return published
        await asyncio.sleep(0.05)
    raise AssertionError([e.type for e in published])


async def test_an_invited_employee_consents_is_trained_and_each_step_is_published(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "Ada@Acme.dk", external_id="HR-1")
    assert ada["state"] == "invited"
    assert ada["email"] == "ada@acme.dk"
    base = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}"

    consented = await platform.http.post(f"{base}/consent", json=CONSENT, headers=platform.auth)
    assert consented.status_code == 200, consented.text
    assert consented.json()["state"] == "consented"
    assert consented.json()["consent"]["consent_version"] == "2026-11"
    trained = await platform.http.post(
        f"{base}/trainings", json={"enablement_format": "workshop"}, headers=platform.auth
    )
    assert trained.status_code == 201
    assert trained.json()["state"] == "trained"
    assert trained.json()["trainings"] == ["workshop"]

    published: list[CloudEvent] = []

    async def both_published() -> bool:
        published[:] = await events(nats_client, topology)
        return len(published) == 2

    for _ in polls():
        if await both_published():
            break
        await asyncio.sleep(0.05)
    assert [e.type for e in published] == [
        AmbassadorOnboarded.spec.type,
        AmbassadorTrained.spec.type,
    ]
    onboarded = AmbassadorOnboarded.model_validate(published[0].data)
    assert str(onboarded.ambassador_id) == ada["id"]
    assert onboarded.external_id == "HR-1"
    assert "ada@acme.dk" not in str(published[0].data)  # ids and facts, no personal data


async def test_an_impossible_transition_is_refused_with_the_reason(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    base = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}"
    training = await platform.http.post(
        f"{base}/trainings", json={"enablement_format": "guide"}, headers=platform.auth
    )
    assert training.status_code == 409
    assert training.json()["detail"] == (
        "an ambassador who is invited cannot become trained (allowed: consented, offboarded)"
    )
    revoked = await platform.http.delete(f"{base}/consent", headers=platform.auth)
    assert revoked.status_code == 409
    assert revoked.json()["detail"] == "there is no consent to revoke"


async def test_revoking_consent_stops_it_at_once_and_keeps_the_history(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    base = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}"
    await platform.http.post(f"{base}/consent", json=CONSENT, headers=platform.auth)

    revoked = await platform.http.delete(f"{base}/consent", headers=platform.auth)

    assert revoked.status_code == 200
    assert revoked.json()["state"] == "invited"
    assert revoked.json()["consent"] is None
    for _ in polls():
        kinds = [e.type for e in await events(nats_client, topology)]
        if ConsentRevoked.spec.type in kinds:
            break
        await asyncio.sleep(0.05)
    assert kinds == [AmbassadorOnboarded.spec.type, ConsentRevoked.spec.type]
    again = await platform.http.post(
        f"{base}/consent", json={**CONSENT, "consent_version": "2026-12"}, headers=platform.auth
    )
    assert again.json()["consent"]["consent_version"] == "2026-12"
    history = await platform.http.get(f"{base}/consents", headers=platform.auth)
    assert [
        (c["action"], c["consent_version"], c["allows_posting"], c["recorded_by"])
        for c in history.json()["changes"]
    ] == [
        ("granted", "2026-11", True, "bootstrap:admin"),
        ("revoked", "2026-11", False, "bootstrap:admin"),
        ("granted", "2026-12", True, "bootstrap:admin"),
    ]
    assert {c["consent_text"] for c in history.json()["changes"]} == {CONSENT["consent_text"]}


async def test_leaders_are_tracked_separately_and_duplicates_refused(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    await invite(platform, org, "ceo@acme.dk", profile={"segments": ["leadership"]})
    await invite(platform, org, "ada@acme.dk", profile={"segments": ["specialist"]})
    url = f"/api/v1/orgs/{org}/ambassadors"
    leaders = (
        await platform.http.get(url, params={"leadership": True}, headers=platform.auth)
    ).json()
    assert [a["email"] for a in leaders["items"]] == ["ceo@acme.dk"]
    assert leaders["items"][0]["profile"]["leadership"] is True  # the segment puts them there
    everyone = (await platform.http.get(url, params={"limit": 1}, headers=platform.auth)).json()
    assert len(everyone["items"]) == 1
    rest = await platform.http.get(
        url, params={"limit": 1, "cursor": everyone["next_cursor"]}, headers=platform.auth
    )
    assert {everyone["items"][0]["email"], rest.json()["items"][0]["email"]} == {
        "ceo@acme.dk",
        "ada@acme.dk",
    }
    duplicate = await platform.http.post(
        url, json={"email": "ADA@acme.dk", "display_name": "Ada"}, headers=platform.auth
    )
    assert duplicate.status_code == 409


async def test_an_ambassador_of_one_organisation_is_invisible_to_another(
    platform: Platform,
) -> None:
    mine = (await create_organisation(platform, "Mine"))["id"]
    theirs = (await create_organisation(platform, "Theirs"))["id"]
    ada = await invite(platform, mine, "ada@mine.dk")
    await invite(platform, theirs, "bob@theirs.dk")
    response = await platform.http.get(
        f"/api/v1/orgs/{theirs}/ambassadors/{ada['id']}", headers=platform.auth
    )
    assert response.status_code == 404
    listed = (
        await platform.http.get(f"/api/v1/orgs/{theirs}/ambassadors", headers=platform.auth)
    ).json()
    assert [a["email"] for a in listed["items"]] == ["bob@theirs.dk"]


async def test_erasure_leaves_nothing_personal_in_any_services_database(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    receiver = await Receiver().start()  # the HR system, subscribed to every event
    subscribed = await platform.http.post(
        f"/api/v1/orgs/{org}/webhooks",
        json={"url": receiver.url(), "event_types": ["*"]},
        headers=platform.auth,
    )
    assert subscribed.status_code == 201, subscribed.text
    ada = await invite(
        platform, org, "ada.lovelace@acme.dk", display_name="Ada Lovelace", external_id="HR-77"
    )
    base = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}"
    await platform.http.post(f"{base}/consent", json=CONSENT, headers=platform.auth)
    await platform.http.post(
        f"{base}/trainings", json={"enablement_format": "one_to_one"}, headers=platform.auth
    )
    # The HR system got the onboarding events, and the gateway logged those deliveries.
    await receiver.wait_until(lambda: len(receiver.succeeded()) >= 2)
    assert "HR-77" in await dump_database(platform.gateway.app.state.gateway.sessions)

    erased = await platform.http.delete(base, headers=platform.auth)

    assert erased.status_code == 200, erased.text
    assert (await platform.http.get(base, headers=platform.auth)).status_code == 404

    async def erasure_published() -> bool:  # the relay publishes after the answer
        published = [e.type for e in await events(nats_client, topology)]
        return bool(published) and published[-1] == AmbassadorErased.spec.type

    await eventually(erasure_published)
    await receiver.wait_until(
        lambda: AmbassadorErased.spec.type in {r.payload["type"] for r in receiver.succeeded()}
    )
    await receiver.stop()
    databases = {name: runtime.sessions for name, runtime in platform.runtimes.items()}
    databases["gateway"] = platform.gateway.app.state.gateway.sessions
    for name, sessions in databases.items():
        dump = await dump_database(sessions)
        for personal in ("ada.lovelace@acme.dk", "Ada Lovelace", "HR-77"):
            assert personal not in dump, (name, personal)
    ambassadors_dump = await dump_database(platform.runtimes["ambassadors"].sessions)
    # Only the erasure event itself may name the erased ambassador's id (raw dumps show a UUID
    # with hyphens on PostgreSQL, as 32 hex digits on SQLite).
    naming = [
        line
        for line in ambassadors_dump.splitlines()
        if ada["id"] in line or ada["id"].replace("-", "") in line
    ]
    assert len(naming) == 1
    assert AmbassadorErased.spec.type in naming[0]


async def test_a_profile_change_moves_the_leadership_track_and_is_published(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    profile = {
        "segments": ["leadership"],
        "topics": ["energy transition"],
        "languages": ["da", "en"],
        "posts_per_week": 2,
    }
    changed = await platform.http.put(
        f"/api/v1/orgs/{org}/ambassadors/{ada['id']}/profile", json=profile, headers=platform.auth
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["profile"]["leadership"] is True
    leaders = await platform.http.get(
        f"/api/v1/orgs/{org}/ambassadors?leadership=true", headers=platform.auth
    )
    assert [a["id"] for a in leaders.json()["items"]] == [ada["id"]]
    bad = await platform.http.put(
        f"/api/v1/orgs/{org}/ambassadors/{ada['id']}/profile",
        json={"segments": ["astronauts"]},
        headers=platform.auth,
    )
    assert bad.status_code == 422

    published = await published_until(nats_client, topology, bool)
    fact = AmbassadorProfileChanged.model_validate(published[0].data)
    assert (fact.leadership, fact.topics, fact.posts_per_week) == (True, ["energy transition"], 2)
    assert "ada@acme.dk" not in str(published[0].data)


async def test_momentum_a_trained_ambassador_becomes_active_goes_quiet_and_comes_back(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    base = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}"
    too_early = await platform.http.post(
        f"{base}/activity", json={"state": "active"}, headers=platform.auth
    )
    assert too_early.status_code == 409
    await platform.http.post(f"{base}/consent", json=CONSENT, headers=platform.auth)
    await platform.http.post(
        f"{base}/trainings", json={"enablement_format": "guide"}, headers=platform.auth
    )
    states = []
    for state in ("active", "quiet", "active"):
        response = await platform.http.post(
            f"{base}/activity", json={"state": state}, headers=platform.auth
        )
        assert response.status_code == 200, response.text
        states.append(response.json()["state"])
    assert states == ["active", "quiet", "active"]

    activity = AmbassadorActivityChanged.spec.type
    published = await published_until(
        nats_client, topology, lambda p: [e.type for e in p].count(activity) == 3
    )
    changes = [
        AmbassadorActivityChanged.model_validate(e.data).state
        for e in published
        if e.type == activity
    ]
    assert changes == ["active", "quiet", "active"]
