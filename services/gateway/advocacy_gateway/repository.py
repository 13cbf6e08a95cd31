"""Every query of the gateway. Organisation-owned records are always filtered by organisation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from advocacy_gateway.models import (
    ApiKey,
    AuditEntry,
    IdempotencyRecord,
    Membership,
    OidcLoginAttempt,
    OidcProvider,
    Organisation,
    User,
    UserSession,
)

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

    async def by_email(self, email: str) -> User | None:
        query = select(User).where(User.email == email.lower())
        return (await self.session.execute(query)).scalar_one_or_none()

    def add(self, user: User) -> None:
        self.session.add(user)

    async def memberships(self, user_id: UUID) -> list[Membership]:
        query = select(Membership).where(Membership.user_id == user_id)
        return list((await self.session.execute(query)).scalars())


class MembershipRepository:
    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    async def get(self, user_id: UUID) -> Membership | None:
        return await self.session.get(Membership, (self.organisation_id, user_id))

    def add(self, membership: Membership) -> None:
        assert membership.organisation_id == self.organisation_id
        self.session.add(membership)

    async def remove(self, membership: Membership) -> None:
        await self.session.delete(membership)

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
