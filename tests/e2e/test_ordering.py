"""Order that holds in the planner's copies: facts apply only when newer than the copy, and a
person who left or was erased stays gone, whatever arrives late (a handler that failed for a
moment and is redelivered after later facts) or twice (a copy published again)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select
from sqlmodel import col

from advocacy_planner.models import EnrolledAmbassador, RosterEmployee, messaging
from advocacy_planner.repository import RosterRepository
from advocacy_planner.service import recruitment
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
)
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.roster import (
    EmployeeChanged,
    EmployeeJoinedRoster,
    EmployeeLeftRoster,
)
from advocacy_shared.envelope import CloudEvent
from tests.conftest import Platform
from tests.e2e.test_skeleton import create_organisation
from tests.shared.helpers import eventually

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def roster_facts(employee_id: UUID, version: int, **facts: Any) -> dict[str, Any]:
    return {
        "employee_id": employee_id,
        "external_id": f"HR-{employee_id.hex[:6]}",
        "active": True,
        "department": "Sales",
        "job_family": "Sales",
        "hard_to_recruit": False,
        "leadership": False,
        "languages": ["da"],
        "topics": ["cloud"],
        "version": version,
        **facts,
    }


def joined(employee_id: UUID, version: int = 1, **facts: Any) -> EmployeeJoinedRoster:
    return EmployeeJoinedRoster(**roster_facts(employee_id, version, **facts), joined_at=NOW)


def changed(employee_id: UUID, version: int, **facts: Any) -> EmployeeChanged:
    return EmployeeChanged(**roster_facts(employee_id, version, **facts), changed_at=NOW)


async def organisation(platform: Platform) -> UUID:
    return UUID((await create_organisation(platform, f"Org {uuid4().hex[:8]}"))["id"])


async def publish(platform: Platform, org: UUID, fact: EventData) -> CloudEvent:
    """One fact, as the ambassadors service publishes it: through its outbox."""
    runtime = platform.runtimes["ambassadors"]
    async with runtime.transaction() as session:
        return await runtime.outbox.add(session, fact, organisation_id=org)


async def planner_has(platform: Platform, model: Any, **where: Any) -> bool:
    async with platform.runtimes["planner"].sessions() as session:
        query = select(model).where(*(col(getattr(model, k)) == v for k, v in where.items()))
        return (await session.execute(query)).first() is not None


async def departed(platform: Platform, org: UUID, kind: str, entity_id: UUID) -> bool:
    async with platform.runtimes["planner"].sessions() as session:
        return await RosterRepository(session, org).departed(kind, entity_id)


async def applied(platform: Platform, event: CloudEvent) -> bool:
    """The planner's consumer has committed this event (its inbox row is there)."""
    inbox = messaging.inbox
    async with platform.runtimes["planner"].sessions() as session:
        query = select(inbox.c.message_id).where(inbox.c.message_id == event.id)
        return (await session.execute(query)).first() is not None


class Flaky:
    """Makes a planner handler fail for one person until a later fact about them has applied:
    the failed message is redelivered after it, as a nak with a delay lets happen."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        name: str,
        person: Callable[[Any], UUID],
        until_departed: tuple[str, UUID],
    ) -> None:
        self.failures = 0
        self.late_deliveries = 0
        original = getattr(recruitment, name)

        async def flaky(session: Any, organisation_id: UUID, fact: Any) -> None:
            if person(fact) == until_departed[1]:
                roster = RosterRepository(session, organisation_id)
                if not await roster.departed(*until_departed):
                    self.failures += 1
                    raise RuntimeError("injected transient failure")
                self.late_deliveries += 1
            await original(session, organisation_id, fact)

        monkeypatch.setattr(recruitment, name, flaky)

    async def delivered_late(self) -> bool:
        return self.failures > 0 and self.late_deliveries > 0


def on_employee(fact: Any) -> UUID:
    return UUID(str(fact.employee_id))


def on_ambassador(fact: Any) -> UUID:
    return UUID(str(fact.ambassador_id))


async def test_an_employee_who_left_stays_gone_when_joining_is_redelivered_after_leaving(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await organisation(platform)
    employee = uuid4()
    flaky = Flaky(monkeypatch, "keep_roster_facts", on_employee, ("employee", employee))

    await publish(platform, org, joined(employee))
    await publish(
        platform,
        org,
        EmployeeLeftRoster(employee_id=employee, external_id=None, left_at=NOW, version=2),
    )
    await eventually(flaky.delivered_late, timeout=20)
    assert not await planner_has(platform, RosterEmployee, employee_id=employee)

    copy = await publish(platform, org, joined(employee))  # a copy outside the dedup window

    async def copy_applied() -> bool:
        return await applied(platform, copy)

    await eventually(copy_applied)
    assert not await planner_has(platform, RosterEmployee, employee_id=employee)
    assert await departed(platform, org, "employee", employee)


async def test_only_newer_roster_facts_apply(platform: Platform) -> None:
    org = await organisation(platform)
    employee = uuid4()
    await publish(platform, org, joined(employee, department="Sales"))
    await publish(platform, org, changed(employee, 3, department="Marketing"))
    late = await publish(platform, org, changed(employee, 2, department="Finance"))

    async def late_applied() -> bool:
        return await applied(platform, late)

    await eventually(late_applied)
    assert await planner_has(platform, RosterEmployee, employee_id=employee, version=3)
    assert await planner_has(platform, RosterEmployee, employee_id=employee, department="Marketing")


async def test_an_erased_person_stays_gone_when_their_enrolment_is_redelivered_after_erasure(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await organisation(platform)
    employee, ambassador = uuid4(), uuid4()
    flaky = Flaky(monkeypatch, "enrol", on_ambassador, ("ambassador", ambassador))
    onboarded = AmbassadorOnboarded(
        ambassador_id=ambassador,
        external_id=None,
        employee_id=employee,
        program_id=None,
        leadership=True,
        onboarded_at=NOW,
        version=2,
    )
    await publish(platform, org, joined(employee))
    await publish(platform, org, onboarded)
    await publish(
        platform,
        org,
        AmbassadorErased(ambassador_id=ambassador, employee_id=employee, erased_at=NOW),
    )
    await eventually(flaky.delivered_late, timeout=20)

    copies = [
        await publish(platform, org, joined(employee)),
        await publish(platform, org, onboarded),
    ]

    async def copies_applied() -> bool:
        return all([await applied(platform, copy) for copy in copies])

    await eventually(copies_applied)
    assert not await planner_has(platform, EnrolledAmbassador, ambassador_id=ambassador)
    assert not await planner_has(platform, RosterEmployee, employee_id=employee)
    assert await departed(platform, org, "ambassador", ambassador)
    assert await departed(platform, org, "employee", employee)


async def test_an_enrolment_redelivered_after_offboarding_does_not_enrol_again(
    platform: Platform,
) -> None:
    org = await organisation(platform)
    ambassador = uuid4()
    onboarded = AmbassadorOnboarded(
        ambassador_id=ambassador,
        external_id=None,
        program_id=None,
        leadership=False,
        onboarded_at=NOW,
        version=2,
    )
    await publish(platform, org, onboarded)
    await publish(
        platform,
        org,
        AmbassadorOffboarded(
            ambassador_id=ambassador,
            external_id=None,
            reason="left_program",
            offboarded_at=NOW,
            version=3,
        ),
    )
    late = await publish(platform, org, onboarded)

    async def late_applied() -> bool:
        return await applied(platform, late)

    await eventually(late_applied)
    assert await planner_has(
        platform, EnrolledAmbassador, ambassador_id=ambassador, status="left_program"
    )
