"""The HR roster, as the ambassadors service keeps it (provisioned by SCIM 2.0 or a CSV import).

The events carry the employee's id and the facts recruitment planning needs (job family, the
hard-to-recruit flag, the leadership flag, languages, topics of expertise, department); never a
name, an email, an employee number or a manager. Consumers that keep a copy delete it on
`EmployeeLeftRoster` and on `AmbassadorErased` (which names the employee id when there is one).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import EventData, event


class RosterFacts(EventData):
    """What planning may know of an employee on the roster."""

    employee_id: UUID
    external_id: str | None = Field(description="The HR system's id (SCIM externalId)")
    active: bool
    department: str | None
    job_family: str | None
    hard_to_recruit: bool
    leadership: bool
    languages: list[str]
    topics: list[str]


@event("ambassadors", "employee", "joined_roster", 1)
class EmployeeJoinedRoster(RosterFacts):
    """The HR system provisioned an employee."""

    joined_at: datetime


@event("ambassadors", "employee", "changed", 1)
class EmployeeChanged(RosterFacts):
    """An employee's roster facts changed (including `active` turning false: deactivated in HR)."""

    changed_at: datetime


@event("ambassadors", "employee", "left_roster", 1)
class EmployeeLeftRoster(EventData):
    """The HR system deleted the employee: their roster record is gone; copies must go too."""

    employee_id: UUID
    external_id: str | None
    left_at: datetime
