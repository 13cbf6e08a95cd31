"""Outbound webhooks against a real nats-server, a real database and real HTTP receivers.

Signatures are verified with the independent `standardwebhooks` package, never with our signing
code. Retry delays are tiny here, so that the whole schedule runs in a second or two.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID, uuid4

import jsonschema_rs
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext
from sqlalchemy import update
from sqlmodel import col
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from advocacy_devtools.testing import MakeDatabase
from advocacy_gateway.settings import GatewaySettings
from advocacy_gateway.state import GatewayState
from advocacy_gateway.webhooks import targets
from advocacy_gateway.webhooks.models import WebhookEndpoint
from advocacy_shared.contracts import EVENT_TYPES, WEBHOOK_EVENT_TYPES
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOnboarded,
    AmbassadorTrained,
)
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.webhooks import WebhookEndpointDisabled
from advocacy_shared.envelope import CloudEvent, new_id, utc_now
from advocacy_shared.topology import Topology
from tests.conftest import ADMIN_KEY, Gateway, common_settings, serving
from tests.gateway.webhook_receiver import Answer, Receiver
from tests.shared.helpers import eventually

PROBLEM = "application/problem+json"
ONBOARDED = AmbassadorOnboarded.spec.type
DISABLED = WebhookEndpointDisabled.spec.type
TRAINED = AmbassadorTrained.spec.type
ERASED = AmbassadorErased.spec.type
ORGANISATION_CREATED = OrganisationCreated.spec.type

FAST = {
    "webhooks_retry_delays_seconds": (0.05, 0.1, 0.1, *([0.2] * 10)),
    "webhooks_retry_jitter": 0.0,
    "webhooks_poll_seconds": 0.05,
    "webhooks_timeout_seconds": 2.0,
}

OVERLAP_SECONDS = 3600
"""Long enough for the first delivery to fall inside it on any machine; the test then ends the
overlap by moving its end into the past, as if the hour had passed."""

StartGateway = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def start_gateway(
    nats_server_url: str,
    topology: Topology,
    make_database: MakeDatabase,
    nats_client: NatsClient,  # deletes this test's streams afterwards
) -> StartGateway:
    """Like the `gateway` fixture, with fast webhook settings that a test may override."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Gateway]:
        settings = GatewaySettings(
            database_url=await make_database("gateway", "advocacy_gateway"),
            admin_api_key=ADMIN_KEY,
            **{**common_settings(nats_server_url, topology), **FAST, **overrides},
        )
        async with serving(settings) as gateway:
            yield gateway

    return start


@pytest.fixture
async def hooks(start_gateway: StartGateway) -> AsyncIterator[Gateway]:
    async with start_gateway() as gateway:
        yield gateway


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


