"""Every query of the ambassadors service. Each one filters by organisation."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, TypeVar, get_args
from uuid import UUID

from sqlalchemy import ColumnElement, and_, delete, false, func, not_, or_, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from advocacy_ambassadors.models import (
    AmbassadorRecord,
    ConsentRecord,
    ConsentTextRecord,
    EmployeeGroupRecord,
    EmployeeRecord,
    GroupMembershipRecord,
    InvitationRecord,
    LinkedInAuthorizationRecord,
    LinkedInConnectionRecord,
    TrainingRecord,
    tenants,
)
from advocacy_shared.contracts.errors import Invalid
from advocacy_shared.contracts.roster import (
    Comparison,
    ElementAttribute,
    Logical,
    Negation,
    RosterFilter,
    ValuePath,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)


R = TypeVar("R", AmbassadorRecord, EmployeeRecord, EmployeeGroupRecord)


async def _locked(
    session: AsyncSession, model: type[R], organisation_id: UUID, row_id: UUID
) -> R | None:
    """The organisation's row, read after taking its write lock until the transaction ends (a
    no-op UPDATE, which SQLite and PostgreSQL both lock on): a second command on the same row
    waits, then reads what the first committed, so If-Match and the version raise are atomic."""
    await session.execute(
        update(model)
        .where(col(model.organisation_id) == organisation_id, col(model.id) == row_id)
        .values(version=model.version)
        .execution_options(synchronize_session=False)
    )
    query = (
        select(model)
        .where(col(model.organisation_id) == organisation_id, col(model.id) == row_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


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

    async def locked(self, ambassador_id: UUID) -> AmbassadorRecord | None:
        """The ambassador, read after taking their row's write lock until the transaction ends:
        a second command on them waits, then reads what the first committed."""
        return await _locked(self.session, AmbassadorRecord, self.organisation_id, ambassador_id)

    async def known(self, ambassador_ids: list[UUID]) -> set[UUID]:
        """Which of these ids are the organisation's ambassadors."""
        query = select(AmbassadorRecord.id).where(
            AmbassadorRecord.organisation_id == self.organisation_id,
            col(AmbassadorRecord.id).in_(ambassador_ids),
        )
        return set((await self.session.execute(query)).scalars())

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

    async def consent_changes(self, ambassador_id: UUID) -> list[ConsentRecord]:
        """Every grant and revocation, oldest first."""
        query = (
            select(ConsentRecord)
            .where(
                ConsentRecord.organisation_id == self.organisation_id,
                ConsentRecord.ambassador_id == ambassador_id,
            )
            .order_by(col(ConsentRecord.at), col(ConsentRecord.id))
        )
        return list((await self.session.execute(query)).scalars())

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

    async def drop_invitation_linkedin_authorizations(self, invitation_id: UUID) -> None:
        """An invitation's earlier LinkedIn states: a new start leaves only its own valid."""
        await self.session.execute(
            delete(LinkedInAuthorizationRecord).where(
                col(LinkedInAuthorizationRecord.organisation_id) == self.organisation_id,
                col(LinkedInAuthorizationRecord.invitation_id) == invitation_id,
            )
        )

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

    async def locked(self, employee_id: UUID) -> EmployeeRecord | None:
        """The employee, read after taking their row's write lock until the transaction ends,
        so that If-Match and the version raise are one atomic step."""
        return await _locked(self.session, EmployeeRecord, self.organisation_id, employee_id)

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
        self,
        where: RosterFilter | None,
        offset: int,
        limit: int,
        sort_by: str | None = None,
        descending: bool = False,
    ) -> tuple[int, list[EmployeeRecord]]:
        """The total that match, and the page of them in a stable order: by `sort_by` (text
        without regard to case where the attribute compares so), then oldest first."""
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
            .order_by(
                *_sorted_by(EmployeeRecord, sort_by, descending, _CASE_INSENSITIVE),
                col(EmployeeRecord.created_at),
                col(EmployeeRecord.id),
            )
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


