"""The planner's event subscriptions: tenants, the roster, enrolment, erasure and actuals."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner import service
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
)
from advocacy_shared.contracts.metrics import CohortActualsMeasured
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.roster import (
    EmployeeChanged,
    EmployeeJoinedRoster,
    EmployeeLeftRoster,
)
from advocacy_shared.envelope import CloudEvent

consumers = EventConsumers("planner")


@consumers.on(OrganisationCreated)
async def provision_organisation(
    session: AsyncSession, fact: OrganisationCreated, _envelope: CloudEvent
) -> None:
    await service.provision_organisation(session, fact)


@consumers.on(CohortActualsMeasured)
async def record_actuals(
    session: AsyncSession, fact: CohortActualsMeasured, envelope: CloudEvent
) -> None:
    await service.record_actuals(session, UUID(envelope.orgid), fact)


@consumers.on(EmployeeJoinedRoster)
async def employee_joined(
    session: AsyncSession, fact: EmployeeJoinedRoster, envelope: CloudEvent
) -> None:
    await service.keep_roster_facts(session, UUID(envelope.orgid), fact)


@consumers.on(EmployeeChanged)
async def employee_changed(
    session: AsyncSession, fact: EmployeeChanged, envelope: CloudEvent
) -> None:
    await service.keep_roster_facts(session, UUID(envelope.orgid), fact)


@consumers.on(EmployeeLeftRoster)
async def employee_left(
    session: AsyncSession, fact: EmployeeLeftRoster, envelope: CloudEvent
) -> None:
    await service.forget_employee(session, UUID(envelope.orgid), fact)


@consumers.on(AmbassadorOnboarded)
async def ambassador_onboarded(
    session: AsyncSession, fact: AmbassadorOnboarded, envelope: CloudEvent
) -> None:
    await service.enrol(session, UUID(envelope.orgid), fact)


@consumers.on(AmbassadorOffboarded)
async def ambassador_offboarded(
    session: AsyncSession, fact: AmbassadorOffboarded, envelope: CloudEvent
) -> None:
    await service.offboard(session, UUID(envelope.orgid), fact)


@consumers.on(AmbassadorErased)
async def ambassador_erased(
    session: AsyncSession, fact: AmbassadorErased, envelope: CloudEvent
) -> None:
    await service.erase(session, UUID(envelope.orgid), fact)
