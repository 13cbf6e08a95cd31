"""Order that holds in the planner's copies: facts apply only when newer than the copy, and a
person who left or was erased stays gone, whatever arrives late (a handler that failed for a
moment and is redelivered after later facts) or twice (a copy published again)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import col

from advocacy_planner.models import (
    EnrolledAmbassador,
    RosterEmployee,
    RosterGroup,
    RosterGroupMember,
    messaging,
)
from advocacy_planner.repository import RosterRepository
from advocacy_planner.service import recruitment
from advocacy_planner.settings import PlannerSettings
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
)
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.invitations import InvitationDeclined, InvitationIssued
from advocacy_shared.contracts.roster import (
    EmployeeChanged,
    EmployeeJoinedGroup,
    EmployeeJoinedRoster,
    EmployeeLeftGroup,
    EmployeeLeftRoster,
    RosterGroupChanged,
    RosterGroupDeleted,
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


async def test_tombstones_are_pruned_once_past_their_retention_and_not_before(
    platform: Platform,
) -> None:
    """`departures` does not grow for ever: the planner's sweep deletes tombstones older than
    `departures_retention_seconds` (by then no fact about the person can still arrive)."""
    org = await organisation(platform)
    employee = uuid4()
    left = await publish(
        platform,
        org,
        EmployeeLeftRoster(employee_id=employee, external_id=None, left_at=NOW, version=1),
    )

    async def left_applied() -> bool:
        return await applied(platform, left)

    await eventually(left_applied)
    assert await departed(platform, org, "employee", employee)

    planner = platform.runtimes["planner"]
    retention = timedelta(days=90)
    async with planner.transaction() as session:
        kept = await recruitment.prune_departures(
            session, datetime.now(UTC) + retention - timedelta(minutes=1), retention
        )
    assert kept == 0
    assert await departed(platform, org, "employee", employee)

    async with planner.transaction() as session:
        pruned = await recruitment.prune_departures(
            session, datetime.now(UTC) + retention + timedelta(minutes=1), retention
        )
    assert pruned == 1
    assert not await departed(platform, org, "employee", employee)


def test_the_tombstone_retention_outlives_every_message_that_could_bring_someone_back() -> None:
    """A tombstone must outlive the domain streams' 30 days (the dead-letter stream's 90 by
    default): a shorter retention is refused."""
    assert PlannerSettings().departures_retention_seconds >= 90 * 24 * 3600
    with pytest.raises(ValidationError, match="departures_retention_seconds"):
        PlannerSettings(departures_retention_seconds=24 * 3600)


def issued(ambassador: UUID, version: int) -> InvitationIssued:
    return InvitationIssued(
        invitation_id=uuid4(), ambassador_id=ambassador, expires_at=NOW, version=version
    )


def declined_invitation(ambassador: UUID, version: int) -> InvitationDeclined:
    return InvitationDeclined(
        invitation_id=uuid4(), ambassador_id=ambassador, declined_at=NOW, version=version
    )


async def test_a_decline_redelivered_after_the_next_invitation_does_not_undo_it(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invited (v1), declined (v2), invited again (v3): the decline fails for a moment and is
    redelivered after the new invitation. The planner keeps the newest fact: invited."""
    org = await organisation(platform)
    ambassador = uuid4()
    late_until = {"invited again": False}
    original_invited = recruitment.invited

    async def invited(session: Any, organisation_id: UUID, fact: Any) -> None:
        await original_invited(session, organisation_id, fact)
        if fact.version == 3:
            late_until["invited again"] = True

    monkeypatch.setattr(recruitment, "invited", invited)
    original_declined = recruitment.declined
    failures = {"count": 0}

    async def declined(session: Any, organisation_id: UUID, fact: Any) -> None:
        if not late_until["invited again"]:
            failures["count"] += 1
            raise RuntimeError("injected transient failure")
        await original_declined(session, organisation_id, fact)

    monkeypatch.setattr(recruitment, "declined", declined)

    first = await publish(platform, org, issued(ambassador, 1))

    async def first_applied() -> bool:
        return await applied(platform, first)

    await eventually(first_applied)
    decline = await publish(platform, org, declined_invitation(ambassador, 2))
    again = await publish(platform, org, issued(ambassador, 3))

    async def both_applied() -> bool:
        return await applied(platform, again) and await applied(platform, decline)

    await eventually(both_applied, timeout=20)
    assert failures["count"] > 0  # the decline did arrive after the new invitation
    assert await planner_has(
        platform, EnrolledAmbassador, ambassador_id=ambassador, status="invited", version=3
    )

    stale = await publish(platform, org, issued(ambassador, 1))  # a copy, older than the copy

    async def stale_applied() -> bool:
        return await applied(platform, stale)

    await eventually(stale_applied)
    assert await planner_has(platform, EnrolledAmbassador, ambassador_id=ambassador, version=3)


def joined_group(employee: UUID, group: UUID, version: int, name: str = "Sales") -> Any:
    return EmployeeJoinedGroup(
        employee_id=employee,
        group_id=group,
        group_name=name,
        group_external_id=None,
        joined_at=NOW,
        version=version,
    )


def left_group(employee: UUID, group: UUID, version: int) -> Any:
    return EmployeeLeftGroup(employee_id=employee, group_id=group, left_at=NOW, version=version)


async def test_group_facts_apply_only_when_newer_and_a_deleted_group_stays_gone(
    platform: Platform,
) -> None:
    org = await organisation(platform)
    ada, bob, cy, sales, gone = uuid4(), uuid4(), uuid4(), uuid4(), uuid4()
    for employee in (ada, bob, cy):
        await publish(platform, org, joined(employee))
    facts: list[EventData] = [
        RosterGroupChanged(
            group_id=sales, group_name="Sales", group_external_id=None, changed_at=NOW, version=1
        ),
        joined_group(ada, sales, 2),
        left_group(ada, sales, 4),
        joined_group(ada, sales, 3),  # redelivered after the leave: she stays out
        joined_group(bob, sales, 4, name="Sales Nordics"),  # a rename with the change
        RosterGroupChanged(  # an older name, late
            group_id=sales, group_name="Sales", group_external_id=None, changed_at=NOW, version=3
        ),
        joined_group(cy, gone, 1, name="Gone"),
        RosterGroupDeleted(group_id=gone, deleted_at=NOW, version=3),
        joined_group(bob, gone, 2, name="Gone"),  # late: the group is deleted
        EmployeeLeftRoster(employee_id=cy, external_id=None, left_at=NOW, version=2),
        joined_group(cy, sales, 5),  # cy left the roster: not put in a group
    ]
    events = [await publish(platform, org, fact) for fact in facts]

    async def all_applied() -> bool:
        return all([await applied(platform, event) for event in events])

    await eventually(all_applied)
    assert await planner_has(platform, RosterGroupMember, employee_id=ada, member=False, version=4)
    assert await planner_has(
        platform, RosterGroupMember, employee_id=bob, group_id=sales, member=True
    )
    assert not await planner_has(platform, RosterGroupMember, employee_id=bob, group_id=gone)
    assert not await planner_has(platform, RosterGroupMember, employee_id=cy)
    assert await planner_has(platform, RosterGroup, group_id=sales, display_name="Sales Nordics")
    assert await planner_has(platform, RosterGroup, group_id=gone, deleted=True, version=3)
