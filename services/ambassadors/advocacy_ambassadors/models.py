"""The ambassadors service's tables, in its own metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from advocacy_shared.db import UtcDateTime, service_registry
from advocacy_shared.envelope import utc_now
from advocacy_shared.messaging_tables import messaging_tables
from advocacy_shared.tenancy import tenant_table

registry = service_registry()
metadata = registry.metadata


class AmbassadorsModel(SQLModel, registry=registry):
    pass


tenants = tenant_table(metadata)
messaging = messaging_tables(metadata)


class AmbassadorRecord(AmbassadorsModel, table=True):
    """An employee enrolled (or invited) into the organisation's advocacy program."""

    __tablename__ = "ambassadors"
    __table_args__ = (UniqueConstraint("organisation_id", "email"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=200)
    external_id: str | None = Field(default=None, max_length=200)
    program_id: UUID | None = None
    employee_id: UUID | None = Field(
        default=None, index=True, description="The roster record (SCIM User) of this person"
    )
    state: str = Field(max_length=20)
    leadership: bool = Field(default=False, index=True, description="The leadership track")
    profile: dict[str, Any] = Field(sa_type=JSON)
    version: int = Field(
        default=1, description="Raised by every change that publishes a fact (ordering)"
    )
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ConsentRecord(AmbassadorsModel, table=True):
    """Every consent change, kept: who, when, which text, what it allowed."""

    __tablename__ = "consent_records"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    ambassador_id: UUID = Field(foreign_key="ambassadors.id", index=True)
    action: str = Field(max_length=10)  # granted or revoked
    consent_version: str = Field(max_length=40)
    consent_text: str = Field(sa_type=Text)
    allows_posting: bool
    allows_analytics: bool
    recorded_by: str = Field(max_length=200, description="employee:invitation:<id>, user:<id>, …")
    at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class TrainingRecord(AmbassadorsModel, table=True):
    __tablename__ = "trainings"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    ambassador_id: UUID = Field(foreign_key="ambassadors.id", index=True)
    enablement_format: str = Field(max_length=20)
    at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ConsentTextRecord(AmbassadorsModel, table=True):
    """A published consent text. Immutable: a change is a new version; the newest is current."""

    __tablename__ = "consent_texts"
    __table_args__ = (UniqueConstraint("organisation_id", "version"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    version: str = Field(max_length=40)
    text: str = Field(sa_type=Text)
    published_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class InvitationRecord(AmbassadorsModel, table=True):
    """An invitation link sent to an employee; the token is kept only as its SHA-256."""

    __tablename__ = "invitations"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    ambassador_id: UUID = Field(foreign_key="ambassadors.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    status: str = Field(max_length=10)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    responded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    linkedin_connected_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class LinkedInConnectionRecord(AmbassadorsModel, table=True):
    """An ambassador's LinkedIn connection. The access token is sealed (Fernet) at rest."""

    __tablename__ = "linkedin_connections"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    ambassador_id: UUID = Field(foreign_key="ambassadors.id", unique=True)
    member_urn: str = Field(max_length=200)
    scopes: list[str] = Field(sa_type=JSON)
    access_token_sealed: str = Field(sa_type=Text, repr=False)
    status: str = Field(max_length=20)  # connected or expired
    connected_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)
    expiring_notified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    expired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class LinkedInAuthorizationRecord(AmbassadorsModel, table=True):
    """A started LinkedIn authorization: its state, hashed, single use, short-lived.

    One started through an invitation names it, and is bound to the employee's browser by the
    SHA-256 of a nonce kept in that browser's cookie (`browser_hash`)."""

    __tablename__ = "linkedin_authorizations"

    state_hash: str = Field(primary_key=True, max_length=64)
    organisation_id: UUID = Field(index=True)
    ambassador_id: UUID = Field(foreign_key="ambassadors.id", index=True)
    invitation_id: UUID | None = Field(default=None, index=True)
    browser_hash: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


class EmployeeRecord(AmbassadorsModel, table=True):
    """An employee on the HR roster: a SCIM 2.0 User (RFC 7643), with the enterprise extension
    and our own (job family, hard to recruit, leadership, languages, topics).

    `user_name_key` is the userName lowercased: RFC 7643 makes userName case-insensitive, and a
    unique constraint on it enforces that on every backend.
    """

    __tablename__ = "employees"
    __table_args__ = (UniqueConstraint("organisation_id", "user_name_key"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    user_name: str = Field(max_length=320)
    user_name_key: str = Field(max_length=320)
    external_id: str | None = Field(default=None, max_length=200, index=True)
    active: bool | None = Field(default=True, nullable=True)
    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    formatted_name: str | None = Field(default=None, max_length=400)
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320, index=True)
    title: str | None = Field(default=None, max_length=200)
    employee_number: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=200)
    manager_id: str | None = Field(default=None, max_length=200)
    job_family: str | None = Field(default=None, max_length=100)
    hard_to_recruit: bool | None = Field(default=False, nullable=True)
    leadership: bool | None = Field(default=False, nullable=True)
    languages: list[str] = Field(default_factory=list, sa_type=JSON)
    topics: list[str] = Field(default_factory=list, sa_type=JSON)
    version: int = 1
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class EmployeeGroupRecord(AmbassadorsModel, table=True):
    """A group of the roster (a SCIM 2.0 Group): how the identity provider assigns people to the
    application, and a segment recruitment can target. `display_name_key` is the name lowercased:
    unique per organisation, as identity providers match groups by name."""

    __tablename__ = "employee_groups"
    __table_args__ = (UniqueConstraint("organisation_id", "display_name_key"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    display_name: str = Field(max_length=200)
    display_name_key: str = Field(max_length=200)
    external_id: str | None = Field(default=None, max_length=200)
    version: int = 1
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class GroupMembershipRecord(AmbassadorsModel, table=True):
    """An employee in a group; it goes with the group and with the employee."""

    __tablename__ = "employee_group_members"

    group_id: UUID = Field(foreign_key="employee_groups.id", primary_key=True)
    employee_id: UUID = Field(foreign_key="employees.id", primary_key=True, index=True)
    organisation_id: UUID = Field(index=True)
    joined_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