def _sorted_by(
    model: Any, sort_by: str | None, descending: bool, case_insensitive: Collection[str]
) -> list[Any]:
    """`sortBy` (RFC 7644 §3.4.2.3): unassigned values sort last ascending, first descending."""
    if sort_by is None:
        return []
    column: Any = getattr(model, sort_by, None)
    if column is None or sort_by in {"languages", "topics", "members"}:
        raise Invalid(f"cannot sort by {sort_by}", {"attribute": sort_by})
    if sort_by in case_insensitive:
        column = func.lower(column)
    missing = column.is_(None)
    return [missing.desc(), column.desc()] if descending else [missing, column]


def _condition(where: RosterFilter) -> ColumnElement[bool]:
    """A parsed SCIM filter as a SQL condition."""
    if isinstance(where, Logical):
        parts = [_condition(operand) for operand in where.operands]
        return and_(*parts) if where.operator == "and" else or_(*parts)
    if isinstance(where, Negation):
        return not_(_condition(where.operand))
    if isinstance(where, ValuePath):
        return _value_path(where)
    return _comparison(where)


ELEMENT_ATTRIBUTES = frozenset(get_args(ElementAttribute))
Element = Callable[[Comparison], ColumnElement[bool]]


def _element_condition(where: RosterFilter, element: Element) -> ColumnElement[bool]:
    """The filter inside `attribute[...]`, on one element: `element` compiles a comparison of
    one of its sub-attributes. Value paths do not nest (RFC 7644 §3.4.2.2)."""
    if isinstance(where, Logical):
        parts = [_element_condition(operand, element) for operand in where.operands]
        return and_(*parts) if where.operator == "and" else or_(*parts)
    if isinstance(where, Negation):
        return not_(_element_condition(where.operand, element))
    if isinstance(where, ValuePath):
        raise Invalid("a value path cannot hold another", {"attribute": where.attribute})
    return element(where)


def _constant(actual: str | bool | None, where: Comparison) -> ColumnElement[bool]:
    """A comparison with a sub-attribute whose value is the same for every element (an email's
    `type` is "work"), decided here; text without regard to case."""
    if where.operator == "pr":
        return true() if actual is not None else false()
    value = where.value
    if isinstance(actual, bool) or actual is None or isinstance(value, bool):
        if where.operator not in {"eq", "ne"} or not isinstance(value, bool):
            raise Invalid(f"{where.attribute} compares with eq or ne and a boolean", {})
        same = (actual or False) == value
    else:
        if not isinstance(value, str):
            raise Invalid(f"{where.attribute} compares with text", {})
        a, v = actual.lower(), value.lower()
        outcomes = {
            "eq": a == v,
            "ne": a != v,
            "co": v in a,
            "sw": a.startswith(v),
            "ew": a.endswith(v),
            "gt": a > v,
            "ge": a >= v,
            "lt": a < v,
            "le": a <= v,
        }
        return true() if outcomes[where.operator] else false()
    return true() if same == (where.operator == "eq") else false()


def _value_path(where: ValuePath) -> ColumnElement[bool]:
    """`emails[...]` (a User has one email: `type` "work", no `primary`) and `groups[...]` (some
    one group the employee is in matches the whole filter)."""
    if where.attribute == "emails":
        return and_(
            col(EmployeeRecord.email).is_not(None),
            _element_condition(where.filter, _email_element),
        )
    if where.attribute == "groups":
        rows = (
            select(GroupMembershipRecord.employee_id)
            .join(
                EmployeeGroupRecord, col(EmployeeGroupRecord.id) == GroupMembershipRecord.group_id
            )
            .where(_element_condition(where.filter, _group_element))
        )
        return col(EmployeeRecord.id).in_(rows)
    raise Invalid("members is an attribute of groups", {"attribute": where.attribute})


def _email_element(where: Comparison) -> ColumnElement[bool]:
    if where.attribute == "email":
        return _comparison(where)
    if where.attribute == "email_type":
        return _constant("work", where)
    if where.attribute == "email_primary":
        return _constant(None, where)
    raise Invalid(f"emails[...] cannot compare {where.attribute}", {"attribute": where.attribute})