async def new_organisation(gateway: Gateway, name: str = "Acme") -> str:
    response = await gateway.http.post("/api/v1/orgs", json={"name": name}, headers=gateway.auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def subscribe(
    gateway: Gateway,
    org_id: str,
    url: str,
    event_types: list[str],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Subscribe; tests that count deliveries name the types, since an organisation's own
    OrganisationCreated may or may not reach an endpoint subscribed right after its creation."""
    response = await gateway.http.post(
        f"/api/v1/orgs/{org_id}/webhooks",
        json={"url": url, "event_types": event_types},
        headers=headers or gateway.auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def webhook(gateway: Gateway, org_id: str, hook: dict[str, Any]) -> dict[str, Any]:
    response = await gateway.http.get(
        f"/api/v1/orgs/{org_id}/webhooks/{hook['id']}", headers=gateway.auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(gateway: Gateway, org_id: str, hook: dict[str, Any]) -> list[dict[str, Any]]:
    response = await gateway.http.get(
        f"/api/v1/orgs/{org_id}/webhooks/{hook['id']}/deliveries",
        params={"limit": 200},
        headers=gateway.auth,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def audit_actions(gateway: Gateway, org_id: str) -> list[dict[str, Any]]:
    response = await gateway.http.get(
        f"/api/v1/orgs/{org_id}/audit-log", params={"limit": 200}, headers=gateway.auth
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return [entry for entry in items if entry["action"].startswith("webhook.")]


async def api_key(gateway: Gateway, org_id: str, scope: str) -> dict[str, str]:
    response = await gateway.http.post(
        f"/api/v1/orgs/{org_id}/api-keys",
        json={"name": f"{scope} key", "scopes": [scope]},
        headers=gateway.auth,
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def onboarded() -> AmbassadorOnboarded:
    return AmbassadorOnboarded(
        ambassador_id=uuid4(),
        external_id="E-1042",
        program_id=uuid4(),
        leadership=False,
        onboarded_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )


def trained() -> AmbassadorTrained:
    return AmbassadorTrained(
        ambassador_id=uuid4(),
        external_id=None,
        enablement_format="workshop",
        trained_at=datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
    )


async def publish(
    nats_client: NatsClient, topology: Topology, fact: EventData, org_id: str
) -> CloudEvent:
    """Publish an event as its owning service would, into this test's namespace."""
    envelope = CloudEvent(
        source="/advocacy/tests",
        type=fact.spec.type,
        data=fact.model_dump(mode="json"),
        orgid=org_id,
        correlationid=new_id(),
    )
    await nats_client.jetstream().publish(
        fact.spec.subject(topology), envelope.to_bytes(), headers={"Nats-Msg-Id": envelope.id}
    )
    return envelope


class Unreachable:
    """A JetStream context whose every publish fails, as while NATS cannot be reached."""

    async def publish(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionClosedError


@asynccontextmanager
async def events_held(gateway: Gateway) -> AsyncIterator[None]:
    """The gateway's outbox keeps its events until the block ends, as while NATS is unreachable:
    an organisation's own OrganisationCreated can then reach endpoints subscribed after it.
    (The HTTP process and the delivery process both relay the gateway's outbox.)"""
    state: GatewayState = gateway.app.state.gateway
    relays = [state.relay, gateway.webhooks.runtime.relay]
    kept = [relay.js for relay in relays]
    for relay in relays:
        relay.js = cast(JetStreamContext, Unreachable())
    try:
        yield
    finally:
        for relay, js in zip(relays, kept, strict=True):
            relay.js = js
            relay.wake()


def signatures(headers: dict[str, str]) -> list[str]:
    return headers["webhook-signature"].split(" ")


async def test_a_delivery_is_a_standard_webhook_that_the_independent_library_verifies(
    hooks: Gateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    org = await new_organisation(hooks)
    hook = await subscribe(hooks, org, receiver.url(), [ONBOARDED])
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24

    fact = onboarded()
    event = await publish(nats_client, topology, fact, org)
    await receiver.wait_until(lambda: len(receiver.received) == 1)

    request = receiver.received[0]
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload == {
        "type": ONBOARDED,
        "timestamp": payload["timestamp"],
        "data": {**fact.model_dump(mode="json"), "organisation_id": org},
    }
    assert payload["timestamp"].endswith("Z")
    assert datetime.fromisoformat(payload["timestamp"]) == event.time
    assert request.headers["webhook-id"] == event.id
    assert request.headers["content-type"] == "application/json"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 30
    assert len(signatures(request.headers)) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"][:-8] + "AAAAAAA=").verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"E-1042", b"E-1043"), request.headers)

    types = (await hooks.http.get("/api/v1/webhook-event-types", headers=hooks.auth)).json()
    schema = next(t["payload_schema"] for t in types if t["type"] == ONBOARDED)
    jsonschema_rs.validate(schema, payload)
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validate(schema, {**payload, "data": fact.model_dump(mode="json")})

    async def recorded() -> bool:  # the worker records the answer after the receiver has it
        return [d["status"] for d in await deliveries(hooks, org, hook)] == ["delivered"]

    await eventually(recorded)
    (delivery,) = await deliveries(hooks, org, hook)
    assert delivery["message_id"] == event.id
    assert delivery["attempts"] == 1
    assert delivery["last_response_status"] == 200
    assert "last_response_excerpt" not in delivery
    assert delivery["next_attempt_at"] is None


async def test_events_reach_the_matching_endpoints_of_their_own_organisation_only(
    hooks: Gateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    subscriptions = {
        "/acme/every": ("acme", ["*"]),
        "/acme/organisations": ("acme", [ORGANISATION_CREATED]),
        "/acme/onboarding": ("acme", [ONBOARDED]),
        "/acme/training": ("acme", [TRAINED]),
        "/globex/every": ("globex", ["*"]),
    }
    async with events_held(hooks):
        orgs = {
            "acme": await new_organisation(hooks, "Acme"),
            "globex": await new_organisation(hooks, "Globex"),
        }
        hooks_by_path = {
            path: await subscribe(hooks, orgs[org], receiver.url(path), types)
            for path, (org, types) in subscriptions.items()
        }
    await publish(nats_client, topology, onboarded(), orgs["acme"])
    await publish(nats_client, topology, onboarded(), orgs["globex"])

    acme, globex = orgs["acme"], orgs["globex"]
    expected = {
        "/acme/every": {(ORGANISATION_CREATED, acme), (ONBOARDED, acme)},
        "/acme/organisations": {(ORGANISATION_CREATED, acme)},
        "/acme/onboarding": {(ONBOARDED, acme)},
        "/acme/training": set(),
        "/globex/every": {(ORGANISATION_CREATED, globex), (ONBOARDED, globex)},
    }
    expected_count = sum(len(received) for received in expected.values())
    await receiver.wait_until(lambda: len(receiver.succeeded()) >= expected_count)

    # Each event's deliveries are queued in one transaction, so by now every one exists.
    for path, hook in hooks_by_path.items():
        org = orgs[subscriptions[path][0]]
        queued = await deliveries(hooks, org, hook)
        assert {(d["event_type"], org) for d in queued} == expected[path], path
        assert len(queued) == len(expected[path]), path
        received = {
            (r.payload["type"], r.payload["data"]["organisation_id"]) for r in receiver.at(path)
        }
        assert received == expected[path], path
    created = next(r for r in receiver.at("/acme/organisations")).payload["data"]
    assert created == {
        "organisation_id": acme,
        "name": "Acme",
        "slug": "acme",
        "created_at": created["created_at"],
    }


async def test_an_event_about_an_erased_person_arriving_after_the_erasure_is_not_delivered(
    hooks: Gateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    """The intake keeps a tombstone of an erased person: an event about them that arrives after
    the erasure (a redelivery, a replay from the dead letters) queues no delivery. Someone else's
    events still do."""
    org = await new_organisation(hooks)
    hook = await subscribe(hooks, org, receiver.url(), [ONBOARDED, ERASED])
    person, other = onboarded(), onboarded()
    await publish(nats_client, topology, person, org)
    await receiver.wait_until(lambda: len(receiver.succeeded()) >= 1)

    erasure = AmbassadorErased(
        ambassador_id=person.ambassador_id, employee_id=None, erased_at=datetime.now(UTC)
    )
    await publish(nats_client, topology, erasure, org)
    await publish(nats_client, topology, person, org)  # late: a copy of an earlier fact
    await publish(nats_client, topology, other, org)

    def types() -> list[str]:
        return [r.payload["type"] for r in receiver.succeeded()]

    await receiver.wait_until(lambda: types().count(ONBOARDED) >= 2 and ERASED in types())
    queued = await deliveries(hooks, org, hook)
    named = [d for d in queued if d["event_type"] == ONBOARDED]
    assert len(named) == 1  # the other person's; the erased one's first was forgotten
    received = [r.payload["data"] for r in receiver.succeeded() if r.payload["type"] == ONBOARDED]
    assert received[-1]["ambassador_id"] == str(other.ambassador_id)
    assert [d["ambassador_id"] for d in received].count(str(person.ambassador_id)) == 1


async def test_a_receiver_that_is_down_for_a_while_gets_every_message_once_when_it_is_back(
    hooks: Gateway, nats_client: NatsClient, topology: Topology
) -> None:
    receiver = Receiver()  # not listening yet: connections are refused
    org = await new_organisation(hooks)
    hook = await subscribe(hooks, org, receiver.url(), [ONBOARDED])
    events = [await publish(nats_client, topology, onboarded(), org) for _ in range(3)]

    async def each_retried_while_refused() -> bool:
        queued = await deliveries(hooks, org, hook)
        return len(queued) == 3 and all(d["attempts"] >= 2 for d in queued)

    await eventually(each_retried_while_refused)
    for delivery in await deliveries(hooks, org, hook):
        assert delivery["status"] == "pending"
        assert delivery["last_error"].startswith("ConnectError")

    receiver.answer(Answer(503, b"maintenance"))
    await receiver.start()
    try:
        await receiver.wait_until(lambda: len(receiver.received) >= 3)
        receiver.answer(Answer(200))
        await receiver.wait_until(lambda: len(receiver.succeeded()) >= 3)

        async def all_delivered() -> bool:
            return all(d["status"] == "delivered" for d in await deliveries(hooks, org, hook))

        await eventually(all_delivered)
        assert sorted(r.webhook_id for r in receiver.succeeded()) == sorted(e.id for e in events)
        assert any(r.answered == 503 for r in receiver.received)
        for delivery in await deliveries(hooks, org, hook):
            assert delivery["attempts"] >= 3
            assert delivery["last_response_status"] == 200
            assert delivery["last_error"] is None
    finally:
        await receiver.stop()


async def test_an_endpoint_that_keeps_failing_is_disabled_audited_and_resumes_when_enabled(
    start_gateway: StartGateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    async with start_gateway(
        webhooks_disable_after_seconds=0.3,
        webhooks_disable_min_failures=3,
        webhooks_retry_delays_seconds=(0.05,) * 50,
    ) as gateway:
        receiver.answer(Answer(500, b"down"), "/hook")
        org = await new_organisation(gateway)
        hook = await subscribe(gateway, org, receiver.url("/hook"), [ONBOARDED])
        marker = await subscribe(gateway, org, receiver.url("/marker"), [ONBOARDED])
        events = [await publish(nats_client, topology, onboarded(), org) for _ in range(2)]

        async def disabled() -> bool:
            return not (await webhook(gateway, org, hook))["enabled"]

        await eventually(disabled)
        state = await webhook(gateway, org, hook)
        assert "attempts in a row failed since" in state["disabled_reason"]
        (entry,) = [
            e for e in await audit_actions(gateway, org) if e["action"] == "webhook.disabled"
        ]
        assert entry["actor"] == "system:webhook-delivery"
        assert entry["target"] == f"webhook:{hook['id']}"
        assert entry["detail"]["consecutive_failures"] >= 3

        sent = len(receiver.at("/hook"))
        late = await publish(nats_client, topology, onboarded(), org)
        await receiver.wait_until(lambda: late.id in {r.webhook_id for r in receiver.at("/marker")})
        await asyncio.sleep(0.3)  # six retry delays: nothing may be sent meanwhile
        assert len(receiver.at("/hook")) == sent
        queued = await deliveries(gateway, org, hook)
        assert {d["message_id"] for d in queued} == {e.id for e in events}
        assert {d["status"] for d in queued} == {"pending"}
        assert len(await deliveries(gateway, org, marker)) == 3

        receiver.answer(Answer(200), "/hook")
        response = await gateway.http.patch(
            f"/api/v1/orgs/{org}/webhooks/{hook['id']}",
            json={"enabled": True},
            headers=gateway.auth,
        )
        assert response.status_code == 200, response.text
        assert response.json()["disabled_reason"] is None
        await receiver.wait_until(lambda: len(receiver.succeeded("/hook")) == 2)
        assert {r.webhook_id for r in receiver.succeeded("/hook")} == {e.id for e in events}


async def test_an_endpoint_that_answers_410_gone_is_disabled_at_once(
    hooks: Gateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    receiver.answer(Answer(410, b"unsubscribed"))
    receiver.answer(Answer(200), "/notice")
    org = await new_organisation(hooks)
    hook = await subscribe(hooks, org, receiver.url(), [ONBOARDED])
    notice = await subscribe(hooks, org, receiver.url("/notice"), [DISABLED])
    await publish(nats_client, topology, onboarded(), org)

    async def disabled() -> bool:
        return not (await webhook(hooks, org, hook))["enabled"]

    await eventually(disabled)
    assert (await webhook(hooks, org, hook))["disabled_reason"] == "the endpoint answered 410 Gone"
    assert [e["action"] for e in await audit_actions(hooks, org)] == [
        "webhook.created",
        "webhook.created",
        "webhook.disabled",
    ]
    (delivery,) = await deliveries(hooks, org, hook)
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 1
    assert len(receiver.at("/hook")) == 1

    # The organisation is told, as an event its other subscribers receive.
    await receiver.wait_until(lambda: len(receiver.succeeded("/notice")) == 1)
    (told,) = receiver.succeeded("/notice")
    assert told.payload["type"] == DISABLED
    assert told.payload["data"]["endpoint_id"] == hook["id"]
    assert told.payload["data"]["reason"] == "gone"
    assert told.payload["data"]["organisation_id"] == org
    assert notice["id"] != hook["id"]


async def test_a_delivery_fails_for_good_once_the_schedule_is_spent_without_following_redirects(
    start_gateway: StartGateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    async with start_gateway(webhooks_retry_delays_seconds=(0.05, 0.05)) as gateway:
        receiver.answer(Answer(307, headers={"location": receiver.url("/elsewhere")}), "/moved")
        receiver.answer(Answer(500, b"x" * 10_000), "/broken")
        org = await new_organisation(gateway)
        moved = await subscribe(gateway, org, receiver.url("/moved"), [ONBOARDED])
        broken = await subscribe(gateway, org, receiver.url("/broken"), [ONBOARDED])
        await publish(nats_client, topology, onboarded(), org)

        async def both_failed() -> bool:
            queued = [
                *(await deliveries(gateway, org, moved)),
                *(await deliveries(gateway, org, broken)),
            ]
            return len(queued) == 2 and all(d["status"] == "failed" for d in queued)

        await eventually(both_failed)
        (redirected,) = await deliveries(gateway, org, moved)
        assert redirected["attempts"] == 3
        assert redirected["last_response_status"] == 307
        assert redirected["next_attempt_at"] is None
        (failed,) = await deliveries(gateway, org, broken)
        assert failed["attempts"] == 3
        assert failed["last_response_status"] == 500
        assert "last_response_excerpt" not in failed
        assert len(receiver.at("/moved")) == 3
        assert receiver.at("/elsewhere") == []


async def test_rotation_signs_with_both_secrets_during_the_overlap_and_the_new_one_after(
    hooks: Gateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    org = await new_organisation(hooks)
    hook = await subscribe(hooks, org, receiver.url(), [ONBOARDED])
    old = hook["secret"]
    response = await hooks.http.post(
        f"/api/v1/orgs/{org}/webhooks/{hook['id']}/rotate-secret",
        json={"overlap_seconds": OVERLAP_SECONDS},
        headers=hooks.auth,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    rotated = response.json()
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != old
    overlap_ends = datetime.fromisoformat(rotated["previous_secret_expires_at"])

    await publish(nats_client, topology, onboarded(), org)
    await receiver.wait_until(lambda: len(receiver.received) == 1)
    during = receiver.received[0]
    assert datetime.fromtimestamp(int(during.headers["webhook-timestamp"]), UTC) < overlap_ends
    assert len(signatures(during.headers)) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)

    rotated_at = datetime.fromisoformat(rotated["updated_at"])
    assert overlap_ends == rotated_at + timedelta(seconds=OVERLAP_SECONDS)

    await end_the_overlap(hooks, hook["id"])
    await publish(nats_client, topology, onboarded(), org)
    await receiver.wait_until(lambda: len(receiver.received) == 2)
    after = receiver.received[1]
    assert len(signatures(after.headers)) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)
    assert (await webhook(hooks, org, hook))["previous_secret_expires_at"] is None
    (entry,) = [
        e for e in await audit_actions(hooks, org) if e["action"] == "webhook.secret_rotated"
    ]
    assert entry["detail"] == {"overlap_seconds": OVERLAP_SECONDS}


async def end_the_overlap(gateway: Gateway, webhook_id: str) -> None:
    """The previous secret's overlap ends now: signatures stop using it from the next attempt.
    (Waiting for it in real time cost the test its length; the delivery process reads the
    endpoint's row with every attempt, so an earlier end is all it sees.)"""
    state: GatewayState = gateway.app.state.gateway
    async with state.sessions() as session, session.begin():
        await session.execute(
            update(WebhookEndpoint)
            .where(col(WebhookEndpoint.id) == UUID(webhook_id))
            .values(previous_secret_expires_at=utc_now() - timedelta(seconds=1))
        )


async def test_a_replay_sends_the_same_message_again_with_the_same_webhook_id(
    hooks: Gateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    org = await new_organisation(hooks)
    hook = await subscribe(hooks, org, receiver.url(), [TRAINED])
    event = await publish(nats_client, topology, trained(), org)
    await receiver.wait_until(lambda: len(receiver.received) == 1)
    (original,) = await deliveries(hooks, org, hook)

    response = await hooks.http.post(
        f"/api/v1/orgs/{org}/webhooks/{hook['id']}/deliveries/{original['id']}/replay",
        headers=hooks.auth,
    )
    assert response.status_code == 202, response.text
    replay = response.json()
    assert replay["replay_of"] == original["id"]
    assert replay["message_id"] == event.id
    await receiver.wait_until(lambda: len(receiver.received) == 2)

    first, second = receiver.received
    assert first.webhook_id == second.webhook_id == event.id
    assert second.body == first.body
    Webhook(hook["secret"]).verify(second.body, second.headers)
    assert [(d["id"], d["replay_of"]) for d in await deliveries(hooks, org, hook)] == [
        (original["id"], None),
        (replay["id"], original["id"]),
    ]
    (entry,) = [
        e for e in await audit_actions(hooks, org) if e["action"] == "webhook.delivery_replayed"
    ]
    assert entry["detail"]["delivery_id"] == original["id"]
    unknown = await hooks.http.post(
        f"/api/v1/orgs/{org}/webhooks/{hook['id']}/deliveries/{uuid4()}/replay",
        headers=hooks.auth,
    )
    assert unknown.status_code == 404


REFUSED_EVERYWHERE = [
    ("ftp://127.0.0.1/hook", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("http://user:secret@127.0.0.1/hook", "credentials"),
    ("http://10.0.0.8/hook", "private"),
    ("https://192.168.1.10/hook", "private"),
    ("http://[fd00::1]/hook", "private"),
    ("http://[::ffff:10.0.0.1]/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://0.0.0.0:8080/hook", "unspecified"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://no-such-host.invalid/hook", "unresolvable"),
]


async def assert_refused(
    gateway: Gateway, org: str, url: str, reason: str, hook_id: str | None = None
) -> None:
    if hook_id is None:
        response = await gateway.http.post(
            f"/api/v1/orgs/{org}/webhooks",
            json={"url": url, "event_types": ["*"]},
            headers=gateway.auth,
        )
    else:
        response = await gateway.http.patch(
            f"/api/v1/orgs/{org}/webhooks/{hook_id}", json={"url": url}, headers=gateway.auth
        )
    assert response.status_code == 422, (url, response.text)
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["context"] == {"field": "url", "reason": reason}, url
    assert problem["detail"].startswith("the webhook URL is refused: "), url


async def test_urls_that_are_not_http_carry_credentials_or_reach_inside_are_422_problems(
    hooks: Gateway,
) -> None:
    org = await new_organisation(hooks)
    for url, reason in REFUSED_EVERYWHERE:
        await assert_refused(hooks, org, url, reason)
    listing = await hooks.http.get(f"/api/v1/orgs/{org}/webhooks", headers=hooks.auth)
    assert listing.json()["items"] == []

    hook = await subscribe(
        hooks, org, "http://127.0.0.1:9/hook", ["*"]
    )  # loopback: allowed in tests
    await assert_refused(hooks, org, "http://10.0.0.8/hook", "private", hook["id"])
    assert (await webhook(hooks, org, hook))["url"] == "http://127.0.0.1:9/hook"
    assert [e["action"] for e in await audit_actions(hooks, org)] == ["webhook.created"]


async def test_loopback_is_refused_where_the_settings_forbid_it_and_private_allowed_on_request(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(
        webhooks_allow_loopback=False, webhooks_allow_private_targets=True
    ) as gateway:
        org = await new_organisation(gateway)
        for url in ["http://127.0.0.1:8080/hook", "http://localhost:8080/hook", "http://[::1]/"]:
            await assert_refused(gateway, org, url, "loopback")
        for url, reason in [("http://0.0.0.0/", "unspecified"), ("http://224.0.0.1/", "multicast")]:
            await assert_refused(gateway, org, url, reason)
        await subscribe(gateway, org, "http://10.0.0.8/hook", ["*"])


def test_loopback_targets_are_allowed_by_default_in_development_only() -> None:
    """Built without validation: production's own required settings are not the point here."""

    def settings(**values: Any) -> GatewaySettings:
        return GatewaySettings.model_construct(**values)

    assert settings(environment="development").webhooks_loopback_allowed
    assert not settings(environment="production").webhooks_loopback_allowed
    assert settings(
        environment="production", webhooks_allow_loopback=True
    ).webhooks_loopback_allowed
    assert not settings(
        environment="development", webhooks_allow_loopback=False
    ).webhooks_loopback_allowed
    assert not settings().webhooks_allow_private_targets


async def test_the_target_is_checked_again_before_each_attempt(
    hooks: Gateway,
    receiver: Receiver,
    nats_client: NatsClient,
    topology: Topology,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = await new_organisation(hooks)
    hook = await subscribe(hooks, org, f"http://localhost:{receiver.port}/hook", [ONBOARDED])
    resolve = targets.resolve

    async def moved_inside(host: str, port: int) -> list[targets.IPAddress]:
        if host == "localhost":
            return [ipaddress.ip_address("10.0.0.9")]
        return await resolve(host, port)

    monkeypatch.setattr(targets, "resolve", moved_inside)
    event = await publish(nats_client, topology, onboarded(), org)

    async def refused_twice() -> bool:
        queued = await deliveries(hooks, org, hook)
        return bool(queued) and queued[0]["attempts"] >= 2

    await eventually(refused_twice)
    (delivery,) = await deliveries(hooks, org, hook)
    assert delivery["last_error"].startswith("target refused: localhost resolves to 10.0.0.9")
    assert receiver.received == []

    monkeypatch.setattr(targets, "resolve", resolve)
    await receiver.wait_until(lambda: len(receiver.received) == 1)
    request = receiver.received[0]
    assert request.webhook_id == event.id
    assert request.headers["host"] == f"localhost:{receiver.port}"


async def test_another_organisations_webhooks_are_404_and_callers_need_the_permission(
    hooks: Gateway, receiver: Receiver, nats_client: NatsClient, topology: Topology
) -> None:
    acme = await new_organisation(hooks, "Acme")
    globex = await new_organisation(hooks, "Globex")
    hook = await subscribe(hooks, acme, receiver.url(), [ONBOARDED])
    await publish(nats_client, topology, onboarded(), acme)
    await receiver.wait_until(lambda: len(receiver.received) == 1)
    (delivery,) = await deliveries(hooks, acme, hook)
    globex_admin = await api_key(hooks, globex, "admin")

    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "", None),
        ("PATCH", "", {"description": "mine now"}),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", {}),
        ("GET", "/deliveries", None),
        ("POST", f"/deliveries/{delivery['id']}/replay", None),
    ]
    for method, suffix, body in requests:
        for org, problem in [(globex, "not-found"), (acme, "unknown-organisation")]:
            response = await hooks.http.request(
                method,
                f"/api/v1/orgs/{org}/webhooks/{hook['id']}{suffix}",
                json=body,
                headers=globex_admin,
            )
            assert response.status_code == 404, (method, suffix, org, response.text)
            assert response.json()["type"] == f"urn:advocacy:problem:{problem}"
    unchanged = await webhook(hooks, acme, hook)
    assert unchanged["description"] is None
    assert unchanged["enabled"] is True
    assert len(await deliveries(hooks, acme, hook)) == 1
    assert await audit_actions(hooks, globex) == []

    bi = await api_key(hooks, acme, "bi")
    for response in [
        await hooks.http.get(f"/api/v1/orgs/{acme}/webhooks", headers=bi),
        await hooks.http.post(
            f"/api/v1/orgs/{acme}/webhooks",
            json={"url": receiver.url(), "event_types": ["*"]},
            headers=bi,
        ),
    ]:
        assert response.status_code == 403, response.text
        assert response.json()["type"] == "urn:advocacy:problem:forbidden"
    hr = await api_key(hooks, acme, "hr")
    await subscribe(hooks, acme, receiver.url("/hr"), [ONBOARDED], headers=hr)
    listing = await hooks.http.get(f"/api/v1/orgs/{acme}/webhooks", headers=hr)
    assert len(listing.json()["items"]) == 2


async def test_webhooks_are_created_listed_changed_and_deleted_with_audit_entries(
    hooks: Gateway,
) -> None:
    org = await new_organisation(hooks)
    response = await hooks.http.post(
        f"/api/v1/orgs/{org}/webhooks",
        json={
            "url": "http://127.0.0.1:9/hr?token=abc",
            "event_types": [ONBOARDED, TRAINED, ONBOARDED],
            "description": "Workday",
        },
        headers=hooks.auth,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"/api/v1/orgs/{org}/webhooks/{created['id']}"
    assert response.headers["Cache-Control"] == "no-store"
    assert created["event_types"] == [ONBOARDED, TRAINED]
    assert created["enabled"] is True
    fetched = await webhook(hooks, org, created)
    assert "secret" not in fetched
    assert fetched == {key: value for key, value in created.items() if key != "secret"}

    others = [await subscribe(hooks, org, f"http://127.0.0.1:9/{n}", ["*"]) for n in range(2)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await hooks.http.get(f"/api/v1/orgs/{org}/webhooks", params=params, headers=hooks.auth)
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [created["id"], *(other["id"] for other in others)]

    path = f"/api/v1/orgs/{org}/webhooks/{created['id']}"
    changed = await hooks.http.patch(
        path, json={"event_types": ["*"], "description": None}, headers=hooks.auth
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == ["*"]
    assert changed.json()["description"] is None
    paused = (await hooks.http.patch(path, json={"enabled": False}, headers=hooks.auth)).json()
    assert paused["enabled"] is False
    assert paused["disabled_reason"] == "disabled by bootstrap:admin (bootstrap admin)"

    for event_types in [["advocacy.nothing.happened.v1"], ["*", ONBOARDED], []]:
        invalid = await hooks.http.patch(
            path, json={"event_types": event_types}, headers=hooks.auth
        )
        assert invalid.status_code == 422, event_types
        assert invalid.json()["errors"][0]["loc"] == ["body", "event_types"]

    assert (await hooks.http.delete(path, headers=hooks.auth)).status_code == 204
    assert (await hooks.http.get(path, headers=hooks.auth)).status_code == 404
    entries = await audit_actions(hooks, org)
    assert [e["action"] for e in entries] == [
        *["webhook.created"] * 3,
        "webhook.updated",
        "webhook.updated",
        "webhook.deleted",
    ]
    assert entries[0]["detail"] == {
        "url": "http://127.0.0.1:9/hr",
        "event_types": [ONBOARDED, TRAINED],
    }
    assert entries[3]["detail"] == {"event_types": ["*"], "description": None}


async def test_the_event_types_are_listed_for_any_caller_with_the_schema_of_their_body(
    hooks: Gateway,
) -> None:
    org = await new_organisation(hooks)
    bi = await api_key(hooks, org, "bi")
    response = await hooks.http.get("/api/v1/webhook-event-types", headers=bi)
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [t["type"] for t in listed] == sorted(WEBHOOK_EVENT_TYPES)
    assert "advocacy.snapshots.post_metrics.observed.v1" in EVENT_TYPES
    assert "advocacy.snapshots.post_metrics.observed.v1" not in WEBHOOK_EVENT_TYPES
    created = next(t for t in listed if t["type"] == ORGANISATION_CREATED)
    assert created["domain"] == "gateway"
    data = created["payload_schema"]["properties"]["data"]
    assert set(data["required"]) == {"organisation_id", "name", "slug", "created_at"}
    unauthenticated = await hooks.http.get("/api/v1/webhook-event-types")
    assert unauthenticated.status_code == 401


async def test_the_example_payloads_in_the_documentation_match_the_event_schemas(
    hooks: Gateway,
) -> None:
    document = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", document, re.S)]
    payloads = [e for e in examples if isinstance(e.get("type"), str) and "data" in e]
    types = (await hooks.http.get("/api/v1/webhook-event-types", headers=hooks.auth)).json()
    schemas = {t["type"]: t["payload_schema"] for t in types}
    ambassador_types = {t for t in EVENT_TYPES if t.startswith("advocacy.ambassadors.")}
    assert {p["type"] for p in payloads} >= ambassador_types
    # Delivered, so documented with its payload, and not under "Not yet".
    assert "advocacy.gateway.webhook_endpoint.disabled.v1" in {p["type"] for p in payloads}
    not_yet = document.split("## Not yet")[1] if "## Not yet" in document else ""
    assert not [t for t in EVENT_TYPES if t in not_yet], "a delivered event is listed as not yet"
    for payload in payloads:
        jsonschema_rs.validate(schemas[payload["type"]], payload)
