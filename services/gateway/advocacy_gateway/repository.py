"""Every query of the gateway. Organisation-owned records are always filtered by organisation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from advocacy_gateway.models import (
    ApiKey,
    AuditEntry,
    IdempotencyRecord,
    LoginThrottle,
    Membership,
    OidcLoginAttempt,
    OidcProvider,
    Organisation,
    User,
    UserSession,
)
from advocacy_shared.envelope import utc_now

Cursor = tuple[datetime, UUID]
T = TypeVar("T")


def after_cursor(created: Any, ident: Any, cursor: Cursor | None) -> ColumnElement[bool] | None:
    """Keyset pagination on (timestamp, id): rows strictly after the cursor."""
    if cursor is None:
        return None
    at, key = cursor
    return or_(col(created) > at, (col(created) == at) & (col(ident) > key))


class OrganisationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, organisation_id: UUID) -> Organisation | None:
        return await self.session.get(Organisation, organisation_id)

    async def by_slug(self, slug: str) -> Organisation | None:
        query = select(Organisation).where(Organisation.slug == slug)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_slug_or_id(self, reference: str) -> Organisation | None:
        try:
            return await self.get(UUID(reference))
        except ValueError:
            return await self.by_slug(reference)

    async def slug_taken(self, slug: str) -> bool:
        query = select(Organisation.id).where(Organisation.slug == slug)
        return (await self.session.execute(query)).first() is not None

    def add(self, organisation: Organisation) -> None:
        self.session.add(organisation)

    async def page(
        self, limit: int, after: Cursor | None, only: Sequence[UUID] | None = None
    ) -> list[Organisation]:
        """Organisations oldest first; `only` restricts to those a caller belongs to."""
        query = select(Organisation).order_by(col(Organisation.created_at), col(Organisation.id))
        if (condition := after_cursor(Organisation.created_at, Organisation.id, after)) is not None:
            query = query.where(condition)
        if only is not None:
            query = query.where(col(Organisation.id).in_(only))
        return list((await self.session.execute(query.limit(limit))).scalars())


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def by_email(self, organisation_id: UUID | None, email: str) -> User | None:
        """The account with this address in this organisation (None: the platform admins').
        Accounts are organisation-scoped: there is no lookup across organisations."""
        owner = (
            col(User.organisation_id).is_(None)
            if organisation_id is None
            else col(User.organisation_id) == organisation_id
        )
        query = select(User).where(owner, User.email == email.lower())
        return (await self.session.execute(query)).scalar_one_or_none()

    def add(self, user: User) -> None:
        self.session.add(user)

    async def replace_password_hash(self, user_id: UUID, old: str, new: str) -> bool:
        """Set `new` only where the hash is still `old`: a password changed meanwhile stays."""
        result = await self.session.execute(
            update(User)
            .where(col(User.id) == user_id, col(User.password_hash) == old)
            .values(password_hash=new)
        )
        return bool(getattr(result, "rowcount", 0))

    async def remove(self, organisation_id: UUID, user_id: UUID) -> None:
        await self.session.execute(
            delete(User).where(
                col(User.organisation_id) == organisation_id, col(User.id) == user_id
            )
        )

    async def memberships(self, user_id: UUID) -> list[Membership]:
        query = select(Membership).where(Membership.user_id == user_id)
        return list((await self.session.execute(query)).scalars())


class MembershipRepository:
    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    async def get(self, user_id: UUID) -> Membership | None:
        return await self.session.get(Membership, (self.organisation_id, user_id))

    async def linked_to(self, ambassador_id: UUID) -> Membership | None:
        """The membership whose account is linked to this ambassador record, if any."""
        query = select(Membership).where(
            Membership.organisation_id == self.organisation_id,
            Membership.ambassador_id == ambassador_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    def add(self, membership: Membership) -> None:
        assert membership.organisation_id == self.organisation_id
        self.session.add(membership)

    async def remove(self, membership: Membership) -> None:
        await self.session.delete(membership)

    async def lock_organisation(self) -> None:
        """Take the organisation row's write lock until the transaction ends: changes to its
        admins are serialised, so two of them cannot each see another admin left."""
        await self.session.execute(
            update(Organisation)
            .where(col(Organisation.id) == self.organisation_id)
            .values(name=Organisation.name)
            .execution_options(synchronize_session=False)
        )

    async def page(self, limit: int, after: Cursor | None) -> list[tuple[Membership, User]]:
        query = (
            select(Membership, User)
            .join(User, col(User.id) == col(Membership.user_id))
            .where(Membership.organisation_id == self.organisation_id)
            .order_by(col(Membership.created_at), col(Membership.user_id))
        )
        if (
            condition := after_cursor(Membership.created_at, Membership.user_id, after)
        ) is not None:
            query = query.where(condition)
        rows = (await self.session.execute(query.limit(limit))).all()
        return [(membership, user) for membership, user in rows]


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        """The one lookup across organisations: the key itself says which one it belongs to."""
        query = select(ApiKey).where(ApiKey.prefix == prefix)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def get(self, organisation_id: UUID, key_id: UUID) -> ApiKey | None:
        query = select(ApiKey).where(ApiKey.organisation_id == organisation_id, ApiKey.id == key_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def successor(self, organisation_id: UUID, key_id: UUID) -> ApiKey | None:
        """The key that replaced this one in a rotation, if any."""
        query = select(ApiKey).where(
            ApiKey.organisation_id == organisation_id, ApiKey.rotated_from == key_id
        )
        return (await self.session.execute(query.limit(1))).scalars().first()

    def add(self, key: ApiKey) -> None:
        self.session.add(key)

    async def page(self, organisation_id: UUID, limit: int, after: Cursor | None) -> list[ApiKey]:
        query = (
            select(ApiKey)
            .where(ApiKey.organisation_id == organisation_id)
            .order_by(col(ApiKey.created_at), col(ApiKey.id))
        )
        if (condition := after_cursor(ApiKey.created_at, ApiKey.id, after)) is not None:
            query = query.where(condition)
        return list((await self.session.execute(query.limit(limit))).scalars())


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, token_hash: str) -> UserSession | None:
        return await self.session.get(UserSession, token_hash)

    def add(self, user_session: UserSession) -> None:
        self.session.add(user_session)

    async def remove(self, token_hash: str) -> None:
        await self.session.execute(
            delete(UserSession).where(col(UserSession.token_hash) == token_hash)
        )

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(UserSession).where(col(UserSession.expires_at) < now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def remove_all_but(self, user_id: UUID, keep_token_hash: str) -> None:
        await self.session.execute(
            delete(UserSession).where(
                col(UserSession.user_id) == user_id,
                col(UserSession.token_hash) != keep_token_hash,
            )
        )


class LoginThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def locked(self, key_hash: str) -> LoginThrottle:
        """The key's row, created when missing, locked for this transaction (PostgreSQL), so
        parallel attempts on one key count one after the other.

        The retention sweep may delete an old row between the insert (which found it) and the
        lock (which then finds nothing): the insert is made again, so that attempt counts from
        a new row instead of failing (seen once in CI, on PostgreSQL)."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        query = select(LoginThrottle).where(LoginThrottle.key_hash == key_hash).with_for_update()
        for _ in range(3):
            await self.session.execute(
                insert(LoginThrottle)
                .values(key_hash=key_hash, failures=0, last_failure_at=utc_now())
                .on_conflict_do_nothing(index_elements=["key_hash"])
            )
            row = (await self.session.execute(query)).scalar_one_or_none()
            if row is not None:
                return row
        raise RuntimeError("a login throttle row was deleted three times while it was locked")

    def save(self, row: LoginThrottle) -> None:
        self.session.add(row)

    async def forget(self, key_hash: str) -> None:
        await self.session.execute(
            delete(LoginThrottle).where(col(LoginThrottle.key_hash) == key_hash)
        )

    async def purge_before(self, moment: datetime) -> int:
        """Rows whose last failure is older than `moment` and that no longer wait."""
        result = await self.session.execute(
            delete(LoginThrottle).where(
                col(LoginThrottle.last_failure_at) < moment,
                or_(
                    col(LoginThrottle.blocked_until).is_(None),
                    col(LoginThrottle.blocked_until) < moment,
                ),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


class OidcRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def provider(self, organisation_id: UUID) -> OidcProvider | None:
        return await self.session.get(OidcProvider, organisation_id)

    def save(self, row: OidcProvider | OidcLoginAttempt) -> None:
        self.session.add(row)

    async def remove_provider(self, organisation_id: UUID) -> bool:
        result = await self.session.execute(
            delete(OidcProvider).where(col(OidcProvider.organisation_id) == organisation_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def pending_attempts(self, organisation_id: UUID, now: datetime) -> int:
        """Sign-ins of the organisation begun and neither finished nor expired."""
        query = select(func.count()).where(
            col(OidcLoginAttempt.organisation_id) == organisation_id,
            col(OidcLoginAttempt.expires_at) >= now,
        )
        return int((await self.session.execute(query)).scalar_one())

    async def purge_expired_attempts(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(OidcLoginAttempt).where(col(OidcLoginAttempt.expires_at) < now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def take_attempt(self, state_hash: str) -> OidcLoginAttempt | None:
        """The attempt for this state, removed in the same step: a state works once."""
        attempt = await self.session.get(OidcLoginAttempt, state_hash)
        if attempt is not None:
            await self.session.delete(attempt)
        return attempt


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, entry: AuditEntry) -> None:
        self.session.add(entry)

    async def page(
        self, organisation_id: UUID, limit: int, after: Cursor | None
    ) -> list[AuditEntry]:
        query = (
            select(AuditEntry)
            .where(AuditEntry.organisation_id == organisation_id)
            .order_by(col(AuditEntry.at), col(AuditEntry.id))
        )
        if (condition := after_cursor(AuditEntry.at, AuditEntry.id, after)) is not None:
            query = query.where(condition)
        return list((await self.session.execute(query.limit(limit))).scalars())


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, credential_hash: str, key: str) -> IdempotencyRecord | None:
        return await self.session.get(IdempotencyRecord, (credential_hash, key))

    def add(self, record: IdempotencyRecord) -> None:
        self.session.add(record)

    async def take_over(
        self, credential_hash: str, key: str, now: datetime, lease_expires_at: datetime
    ) -> bool:
        """Lease a record with no kept answer whose lease has run out; one caller wins."""
        taken = await self.session.execute(
            update(IdempotencyRecord)
            .where(
                col(IdempotencyRecord.credential_hash) == credential_hash,
                col(IdempotencyRecord.key) == key,
                col(IdempotencyRecord.status_code).is_(None),
                or_(
                    col(IdempotencyRecord.lease_expires_at).is_(None),
                    col(IdempotencyRecord.lease_expires_at) <= now,
                ),
            )
            .values(lease_expires_at=lease_expires_at)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(taken, "rowcount", 0))

    async def remove(self, credential_hash: str, key: str) -> None:
        await self.session.execute(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.credential_hash) == credential_hash,
                col(IdempotencyRecord.key) == key,
            )
        )

    async def purge_before(self, moment: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < moment)
        )
        return int(getattr(result, "rowcount", 0) or 0)
