"""Concurrent requests that read, check and write the same record: exactly one wins, and exactly
one event is published for it (SCIM If-Match, consent grants, the last organisation admin)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from advocacy_ambassadors.models import messaging
from advocacy_shared.contracts.ambassadors import AmbassadorOnboarded
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.roster import EmployeeChanged
from advocacy_shared.envelope import CloudEvent
from tests.actors import add_member
from tests.conftest import Platform
from tests.e2e.test_ambassadors import CONSENT, invite
from tests.e2e.test_scim import auth, organisation_with_key, user_json
from tests.e2e.test_skeleton import create_organisation

CONCURRENT = 4


async def outbox_rows(platform: Platform, event: type[EventData], mentioning: str) -> list[Any]:
    """The facts the ambassadors service wrote (published or not): the count cannot lag."""
    outbox = messaging.outbox
    async with platform.runtimes["ambassadors"].sessions() as session:
        query = select(outbox.c.payload).where(
            outbox.c.subject.endswith(event.spec.name), outbox.c.payload.contains(mentioning)
        )
        payloads = (await session.execute(query)).scalars().all()
    return [event.model_validate(CloudEvent.from_bytes(p.encode()).data) for p in payloads]


async def at_once(*requests: Any) -> list[httpx.Response]:
    responses: list[httpx.Response] = await asyncio.gather(*requests)
    return responses


async def test_puts_naming_one_version_in_if_match_apply_once(platform: Platform) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    created = await platform.http.post(
        "/scim/v2/Users", json=user_json("grace@acme.dk"), headers=auth(key)
    )
    assert created.status_code == 201, created.text
    user = created.json()
    version = user["meta"]["version"]
    url = f"/scim/v2/Users/{user['id']}"

    answers = await at_once(
        *(
            platform.http.put(
                url,
                json=user_json("grace@acme.dk", title=f"Title {n}"),
                headers={**auth(key), "If-Match": version},
            )
            for n in range(CONCURRENT)
        )
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [412] * (CONCURRENT - 1), [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200).json()
    assert winner["meta"]["version"] == 'W/"2"'
    assert (await platform.http.get(url, headers=auth(key))).json()["title"] == winner["title"]
    changes = await outbox_rows(platform, EmployeeChanged, user["id"])
    assert [change.version for change in changes] == [2]  # the fact carries the new version


async def test_concurrent_consent_grants_onboard_once(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    url = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}/consent"

    answers = await at_once(
        *(platform.http.post(url, json=CONSENT, headers=platform.auth) for _ in range(CONCURRENT))
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * (CONCURRENT - 1), [a.text for a in answers]
    onboardings = await outbox_rows(platform, AmbassadorOnboarded, ada["id"])
    assert [onboarded.version for onboarded in onboardings] == [2]
    history = await platform.http.get(f"{url}s", headers=platform.auth)
    assert len(history.json()["changes"]) == 1


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    admins = [
        await add_member(platform.gateway, org, f"admin{n}@acme.dk", "org_admin") for n in range(2)
    ]
    answers = await at_once(
        *(
            platform.http.patch(
                f"/api/v1/orgs/{org}/members/{admin['user_id']}",
                json={"role": "analyst"},
                headers=platform.auth,
            )
            for admin in admins
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    members = (await platform.http.get(f"/api/v1/orgs/{org}/members", headers=platform.auth)).json()
    assert [m["role"] for m in members["items"]].count("org_admin") == 1


async def test_two_admins_removed_at_once_leave_one_admin(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    admins = [
        await add_member(platform.gateway, org, f"admin{n}@acme.dk", "org_admin") for n in range(2)
    ]
    answers = await at_once(
        *(
            platform.http.delete(
                f"/api/v1/orgs/{org}/members/{admin['user_id']}", headers=platform.auth
            )
            for admin in admins
        )
    )
    assert sorted(a.status_code for a in answers) == [204, 409], [a.text for a in answers]
    members = (await platform.http.get(f"/api/v1/orgs/{org}/members", headers=platform.auth)).json()
    assert [m["role"] for m in members["items"]] == ["org_admin"]