def _group_element(where: Comparison) -> ColumnElement[bool]:
    if where.attribute == "group_type":
        return _constant("direct", where)
    if where.operator == "pr" and where.attribute in {"group_id", "group_name"}:
        return true()
    if not isinstance(where.value, str):
        raise Invalid("groups compare with text", {"attribute": where.attribute})
    if where.attribute == "group_id":
        return _id_comparison(col(GroupMembershipRecord.group_id), where)
    if where.attribute == "group_name":
        name = func.lower(EmployeeGroupRecord.display_name)
        return _compare(name, where.operator, where.value.lower())
    raise Invalid(f"groups[...] cannot compare {where.attribute}", {"attribute": where.attribute})


def _id_comparison(column: Any, where: Comparison) -> ColumnElement[bool]:
    """An id sub-attribute (`value`): `eq` or `ne` a UUID; text that is no UUID equals none."""
    if where.operator not in {"eq", "ne"}:
        raise Invalid(f"{where.attribute} compares with eq or ne", {"attribute": where.attribute})
    try:
        wanted = UUID(str(where.value))
    except ValueError:
        return false() if where.operator == "eq" else true()
    result: ColumnElement[bool] = column == wanted if where.operator == "eq" else column != wanted
    return result


def _comparison(where: Comparison) -> ColumnElement[bool]:
    if where.attribute in ELEMENT_ATTRIBUTES:
        raise Invalid(f"{where.attribute} is compared inside a value path only", {})
    if where.attribute == "members":
        raise Invalid("members is an attribute of groups", {"attribute": where.attribute})
    if where.attribute in {"group_id", "group_name"}:
        return _in_group(where)
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


def _in_group(where: Comparison) -> ColumnElement[bool]:
    """Employees by the groups they are in: `groups.value eq "<group id>"`, `groups.display eq
    "Sales"` (any text comparison on the name, without regard to case), `groups pr`. The
    membership rows carry the organisation, and the page's condition filters employees by it."""
    groups = select(GroupMembershipRecord.employee_id).join(
        EmployeeGroupRecord, col(EmployeeGroupRecord.id) == GroupMembershipRecord.group_id
    )
    if where.operator != "pr":
        if not isinstance(where.value, str):
            raise Invalid("groups compare with text", {"attribute": where.attribute})
        if where.attribute == "group_id":
            try:
                group_id = UUID(where.value)
            except ValueError:
                return false()
            if where.operator not in {"eq", "ne"}:
                raise Invalid("groups.value compares with eq or ne", {})
            groups = groups.where(col(GroupMembershipRecord.group_id) == group_id)
        else:
            name = func.lower(EmployeeGroupRecord.display_name)
            groups = groups.where(
                _compare(
                    name, "eq" if where.operator == "ne" else where.operator, where.value.lower()
                )
            )
    inside = col(EmployeeRecord.id).in_(groups)
    return not_(inside) if where.operator == "ne" else inside


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


def _member_element(where: Comparison) -> ColumnElement[bool]:
    """A sub-attribute of one member of a group: `value` (the User's id), `display`, `type`."""
    if where.attribute == "member_type":
        return _constant("User", where)
    if where.operator == "pr" and where.attribute == "members":
        return true()
    if where.attribute == "members":
        return _id_comparison(col(GroupMembershipRecord.employee_id), where)
    if where.attribute == "member_display":
        display = func.coalesce(EmployeeRecord.display_name, EmployeeRecord.user_name)
        if where.operator == "pr":
            return true()
        if not isinstance(where.value, str):
            raise Invalid("members.display compares with text", {})
        return _compare(func.lower(display), where.operator, where.value.lower())
    raise Invalid(f"members[...] cannot compare {where.attribute}", {"attribute": where.attribute})


