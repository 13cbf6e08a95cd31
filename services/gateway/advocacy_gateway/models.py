"""The gateway's tables: organisations, identity (users, memberships, API keys, sessions), the
audit log and idempotency records. Webhook tables live in advocacy_gateway.webhooks.models."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from advocacy_shared.db import UtcDateTime, service_registry
from advocacy_shared.envelope import utc_now
from advocacy_shared.messaging_tables import messaging_tables

registry = service_registry()
metadata = registry.metadata


class GatewayModel(SQLModel, registry=registry):
    pass


messaging = messaging_tables(metadata, serves_requests=False)


class Organisation(GatewayModel, table=True):
    """A customer (tenant). Every record anywhere in the platform belongs to exactly one."""

    __tablename__ = "organisations"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=63, unique=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class User(GatewayModel, table=True):
    """An account: it belongs to ONE organisation, or to none (a platform admin).

    Accounts are organisation-scoped (docs/security.md): the same address in two organisations
    is two accounts, each with its own password and its one membership, so nothing one
    organisation does to its accounts (create, set a password, sign in through its SSO) can reach
    another organisation's, or a platform admin's.
    """

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("organisation_id", "email"),
        Index(
            "uq_users_platform_email",
            "email",
            unique=True,
            sqlite_where=text("organisation_id IS NULL"),
            postgresql_where=text("organisation_id IS NULL"),
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID | None = Field(default=None, foreign_key="organisations.id", index=True)
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=200)
    is_platform_admin: bool = False
    disabled: bool = False
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class Membership(GatewayModel, table=True):
    """A user's role in an organisation and, once linked, the ambassador record that is theirs
    (docs/security.md, "An account and its ambassador record"): at most one per account, and
    one account per ambassador record."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("organisation_id", "ambassador_id", name="uq_memberships_ambassador"),
    )

    organisation_id: UUID = Field(foreign_key="organisations.id", primary_key=True)
    user_id: UUID = Field(foreign_key="users.id", primary_key=True, index=True)
    role: str = Field(max_length=32)
    ambassador_id: UUID | None = Field(default=None)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ApiKey(GatewayModel, table=True):
    """An integration's key. Only a hash of the secret is kept; the key is shown once."""

    __tablename__ = "api_keys"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(foreign_key="organisations.id", index=True)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=12, unique=True)
    secret_hash: str = Field(max_length=64)
    scopes: list[str] = Field(sa_type=JSON)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    rotated_from: UUID | None = None
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class UserSession(GatewayModel, table=True):
    """A signed-in browser: the cookie carries the token, the table its hash and CSRF token."""

    __tablename__ = "user_sessions"

    token_hash: str = Field(max_length=64, primary_key=True)
    user_id: UUID = Field(foreign_key="users.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


class AuditEntry(GatewayModel, table=True):
    """An administrative action: who did what to which thing, when."""

    __tablename__ = "audit_log"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    organisation_id: UUID = Field(index=True)
    at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    target: str = Field(max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class IdempotencyRecord(GatewayModel, table=True):
    """The first answer to a creating request with an Idempotency-Key, replayed for retries."""

    __tablename__ = "idempotency_records"

    credential_hash: str = Field(max_length=64, primary_key=True)
    key: str = Field(max_length=255, primary_key=True)
    fingerprint: str = Field(max_length=64)
    status_code: int | None = None
    response_body: str | None = Field(default=None, sa_type=Text)
    response_headers: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, index=True)
    lease_expires_at: datetime | None = Field(
        default=None,
        sa_type=UtcDateTime,
        description="While no answer is kept: until when the request holding the key runs; "
        "past it (a crashed gateway, a timed-out service) a retry may take the key over",
    )


class OidcProvider(GatewayModel, table=True):
    """An organisation's identity provider for single sign-on; the client secret is sealed."""

    __tablename__ = "oidc_providers"

    organisation_id: UUID = Field(foreign_key="organisations.id", primary_key=True)
    issuer: str = Field(max_length=500)
    client_id: str = Field(max_length=200)
    client_secret_sealed: str = Field(sa_type=Text)
    email_domains: list[str] = Field(default_factory=list, sa_type=JSON)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class OidcLoginAttempt(GatewayModel, table=True):
    """A sign-in on its way through the provider: single use, short-lived."""

    __tablename__ = "oidc_login_attempts"

    state_hash: str = Field(max_length=64, primary_key=True)
    organisation_id: UUID = Field(foreign_key="organisations.id", index=True)
    nonce: str = Field(max_length=100)
    verifier_sealed: str = Field(sa_type=Text)
    return_to: str = Field(max_length=500)
    expires_at: datetime = Field(sa_type=UtcDateTime)


class LoginThrottle(GatewayModel, table=True):
    """Recent failed sign-ins of one account or one source address, and until when they wait.

    The key is a SHA-256 of "account:<organisation>:<email>" or "source:<address>": no address
    is readable here, and an unknown account is throttled exactly like a known one.
    """

    __tablename__ = "login_throttles"

    key_hash: str = Field(max_length=64, primary_key=True)
    failures: int = 0
    last_failure_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, index=True)
    blocked_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
