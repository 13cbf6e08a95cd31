"""Every query of the ambassadors service. Each one filters by organisation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, delete, false, func, not_, or_, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_ambassadors.models import (
    AmbassadorRecord,
    ConsentRecord,
    EmployeeRecord,
    TrainingRecord,
    tenants,
)
from advocacy_shared.contracts.errors import Invalid
from advocacy_shared.contracts.roster import Comparison, Logical, Negation, RosterFilter
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

    async def by_employee(self, employee_id: UUID) -> AmbassadorRecord | None:
        query = select(AmbassadorRecord).where(
            AmbassadorRecord.organisation_id == self.organisation_id,
            AmbassadorRecord.employee_id == employee_id,
        )
        return (await self.session.execute(query)).scalars().first()

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
        for table in (ConsentRecord, TrainingRecord):
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


# Attributes compared without regard to case (RFC 7643: caseExact false). The rest compare exactly.
_CASE_INSENSITIVE = frozenset({"user_name", "email", "given_name", "family_name", "display_name"})


class EmployeeRepository:
    """The roster, one organisation's at a time."""

    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    async def get(self, employee_id: UUID) -> EmployeeRecord | None:
        query = select(EmployeeRecord).where(
            EmployeeRecord.organisation_id == self.organisation_id,
            EmployeeRecord.id == employee_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_user_name(self, user_name: str) -> EmployeeRecord | None:
        query = select(EmployeeRecord).where(
            EmployeeRecord.organisation_id == self.organisation_id,
            EmployeeRecord.user_name_key == user_name.lower(),
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_email(self, email: str) -> EmployeeRecord | None:
        query = (
            select(EmployeeRecord)
            .where(
                EmployeeRecord.organisation_id == self.organisation_id,
                EmployeeRecord.email == email.lower(),
            )
            .order_by(col(EmployeeRecord.created_at))
        )
        return (await self.session.execute(query)).scalars().first()

    async def page(
        self, where: RosterFilter | None, offset: int, limit: int
    ) -> tuple[int, list[EmployeeRecord]]:
        """The total that match, and the page of them in a stable order (oldest first)."""
        condition = and_(
            col(EmployeeRecord.organisation_id) == self.organisation_id,
            _condition(where) if where is not None else true(),
        )
        total = (
            await self.session.execute(
                select(func.count()).select_from(EmployeeRecord).where(condition)
            )
        ).scalar_one()
        query = (
            select(EmployeeRecord)
            .where(condition)
            .order_by(col(EmployeeRecord.created_at), col(EmployeeRecord.id))
            .offset(offset)
            .limit(limit)
        )
        return int(total), list((await self.session.execute(query)).scalars())

    def save(self, row: EmployeeRecord) -> None:
        assert row.organisation_id == self.organisation_id
        self.session.add(row)

    async def delete(self, employee_id: UUID) -> None:
        await self.session.execute(
            delete(EmployeeRecord).where(
                col(EmployeeRecord.organisation_id) == self.organisation_id,
                col(EmployeeRecord.id) == employee_id,
            )
        )


def _condition(where: RosterFilter) -> ColumnElement[bool]:
    """A parsed SCIM filter as a SQL condition."""
    if isinstance(where, Logical):
        parts = [_condition(operand) for operand in where.operands]
        return and_(*parts) if where.operator == "and" else or_(*parts)
    if isinstance(where, Negation):
        return not_(_condition(where.operand))
    return _comparison(where)


def _comparison(where: Comparison) -> ColumnElement[bool]:
    column: Any = getattr(EmployeeRecord, where.attribute)
    if where.attribute in {"languages", "topics"}:
        raise Invalid(f"{where.attribute} cannot be filtered on", {"attribute": where.attribute})
    if where.operator == "pr":
        return column.is_not(None) if where.attribute not in {"active"} else true()
    value: Any = where.value
    if isinstance(value, str) and where.attribute in _CASE_INSENSITIVE:
        column, value = func.lower(column), value.lower()
    if where.attribute == "user_name" and where.operator == "eq":
        return col(EmployeeRecord.user_name_key) == str(value)
    if where.attribute == "id" and isinstance(value, str):
        try:
            value = UUID(value)
        except ValueError:
            return false()
    return _compare(column, where.operator, value)


def _compare(column: Any, operator: str, value: Any) -> ColumnElement[bool]:
    if operator in {"co", "sw", "ew"}:
        if not isinstance(value, str):
            raise Invalid(f"{operator} compares text only", {"operator": operator})
        method = {"co": "contains", "sw": "startswith", "ew": "endswith"}[operator]
        result: ColumnElement[bool] = getattr(column, method)(value, autoescape=True)
        return result
    comparisons: dict[str, Any] = {
        "eq": column.__eq__,
        "ne": column.__ne__,
        "gt": column.__gt__,
        "ge": column.__ge__,
        "lt": column.__lt__,
        "le": column.__le__,
    }
    result = comparisons[operator](value)
    return result
