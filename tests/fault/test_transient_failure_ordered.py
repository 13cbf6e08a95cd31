"""A transient handler failure on an ordered stream: the planner's consumer of the ambassadors
stream fails on one fact of a few people while their later facts flow past it (a nak with a
delay lets them), so the failed fact is redelivered after newer ones. Counted: facts lost,
applied twice, applied out of order (older after newer, or anything after a departure)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from advocacy_planner.models import messaging
from advocacy_planner.repository import RosterRepository
from advocacy_planner.service import recruitment
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.roster import (
    EmployeeChanged,
    EmployeeJoinedRoster,
    EmployeeLeftRoster,
)
from tests.conftest import Platform
from tests.e2e.test_skeleton import create_organisation
from tests.shared.helpers import eventually

if TYPE_CHECKING:
    from tests.fault.conftest import FaultReport

PEOPLE = 20
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
MAX_INJECTED = 30
"""Failures per victim fact, below the consumer's bound of deliveries (it would dead-letter)."""


@pytest.fixture
def service_overrides() -> dict[str, dict[str, Any]]:
    """Room for a victim fact to fail until its later facts have passed it."""
    return {"planner": {"consumer_max_attempts": 50, "consumer_backoff_seconds": (0.1, 0.2)}}


def facts_of(employee: UUID, leaves: bool) -> list[EventData]:
    def snapshot(version: int) -> dict[str, Any]:
        return {
            "employee_id": employee,
            "external_id": None,
            "active": True,
            "department": f"D{version}",
            "job_family": "Sales",
            "hard_to_recruit": False,
            "leadership": False,
            "languages": ["da"],
            "topics": [],
            "version": version,
        }

    facts: list[EventData] = [
        EmployeeJoinedRoster(**snapshot(1), joined_at=NOW),
        EmployeeChanged(**snapshot(2), changed_at=NOW),
        EmployeeChanged(**snapshot(3), changed_at=NOW),
    ]
    if leaves:
        facts.append(
            EmployeeLeftRoster(employee_id=employee, external_id=None, left_at=NOW, version=4)
        )
    return facts


@dataclass
class Ledger:
    """What the planner's handlers did, in the order they did it."""

    victims: set[tuple[UUID, int]]
    last_version: dict[UUID, int]
    injected: int = 0
    first_failure_at: float | None = None
    failures: dict[tuple[UUID, int], int] = field(default_factory=dict)
    applied: list[tuple[UUID, int]] = field(default_factory=list)

    def out_of_order(self) -> int:
        newest: dict[UUID, int] = {}
        count = 0
        for employee, version in self.applied:
            if version < newest.get(employee, 0):
                count += 1
            newest[employee] = max(version, newest.get(employee, 0))
        return count

    def applied_twice(self) -> int:
        return len(self.applied) - len(set(self.applied))


def instrument(monkeypatch: pytest.MonkeyPatch, ledger: Ledger) -> None:
    keep, forget = recruitment.keep_roster_facts, recruitment.forget_employee

    async def held_version(roster: RosterRepository, employee: UUID) -> int | None:
        """The copy's version; -1 once the employee is gone (a copy after that is a
        resurrection, counted out of order)."""
        record = await roster.employee(employee)
        if record is not None:
            return record.version
        return -1 if await roster.departed("employee", employee) else None

    async def observed(handler: Any, session: Any, organisation_id: UUID, fact: Any) -> None:
        roster = RosterRepository(session, organisation_id)
        employee, version = fact.employee_id, fact.version
        victim = (employee, version)
        if (
            victim in ledger.victims
            and ledger.failures.get(victim, 0) < MAX_INJECTED
            and await held_version(roster, employee) not in (-1, ledger.last_version[employee])
        ):
            ledger.failures[victim] = ledger.failures.get(victim, 0) + 1
            ledger.injected += 1
            ledger.first_failure_at = ledger.first_failure_at or time.monotonic()
            raise RuntimeError("injected transient failure")
        before = await held_version(roster, employee)
        await handler(session, organisation_id, fact)
        after = await held_version(roster, employee)
        if after != before:
            ledger.applied.append(victim)

    async def keep_observed(session: Any, organisation_id: UUID, fact: Any) -> None:
        await observed(keep, session, organisation_id, fact)

    async def forget_observed(session: Any, organisation_id: UUID, fact: Any) -> None:
        await observed(forget, session, organisation_id, fact)

    monkeypatch.setattr(recruitment, "keep_roster_facts", keep_observed)
    monkeypatch.setattr(recruitment, "forget_employee", forget_observed)


async def test_a_transient_failure_on_an_ordered_stream_loses_and_reorders_nothing(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, fault_report: FaultReport
) -> None:
    org = UUID((await create_organisation(platform, "Ordered"))["id"])
    people = {uuid4(): n % 2 == 0 for n in range(PEOPLE)}  # every other one leaves
    plans = {employee: facts_of(employee, leaves) for employee, leaves in people.items()}
    leaver = next(employee for employee, leaves in people.items() if leaves)
    stayer = next(employee for employee, leaves in people.items() if not leaves)
    ledger = Ledger(
        victims={(leaver, 1), (stayer, 2)},  # the joining of a leaver, a change of a stayer
        last_version={employee: len(facts) for employee, facts in plans.items()},
    )
    instrument(monkeypatch, ledger)

    runtime = platform.runtimes["ambassadors"]
    event_ids: list[str] = []
    for step in range(4):  # the people's facts interleaved, each in its own transaction
        for employee, facts in plans.items():
            if step < len(facts):
                async with runtime.transaction() as session:
                    envelope = await runtime.outbox.add(
                        session, facts[step], organisation_id=org, subject=str(employee)
                    )
                event_ids.append(envelope.id)

    async def every_fact_committed() -> bool:
        inbox = messaging.inbox
        async with platform.runtimes["planner"].sessions() as session:
            query = select(inbox.c.message_id).where(inbox.c.message_id.in_(event_ids))
            return len((await session.execute(query)).all()) == len(event_ids)

    await eventually(every_fact_committed, timeout=60)
    recovered_at = time.monotonic()

    lost = 0
    async with platform.runtimes["planner"].sessions() as session:
        roster = RosterRepository(session, org)
        for employee, leaves in people.items():
            record = await roster.employee(employee)
            if leaves:
                gone = record is None and await roster.departed("employee", employee)
                lost += 0 if gone else 1
            else:
                current = record is not None and record.version == 3 and record.department == "D3"
                lost += 0 if current else 1
    row = fault_report.add(
        "transient handler failure on an ordered stream",
        events=len(event_ids),
        lost=lost,
        applied_twice=ledger.applied_twice(),
        out_of_order=ledger.out_of_order(),
        recovery_seconds=recovered_at - (ledger.first_failure_at or recovered_at),
    )
    assert ledger.injected >= len(ledger.victims)
    assert (row.lost, row.applied_twice, row.out_of_order) == (0, 0, 0)
