"""The walking skeleton through every service: an organisation created at the gateway reaches every
domain service as an event, and the planner's playbook comes back over request-reply."""

from __future__ import annotations

import asyncio
from typing import Any, cast
from uuid import UUID, uuid4

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext

from advocacy_planner.service.playbook import DEFAULT_MATRIX
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.tenancy import TenantRepository
from advocacy_shared.topology import Topology
from tests.conftest import Platform
from tests.shared.helpers import eventually, polls, read_all


async def create_organisation(platform: Platform, name: str, **extra: Any) -> dict[str, Any]:
    response = await platform.http.post(
        "/api/v1/orgs", json={"name": name, **extra}, headers=platform.auth
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def playbook_when_ready(platform: Platform, org_id: str) -> httpx.Response:
    """The planner provisions from the event, a moment after the gateway answered 201."""
    for _ in polls():
        response = await platform.http.get(f"/api/v1/orgs/{org_id}/playbook", headers=platform.auth)
        if response.status_code != 503:
            return response
        assert response.headers["Retry-After"] == "1"
        await asyncio.sleep(0.05)
    raise AssertionError("the planner never provisioned the organisation")


async def test_an_organisation_reaches_every_service_and_gets_the_articles_playbook(
    platform: Platform,
) -> None:
    organisation = await create_organisation(platform, "Acme A/S")
    assert organisation["slug"] == "acme-a-s"

    response = await playbook_when_ready(platform, organisation["id"])

    assert response.status_code == 200, response.text
    playbook = response.json()
    assert playbook["organisation_id"] == organisation["id"]
    assert playbook["version"] == 1
    rows = [
        (r["challenge"], r["discipline"], r["colleagues"], r["content"], r["enablement_format"])
        for r in playbook["rows"]
    ]
    assert rows == [
        (m.challenge, m.discipline, m.colleagues, m.content, m.enablement_format)
        for m in DEFAULT_MATRIX
    ]
    assert rows[1][1] == "Thought leadership & CxO visibility"

    async def every_service_has_it() -> bool:
        """Each service applies the event on its own: the planner answering says nothing of
        the others."""
        for runtime in platform.runtimes.values():
            tenants = TenantRepository(_tenants_table(runtime))
            async with runtime.sessions() as session:
                if not await tenants.exists(session, UUID(organisation["id"])):
                    return False
        return True

    await eventually(every_service_has_it)


def _tenants_table(runtime: Any) -> Any:
    return runtime.consumers[0].inbox.metadata.tables["tenants"]


async def test_two_organisations_get_separate_playbooks(platform: Platform) -> None:
    first = await create_organisation(platform, "First")
    second = await create_organisation(platform, "Second")
    one = (await playbook_when_ready(platform, first["id"])).json()
    two = (await playbook_when_ready(platform, second["id"])).json()
    assert one["organisation_id"] == first["id"]
    assert two["organisation_id"] == second["id"]
    assert {r["id"] for r in one["rows"]}.isdisjoint({r["id"] for r in two["rows"]})


async def test_the_event_carries_the_callers_correlation_id(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    response = await platform.http.post(
        "/api/v1/orgs",
        json={"name": "Traced"},
        headers={**platform.auth, "X-Correlation-Id": "req-42"},
    )
    assert response.headers["X-Correlation-Id"] == "req-42"
    await playbook_when_ready(platform, response.json()["id"])
    messages = await read_all(
        nats_client.jetstream(),
        topology.stream_name("gateway"),
        OrganisationCreated.spec.subject(topology),
    )
    (event,) = [CloudEvent.from_bytes(m.data) for m in messages]
    assert event.correlationid == "req-42"
    assert event.orgid == response.json()["id"]
    assert event.source == "/advocacy/gateway"


async def test_the_playbook_of_an_unknown_organisation_is_a_404_problem(platform: Platform) -> None:
    response = await platform.http.get(
        "/api/v1/orgs/00000000-0000-4000-8000-000000000000/playbook", headers=platform.auth
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:advocacy:problem:unknown-organisation"
    assert problem["status"] == 404


async def test_readyz_stays_ready_with_a_service_stopped_and_status_names_it(
    platform: Platform,
) -> None:
    """Readiness is the gateway's own (database, NATS): a stopped service must not take the API
    out of its load balancer. `/status` is where operators see the service is gone."""
    ready = await platform.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "database": True, "nats": True}

    await platform.stop("metrics")
    assert (await platform.http.get("/readyz")).status_code == 200
    status = await platform.http.get("/status", headers=platform.auth)
    assert status.status_code == 200, status.text
    processes = status.json()["processes"]
    assert processes["metrics"]["state"] == "the metrics service is not running"
    assert {name: processes[name]["state"] for name in ("gateway", "planner", "webhooks")} == (
        dict.fromkeys(("gateway", "planner", "webhooks"), "ready")
    )

    await platform.start("metrics")
    status = await platform.http.get("/status", headers=platform.auth)
    assert status.json()["processes"]["metrics"]["state"] == "ready"


async def test_status_shows_an_outbox_backlog_consumer_lag_and_dead_letters(
    platform: Platform,
) -> None:
    content = platform.runtimes["content"]
    js = content.relay.js
    content.relay.js = cast(JetStreamContext, Unreachable())
    try:
        async with content.transaction() as session:
            for _ in range(3):
                await content.outbox.add(session, organisation_created(), uuid4())
        body = (await platform.http.get("/status", headers=platform.auth)).json()
    finally:
        content.relay.js = js
    assert body["processes"]["content"]["outbox_backlog"] == 3
    assert body["processes"]["content"]["oldest_unsent_seconds"] >= 0
    assert body["processes"]["planner"]["outbox_backlog"] == 0
    assert body["processes"]["planner"]["oldest_unsent_seconds"] is None
    assert body["nats"] is True
    assert body["dead_letters"] == 0
    lag = {(c["stream"], c["consumer"]): c for c in body["consumers"]}
    assert any(consumer.startswith("gateway_webhook_intake_") for _, consumer in lag)
    assert all(c["num_pending"] >= 0 and c["num_ack_pending"] >= 0 for c in lag.values())

    content.relay.wake()

    async def published() -> bool:
        status = (await platform.http.get("/status", headers=platform.auth)).json()
        return bool(status["processes"]["content"]["outbox_backlog"] == 0)

    await eventually(published)


async def test_status_shows_parked_rows_and_dead_letters_per_consumer(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    """A parked row is not backlog (it never will be published): `/status` counts it apart. Dead
    letters are counted per consumer that gave up on them, so an operator knows whose to replay."""
    metrics = platform.runtimes["metrics"]
    table = metrics.relay.table
    async with metrics.transaction() as session:  # parked before the relay can see it
        event = await metrics.outbox.add(session, organisation_created(), uuid4())
        await session.execute(
            table.update()
            .where(table.c.id == event.id)
            .values(parked_at=utc_now(), last_error="MaxPayloadError")
        )
    js = nats_client.jetstream()
    for consumer, count in (("planner_on_roster_x", 2), ("content_on_gateway_y", 1)):
        for _ in range(count):
            await js.publish(topology.dead_letter_subject(consumer), b"{}")

    async def counted() -> bool:
        body = (await platform.http.get("/status", headers=platform.auth)).json()
        return bool(
            body["processes"]["metrics"]["outbox_parked"] == 1
            and body["dead_letters_by_consumer"]
            == {"content_on_gateway_y": 1, "planner_on_roster_x": 2}
        )

    await eventually(counted)
    body = (await platform.http.get("/status", headers=platform.auth)).json()
    assert body["processes"]["metrics"]["outbox_backlog"] == 0
    assert body["processes"]["planner"]["outbox_parked"] == 0
    assert body["processes"]["gateway"]["outbox_parked"] == 0
    assert body["dead_letters"] == 3
    assert all(c["dead_letters"] == 0 for c in body["consumers"])


async def test_status_is_for_platform_admins_only(platform: Platform) -> None:
    assert (await platform.http.get("/status")).status_code == 401
    organisation = await create_organisation(platform, "Nosy")
    key = await platform.http.post(
        f"/api/v1/orgs/{organisation['id']}/api-keys",
        json={"name": "org admin", "scopes": ["admin"]},
        headers=platform.auth,
    )
    assert key.status_code == 201, key.text
    org_admin = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await platform.http.get("/status", headers=org_admin)).status_code == 403


def organisation_created() -> OrganisationCreated:
    return OrganisationCreated(
        organisation_id=uuid4(), name="Backlog", slug="backlog", created_at=utc_now()
    )


class Unreachable:
    """A JetStream context whose every publish fails, as while NATS cannot be reached."""

    async def publish(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionClosedError


async def test_a_planner_that_is_not_running_gives_a_503_problem(platform: Platform) -> None:
    organisation = await create_organisation(platform, "Lonely")
    await playbook_when_ready(platform, organisation["id"])
    await platform.stop("planner")

    response = await platform.http.get(
        f"/api/v1/orgs/{organisation['id']}/playbook", headers=platform.auth
    )
    assert response.status_code == 503
    assert response.json()["type"] == "urn:advocacy:problem:service-unavailable"
    assert response.json()["detail"] == "the planner service is not running"


@pytest.mark.parametrize("gateway_overrides", [{"rpc_timeout_seconds": 0.5}], ids=["timeout"])
async def test_a_planner_that_hangs_gives_a_504_problem(
    platform: Platform, nats_client: NatsClient, topology: Topology
) -> None:
    organisation = await create_organisation(platform, "Patient")
    await playbook_when_ready(platform, organisation["id"])
    await platform.stop("planner")
    # A replica that takes requests and never answers: stuck on a lock, say.
    stuck = await nats_client.subscribe(
        topology.rpc_subject("planner", "playbook.get"), queue=topology.rpc_queue("planner")
    )
    await nats_client.flush()  # the server knows the subscription before the request is sent
    try:
        response = await platform.http.get(
            f"/api/v1/orgs/{organisation['id']}/playbook", headers=platform.auth
        )
    finally:
        await stuck.unsubscribe()
    assert response.status_code == 504
    assert response.json()["type"] == "urn:advocacy:problem:service-timeout"


async def test_an_organisation_created_while_the_planner_is_down_is_provisioned_when_it_returns(
    platform: Platform,
) -> None:
    await platform.stop("planner")
    organisation = await create_organisation(platform, "Patient Two")
    await platform.start("planner")
    response = await playbook_when_ready(platform, organisation["id"])
    assert response.status_code == 200
    assert len(response.json()["rows"]) == 3