class GroupRepository:
    """The roster's groups and their members, one organisation's at a time."""

    def __init__(self, session: AsyncSession, organisation_id: UUID) -> None:
        self.session = session
        self.organisation_id = organisation_id

    async def get(self, group_id: UUID) -> EmployeeGroupRecord | None:
        query = select(EmployeeGroupRecord).where(
            EmployeeGroupRecord.organisation_id == self.organisation_id,
            EmployeeGroupRecord.id == group_id,
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def locked(self, group_id: UUID) -> EmployeeGroupRecord | None:
        """The group, read after taking its row's write lock (as `EmployeeRepository.locked`)."""
        return await _locked(self.session, EmployeeGroupRecord, self.organisation_id, group_id)

    async def by_name(self, display_name: str) -> EmployeeGroupRecord | None:
        query = select(EmployeeGroupRecord).where(
            EmployeeGroupRecord.organisation_id == self.organisation_id,
            EmployeeGroupRecord.display_name_key == display_name.lower(),
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def page(
        self,
        where: RosterFilter | None,
        offset: int,
        limit: int,
        sort_by: str | None = None,
        descending: bool = False,
    ) -> tuple[int, list[EmployeeGroupRecord]]:
        """The total that match, and the page of them, by `sort_by`, then oldest first."""
        condition = and_(
            col(EmployeeGroupRecord.organisation_id) == self.organisation_id,
            self._condition(where) if where is not None else true(),
        )
        total = (
            await self.session.execute(
                select(func.count()).select_from(EmployeeGroupRecord).where(condition)
            )
        ).scalar_one()
        query = (
            select(EmployeeGroupRecord)
            .where(condition)
            .order_by(
                *_sorted_by(EmployeeGroupRecord, sort_by, descending, {"display_name"}),
                col(EmployeeGroupRecord.created_at),
                col(EmployeeGroupRecord.id),
            )
            .offset(offset)
            .limit(limit)
        )
        return int(total), list((await self.session.execute(query)).scalars())

    def _condition(self, where: RosterFilter) -> ColumnElement[bool]:
        if isinstance(where, Logical):
            parts = [self._condition(operand) for operand in where.operands]
            return and_(*parts) if where.operator == "and" else or_(*parts)
        if isinstance(where, Negation):
            return not_(self._condition(where.operand))
        if isinstance(where, ValuePath):
            return self._value_path(where)
        return self._comparison(where)

    def _value_path(self, where: ValuePath) -> ColumnElement[bool]:
        """`members[...]`: some one member of the group matches the whole filter."""
        if where.attribute != "members":
            raise Invalid(f"{where.attribute} is an attribute of Users", {})
        rows = (
            select(GroupMembershipRecord.group_id)
            .join(EmployeeRecord, col(EmployeeRecord.id) == GroupMembershipRecord.employee_id)
            .where(
                GroupMembershipRecord.organisation_id == self.organisation_id,
                _element_condition(where.filter, _member_element),
            )
        )
        return col(EmployeeGroupRecord.id).in_(rows)

    def _comparison(self, where: Comparison) -> ColumnElement[bool]:
        if where.attribute in ELEMENT_ATTRIBUTES:
            raise Invalid(f"{where.attribute} is compared inside a value path only", {})
        if where.attribute == "members":
            if where.operator == "pr":
                return self._has_member(None)
            if where.operator != "eq" or not isinstance(where.value, str):
                raise Invalid("members compares with eq and an employee id", {})
            try:
                return self._has_member(UUID(where.value))
            except ValueError:
                return false()
        columns: dict[str, Any] = {
            "id": EmployeeGroupRecord.id,
            "display_name": EmployeeGroupRecord.display_name,
            "external_id": EmployeeGroupRecord.external_id,
            "created_at": EmployeeGroupRecord.created_at,
            "updated_at": EmployeeGroupRecord.updated_at,
        }
        column = columns.get(where.attribute)
        if column is None:
            raise Invalid(f"groups cannot be filtered on {where.attribute}", {})
        if where.operator == "pr":
            result: ColumnElement[bool] = column.is_not(None)
            return result
        value: Any = where.value
        if where.attribute == "id" and isinstance(value, str):
            try:
                value = UUID(value)
            except ValueError:
                return false()
        if where.attribute == "display_name" and isinstance(value, str):
            column, value = func.lower(column), value.lower()
        return _compare(column, where.operator, value)

    def _has_member(self, employee_id: UUID | None) -> ColumnElement[bool]:
        members = select(GroupMembershipRecord.group_id).where(
            GroupMembershipRecord.organisation_id == self.organisation_id
        )
        if employee_id is not None:
            members = members.where(GroupMembershipRecord.employee_id == employee_id)
        return col(EmployeeGroupRecord.id).in_(members)

    async def members(self, group_ids: list[UUID]) -> dict[UUID, list[EmployeeRecord]]:
        """Each group's members (the employees), oldest membership first."""
        if not group_ids:
            return {}
        query = (
            select(GroupMembershipRecord.group_id, EmployeeRecord)
            .join(EmployeeRecord, col(EmployeeRecord.id) == GroupMembershipRecord.employee_id)
            .where(
                GroupMembershipRecord.organisation_id == self.organisation_id,
                col(GroupMembershipRecord.group_id).in_(group_ids),
            )
            .order_by(col(GroupMembershipRecord.joined_at), col(GroupMembershipRecord.employee_id))
        )
        found: dict[UUID, list[EmployeeRecord]] = {group_id: [] for group_id in group_ids}
        for group_id, employee in (await self.session.execute(query)).all():
            found[group_id].append(employee)
        return found

    async def groups_of(self, employee_ids: list[UUID]) -> dict[UUID, list[EmployeeGroupRecord]]:
        """The groups each employee is in, by name."""
        if not employee_ids:
            return {}
        query = (
            select(GroupMembershipRecord.employee_id, EmployeeGroupRecord)
            .join(
                EmployeeGroupRecord, col(EmployeeGroupRecord.id) == GroupMembershipRecord.group_id
            )
            .where(
                GroupMembershipRecord.organisation_id == self.organisation_id,
                col(GroupMembershipRecord.employee_id).in_(employee_ids),
            )
            .order_by(col(EmployeeGroupRecord.display_name_key), col(EmployeeGroupRecord.id))
        )
        found: dict[UUID, list[EmployeeGroupRecord]] = {e: [] for e in employee_ids}
        for employee_id, group in (await self.session.execute(query)).all():
            found[employee_id].append(group)
        return found

    async def member_ids(self, group_id: UUID) -> list[UUID]:
        query = select(GroupMembershipRecord.employee_id).where(
            GroupMembershipRecord.organisation_id == self.organisation_id,
            GroupMembershipRecord.group_id == group_id,
        )
        return list((await self.session.execute(query)).scalars())

    async def known_employees(self, employee_ids: list[UUID]) -> set[UUID]:
        """Those of the ids that are employees of this organisation."""
        if not employee_ids:
            return set()
        query = select(EmployeeRecord.id).where(
            EmployeeRecord.organisation_id == self.organisation_id,
            col(EmployeeRecord.id).in_(employee_ids),
        )
        return set((await self.session.execute(query)).scalars())

    def add_member(self, group_id: UUID, employee_id: UUID, at: datetime) -> None:
        self.session.add(
            GroupMembershipRecord(
                group_id=group_id,
                employee_id=employee_id,
                organisation_id=self.organisation_id,
                joined_at=at,
            )
        )

    async def remove_members(self, group_id: UUID, employee_ids: list[UUID]) -> None:
        if employee_ids:
            await self.session.execute(
                delete(GroupMembershipRecord).where(
                    col(GroupMembershipRecord.organisation_id) == self.organisation_id,
                    col(GroupMembershipRecord.group_id) == group_id,
                    col(GroupMembershipRecord.employee_id).in_(employee_ids),
                )
            )

    async def forget_employee(self, employee_id: UUID) -> None:
        """An employee leaving the roster leaves every group (EmployeeLeftRoster says so)."""
        await self.session.execute(
            delete(GroupMembershipRecord).where(
                col(GroupMembershipRecord.organisation_id) == self.organisation_id,
                col(GroupMembershipRecord.employee_id) == employee_id,
            )
        )

    def save(self, row: EmployeeGroupRecord) -> None:
        assert row.organisation_id == self.organisation_id
        self.session.add(row)

    async def delete(self, group_id: UUID) -> None:
        await self.session.execute(
            delete(GroupMembershipRecord).where(
                col(GroupMembershipRecord.organisation_id) == self.organisation_id,
                col(GroupMembershipRecord.group_id) == group_id,
            )
        )
        await self.session.execute(
            delete(EmployeeGroupRecord).where(
                col(EmployeeGroupRecord.organisation_id) == self.organisation_id,
                col(EmployeeGroupRecord.id) == group_id,
            )
        )
