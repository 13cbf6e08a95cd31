"""Every query of the ambassadors service. Each one filters by organisation."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_ambassadors.models import (
    AmbassadorRecord,
    ConsentRecord,
    ConsentTextRecord,
    InvitationRecord,
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

    def save(self, row: AmbassadorRecord | ConsentRecord | TrainingRecord) -> None:
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
