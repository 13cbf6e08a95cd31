"""Every query of the ambassadors service. Each one filters by organisation."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_ambassadors.models import (
    AmbassadorRecord,
    ConsentRecord,
    ConsentTextRecord,
    InvitationRecord,
    LinkedInAuthorizationRecord,
    LinkedInConnectionRecord,
    TrainingRecord,
    tenants,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)


class AmbassadorRepository:
    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    async def get(self, ambassador_id: UUID) -> AmbassadorRecord | None:
        query = select(AmbassadorRecord).where(
            AmbassadorRecord.organisation_id == self.organisation_id,
            AmbassadorRecord.id == ambassador_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_email(self, email: str) -> AmbassadorRecord | None:
        query = select(AmbassadorRecord).where(
            AmbassadorRecord.organisation_id == self.organisation_id,
            AmbassadorRecord.email == email,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def page(
        self, limit: int, after: UUID | None, leadership: bool | None
    ) -> list[AmbassadorRecord]:
        query = (
            select(AmbassadorRecord)
            .where(AmbassadorRecord.organisation_id == self.organisation_id)
            .order_by(col(AmbassadorRecord.id))
        )
        if after is not None:
            query = query.where(col(AmbassadorRecord.id) > after)
        if leadership is not None:
            query = query.where(AmbassadorRecord.leadership == leadership)
        return list((await self.session.execute(query.limit(limit + 1))).scalars())

    def save(
        self,
        row: AmbassadorRecord
        | ConsentRecord
        | TrainingRecord
        | LinkedInConnectionRecord
        | LinkedInAuthorizationRecord,
    ) -> None:
        assert row.organisation_id == self.organisation_id
        self.session.add(row)

    async def latest_consent(self, ambassador_id: UUID) -> ConsentRecord | None:
        query = (
            select(ConsentRecord)
            .where(
                ConsentRecord.organisation_id == self.organisation_id,
                ConsentRecord.ambassador_id == ambassador_id,
            )
            .order_by(col(ConsentRecord.at).desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def erase(self, ambassador_id: UUID) -> None:
        """Delete the ambassador and every record about them (GDPR art. 17)."""
        await self.forget_linkedin(ambassador_id)
        for table in (ConsentRecord, TrainingRecord, InvitationRecord):
            await self.session.execute(
                delete(table).where(
                    col(table.organisation_id) == self.organisation_id,
                    col(table.ambassador_id) == ambassador_id,
                )
            )
        await self.session.execute(
            delete(AmbassadorRecord).where(
                col(AmbassadorRecord.organisation_id) == self.organisation_id,
                col(AmbassadorRecord.id) == ambassador_id,
            )
        )

    async def trainings(self, ambassador_id: UUID) -> list[TrainingRecord]:
        query = (
            select(TrainingRecord)
            .where(
                TrainingRecord.organisation_id == self.organisation_id,
                TrainingRecord.ambassador_id == ambassador_id,
            )
            .order_by(col(TrainingRecord.at))
        )
        return list((await self.session.execute(query)).scalars())

    async def linkedin_connection(self, ambassador_id: UUID) -> LinkedInConnectionRecord | None:
        query = select(LinkedInConnectionRecord).where(
            LinkedInConnectionRecord.organisation_id == self.organisation_id,
            LinkedInConnectionRecord.ambassador_id == ambassador_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def forget_linkedin(self, ambassador_id: UUID) -> bool:
        """Delete the connection (its token) and any started authorization; True if connected."""
        await self.session.execute(
            delete(LinkedInAuthorizationRecord).where(
                col(LinkedInAuthorizationRecord.organisation_id) == self.organisation_id,
                col(LinkedInAuthorizationRecord.ambassador_id) == ambassador_id,
            )
        )
        result = await self.session.execute(
            delete(LinkedInConnectionRecord).where(
                col(LinkedInConnectionRecord.organisation_id) == self.organisation_id,
                col(LinkedInConnectionRecord.ambassador_id) == ambassador_id,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def linkedin_authorization(self, state_hash: str) -> LinkedInAuthorizationRecord | None:
        query = select(LinkedInAuthorizationRecord).where(
            LinkedInAuthorizationRecord.organisation_id == self.organisation_id,
            LinkedInAuthorizationRecord.state_hash == state_hash,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def claim_linkedin_authorization(self, state_hash: str) -> bool:
        """Use a state once: True for the one caller whose delete found it."""
        result = await self.session.execute(
            delete(LinkedInAuthorizationRecord).where(
                col(LinkedInAuthorizationRecord.organisation_id) == self.organisation_id,
                col(LinkedInAuthorizationRecord.state_hash) == state_hash,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def drop_stale_linkedin_authorizations(self, now: datetime) -> None:
        await self.session.execute(
            delete(LinkedInAuthorizationRecord).where(
                col(LinkedInAuthorizationRecord.organisation_id) == self.organisation_id,
                col(LinkedInAuthorizationRecord.expires_at) <= now,
            )
        )

    async def linkedin_connections_due(
        self, notice_from: datetime
    ) -> list[LinkedInConnectionRecord]:
        """Connected rows expiring before `notice_from` that still owe a notice or an expiry."""
        query = (
            select(LinkedInConnectionRecord)
            .where(
                LinkedInConnectionRecord.organisation_id == self.organisation_id,
                LinkedInConnectionRecord.status == "connected",
                col(LinkedInConnectionRecord.expires_at) <= notice_from,
            )
            .order_by(col(LinkedInConnectionRecord.expires_at))
        )
        return list((await self.session.execute(query)).scalars())


async def organisation_ids(session: AsyncSession) -> list[UUID]:
    """Every tenant this service knows: periodic work runs organisation by organisation."""
    result = await session.execute(select(tenants.c.organisation_id))
    return [row[0] for row in result.all()]


class InvitationRepository:
    """Invitations and the consent texts they show, of one organisation."""

    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    def save(self, row: InvitationRecord | ConsentTextRecord) -> None:
        assert row.organisation_id == self.organisation_id
        self.session.add(row)

    async def get(self, invitation_id: UUID) -> InvitationRecord | None:
        query = select(InvitationRecord).where(
            InvitationRecord.organisation_id == self.organisation_id,
            InvitationRecord.id == invitation_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_token_hash(self, token_hash: str) -> InvitationRecord | None:
        query = select(InvitationRecord).where(
            InvitationRecord.organisation_id == self.organisation_id,
            InvitationRecord.token_hash == token_hash,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def pending_for(self, ambassador_id: UUID) -> list[InvitationRecord]:
        query = select(InvitationRecord).where(
            InvitationRecord.organisation_id == self.organisation_id,
            InvitationRecord.ambassador_id == ambassador_id,
            InvitationRecord.status == "pending",
        )
        return list((await self.session.execute(query)).scalars())

    async def page(
        self, limit: int, after: UUID | None, status: str | None
    ) -> list[InvitationRecord]:
        """Keyset pages by id. `expired` is not stored: it is a pending one past its date."""
        query = (
            select(InvitationRecord)
            .where(InvitationRecord.organisation_id == self.organisation_id)
            .order_by(col(InvitationRecord.id))
        )
        if after is not None:
            query = query.where(col(InvitationRecord.id) > after)
        if status == "expired":
            query = query.where(
                InvitationRecord.status == "pending", col(InvitationRecord.expires_at) <= utc_now()
            )
        elif status == "pending":
            query = query.where(
                InvitationRecord.status == "pending", col(InvitationRecord.expires_at) > utc_now()
            )
        elif status is not None:
            query = query.where(InvitationRecord.status == status)
        return list((await self.session.execute(query.limit(limit + 1))).scalars())

    async def consent_texts(self) -> list[ConsentTextRecord]:
        """Every published version, newest first."""
        query = (
            select(ConsentTextRecord)
            .where(ConsentTextRecord.organisation_id == self.organisation_id)
            .order_by(col(ConsentTextRecord.published_at).desc(), col(ConsentTextRecord.id))
        )
        return list((await self.session.execute(query)).scalars())

    async def consent_text(self, version: str) -> ConsentTextRecord | None:
        query = select(ConsentTextRecord).where(
            ConsentTextRecord.organisation_id == self.organisation_id,
            ConsentTextRecord.version == version,
        )
        return (await self.session.execute(query)).scalar_one_or_none()
