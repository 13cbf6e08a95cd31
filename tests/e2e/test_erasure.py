"""Erasure of a whole person (GDPR art. 17), end to end: provisioned by the HR system over SCIM,
invited through a link they accepted, trained, connected to LinkedIn through the sandbox, known
to the planner's roster copy and to the HR system's webhook deliveries. One request later nothing
personal of theirs remains in any service's database, and their ids only where the erasure
itself is recorded."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from advocacy_shared.contracts.ambassadors import AmbassadorErased
from advocacy_shared.topology import Topology
from tests.conftest import Platform
from tests.e2e.test_ambassadors import events, invite
from tests.e2e.test_invitations import holder, issue
from tests.e2e.test_linkedin import sandbox_state
from tests.e2e.test_linkedin import service_overrides as service_overrides  # a fixture
from tests.e2e.test_scim import auth, hr_key
from tests.e2e.test_skeleton import create_organisation
from tests.gateway.webhook_receiver import Receiver
from tests.linkedin import connect
from tests.shared.helpers import dump_database, eventually, polls

PERSON: dict[str, Any] = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:advocacy:2.0:User",
    ],
    "userName": "ada.lovelace@acme.dk",
    "externalId": "HR-77",
    "name": {"givenName": "Augusta", "familyName": "Lovelace-Byron"},
    "displayName": "Augusta Ada Lovelace",
    "title": "Analytical Engine Lead",
    "emails": [{"value": "ada.lovelace@acme.dk", "primary": True}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "employeeNumber": "EMP-181215",
        "department": "Difference Engines",
        "manager": {"value": "MGR-BABBAGE"},
    },
    "urn:ietf:params:scim:schemas:extension:advocacy:2.0:User": {
        "jobFamily": "Mathematics",
        "hardToRecruit": True,
        "topics": ["bernoulli numbers"],
    },
}
PERSONAL = (
    "ada.lovelace@acme.dk",
    "Augusta",
    "Lovelace-Byron",
    "Analytical Engine Lead",
    "HR-77",
    "EMP-181215",
    "MGR-BABBAGE",
    "782bbtaQ",  # the LinkedIn member id the sandbox gives
)


def mentions(dump: str, ident: str) -> bool:
    """A raw dump shows a UUID with hyphens (PostgreSQL) or as 32 hex digits (SQLite)."""
    return ident in dump or ident.replace("-", "") in dump


async def test_one_request_erases_the_person_from_every_service(
    platform: Platform, sandbox: FastAPI, nats_client: NatsClient, topology: Topology
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    receiver = await Receiver().start()  # the HR system, subscribed to every event
    await platform.http.post(
        f"/api/v1/orgs/{org}/webhooks",
        json={"url": receiver.url(), "event_types": ["*"]},
        headers=platform.auth,
    )
    key = await hr_key(platform, org)
    for _ in polls():  # 503 until the ambassadors service has the organisation (from its event)
        provisioned = await platform.http.post(
            "/scim/v2/Users",
            json=PERSON,
            headers={**auth(key), "Content-Type": "application/scim+json"},
        )
        if provisioned.status_code != 503:
            break
        await asyncio.sleep(0.05)
    assert provisioned.status_code == 201, provisioned.text
    employee_id = provisioned.json()["id"]
    ada = await invite(platform, org, "ada.lovelace@acme.dk", display_name="Augusta Ada Lovelace")
    assert ada["external_id"] == "HR-77"  # linked to the roster by work email
    link = await issue(platform, org, ada["id"])
    accepted = await platform.http.post(
        "/api/v1/invitation/accept",
        json={"consent_version": "1", "allows_posting": True, "allows_analytics": True},
        headers=holder(link),
    )
    assert accepted.status_code == 200, accepted.text
    base = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}"
    assert (await connect(platform, base)).status_code == 200
    await platform.http.post(
        f"{base}/trainings", json={"enablement_format": "workshop"}, headers=platform.auth
    )
    tokens = list(sandbox_state(sandbox).tokens)
    assert len(tokens) == 1

    async def everywhere() -> bool:
        """Every service and the HR system's deliveries know the person: the test can fail."""
        planner = await dump_database(platform.runtimes["planner"].sessions)
        return mentions(planner, employee_id) and len(receiver.succeeded()) >= 4

    await eventually(everywhere)
    assert "HR-77" in await dump_database(platform.gateway.app.state.gateway.sessions)

    erased = await platform.http.delete(base, headers=platform.auth)
    assert erased.status_code == 200, erased.text

    async def erased_everywhere() -> bool:
        delivered = {r.payload["type"] for r in receiver.succeeded()}
        planner = await dump_database(platform.runtimes["planner"].sessions)
        return AmbassadorErased.spec.type in delivered and not mentions(planner, employee_id)

    await eventually(erased_everywhere)
    await receiver.stop()
    databases = {name: runtime.sessions for name, runtime in platform.runtimes.items()}
    databases["gateway"] = platform.gateway.app.state.gateway.sessions
    for name, sessions in databases.items():
        dump = await dump_database(sessions)
        for personal in (*PERSONAL, *tokens, holder(link)["Invitation-Token"]):
            assert personal not in dump, (name, personal)
        naming = [line for line in dump.splitlines() if mentions(line, ada["id"])]
        # Only the record of the erasure itself (its outbox row, its webhook delivery, its audit
        # entry) names them.
        assert all(
            AmbassadorErased.spec.type in line or "ambassador.erased" in line for line in naming
        ), (name, naming)
    published = await events(nats_client, topology)
    assert published[-1].type == AmbassadorErased.spec.type
    assert AmbassadorErased.model_validate(published[-1].data).employee_id is not None
    gone = await platform.http.get(f"/scim/v2/Users/{employee_id}", headers=auth(key))
    assert gone.status_code == 404
