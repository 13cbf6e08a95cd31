"""The planner's tables, in its own metadata."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, BigInteger, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from advocacy_shared.db import UtcDateTime, service_registry
from advocacy_shared.envelope import utc_now
from advocacy_shared.messaging_tables import messaging_tables
from advocacy_shared.tenancy import tenant_table

registry = service_registry()
metadata = registry.metadata


class PlannerModel(SQLModel, registry=registry):
    pass


tenants = tenant_table(metadata)
messaging = messaging_tables(metadata)


class PlaybookEntry(PlannerModel, table=True):
    """One row of an organisation's prioritisation matrix (challenge to enablement format)."""

    __tablename__ = "playbook_entries"
    __table_args__ = (UniqueConstraint("organisation_id", "version", "position"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    version: int = Field(ge=1)
    position: int = Field(ge=1)
    challenge: str = Field(max_length=200)
    discipline: str = Field(max_length=200)
    colleagues: str = Field(max_length=200)
    content: str = Field(max_length=500)
    enablement_format: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    key: str = Field(max_length=60, description="The discipline's stable key across versions")
    segments: list[str] = Field(sa_type=JSON)
    formats: list[str] = Field(sa_type=JSON, description="Enablement formats, the main one first")
    angle_prompts: list[str] = Field(sa_type=JSON)


class ProgramRecord(PlannerModel, table=True):
    """One advocacy program; it keeps the playbook version it was planned with."""

    __tablename__ = "programs"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    name: str = Field(max_length=200)
    owner: str = Field(max_length=200)
    objectives: list[str] = Field(sa_type=JSON)
    disciplines: list[str] = Field(sa_type=JSON)
    fte_share: float
    hours_per_week: float | None = None
    start_date: date
    awareness_topics: list[str] = Field(sa_type=JSON)
    cost_model: dict[str, Any] = Field(sa_type=JSON)
    playbook_version: int
    phase: str = Field(max_length=30)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ReadinessRecord(PlannerModel, table=True):
    """One dated assessment of the four elements; earlier ones are kept as history."""

    __tablename__ = "readiness_assessments"
    __table_args__ = (UniqueConstraint("program_id", "number"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    program_id: UUID = Field(foreign_key="programs.id", index=True)
    number: int
    purpose: dict[str, Any] = Field(sa_type=JSON)
    buy_in: dict[str, Any] = Field(sa_type=JSON)
    culture: dict[str, Any] = Field(sa_type=JSON)
    practicalities: dict[str, Any] = Field(sa_type=JSON)
    assessed_by: str = Field(max_length=300)
    assessed_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class PhaseRecord(PlannerModel, table=True):
    __tablename__ = "phases"
    __table_args__ = (UniqueConstraint("program_id", "kind"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    program_id: UUID = Field(foreign_key="programs.id", index=True)
    kind: str = Field(max_length=30)
    status: str = Field(max_length=20)
    cohort: dict[str, Any] = Field(sa_type=JSON)
    targets: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    review_date: date | None = None
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    graduated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    target_group_ids: list[str] | None = Field(
        default=None,
        sa_type=JSON,
        description="HR groups whose members the phase recruits from (targeted recruitment)",
    )


class TransitionRecord(PlannerModel, table=True):
    """The audit trail of phase changes: who, when, on met targets or an override and why."""

    __tablename__ = "phase_transitions"
    __table_args__ = (UniqueConstraint("program_id", "number"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    program_id: UUID = Field(foreign_key="programs.id", index=True)
    number: int
    from_phase: str = Field(max_length=30)
    to_phase: str = Field(max_length=30)
    decided_by: str = Field(max_length=20)
    override_reason: str | None = Field(default=None, sa_type=Text)
    unmet: list[str] = Field(sa_type=JSON)
    graduation_check: dict[str, Any] = Field(sa_type=JSON)
    actor: str = Field(max_length=300)
    at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ActualsRecord(PlannerModel, table=True):
    """A cohort's actuals for one period, as the metrics service measured them."""

    __tablename__ = "cohort_actuals"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    program_id: UUID = Field(index=True)
    phase: str = Field(max_length=30)
    period_start: date
    period_end: date
    cohort_size: int
    active_rate: float
    posts_per_ambassador_per_week: float
    reach: int = Field(sa_type=BigInteger)
    engagement_rate: float
    leadership_participation: float | None = None
    measured_at: datetime = Field(sa_type=UtcDateTime)


class RosterEmployee(PlannerModel, table=True):
    """The roster facts recruitment planning may know (no names, no emails), from roster events."""

    __tablename__ = "roster_employees"

    employee_id: UUID = Field(primary_key=True)
    organisation_id: UUID = Field(index=True)
    external_id: str | None = Field(default=None, max_length=200, index=True)
    active: bool
    department: str | None = Field(default=None, max_length=200)
    job_family: str | None = Field(default=None, max_length=200)
    hard_to_recruit: bool
    leadership: bool
    languages: list[str] = Field(sa_type=JSON)
    topics: list[str] = Field(sa_type=JSON)
    version: int | None = Field(default=None, description="Of the newest roster fact applied")
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class RosterGroup(PlannerModel, table=True):
    """A group of the roster (a SCIM Group), from the ambassadors service's group facts: what a
    program may target by id or by name. A deleted group stays as a tombstone (`deleted`, its
    last version) so that a late fact about it changes nothing."""

    __tablename__ = "roster_groups"

    group_id: UUID = Field(primary_key=True)
    organisation_id: UUID = Field(index=True)
    display_name: str = Field(max_length=200)
    display_name_key: str = Field(max_length=200, index=True, description="Lowercased")
    external_id: str | None = Field(default=None, max_length=200)
    deleted: bool = False
    version: int | None = Field(default=None, description="Of the newest group fact applied")
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class RosterGroupMember(PlannerModel, table=True):
    """Whether an employee is in a group, as of the group's version in the newest membership fact
    about the pair: a leave keeps the row (`member` false) so that an older join arriving late
    does not put them back."""

    __tablename__ = "roster_group_members"

    group_id: UUID = Field(primary_key=True)
    employee_id: UUID = Field(primary_key=True, index=True)
    organisation_id: UUID = Field(index=True)
    member: bool
    version: int | None = None
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class EnrolledAmbassador(PlannerModel, table=True):
    """Who is (or was) in a program, from the ambassadors service's events: never proposed."""

    __tablename__ = "enrolled_ambassadors"

    ambassador_id: UUID = Field(primary_key=True)
    organisation_id: UUID = Field(index=True)
    external_id: str | None = Field(default=None, max_length=200, index=True)
    employee_id: UUID | None = Field(default=None, index=True, description="The roster record")
    program_id: UUID | None = None
    leadership: bool
    status: str = Field(max_length=20, description="invited, declined, enrolled or left_program")
    version: int | None = Field(default=None, description="Of the newest ambassador fact applied")
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class Departure(PlannerModel, table=True):
    """A tombstone: this employee left the roster, or this ambassador left the organisation or
    was erased. A later-arriving older fact about them is ignored, never applied. The id is kept
    only as its SHA-256 (enough to recognise a fact that names it): an erased person's id is not
    kept in clear."""

    __tablename__ = "departures"

    organisation_id: UUID = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=20, description="employee or ambassador")
    entity_hash: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=40)
    departed_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
