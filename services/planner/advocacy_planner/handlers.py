"""The planner's event subscriptions: tenants, the roster and its groups, enrolment, erasure and
actuals."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.service import groups, phases, playbook, recruitment
from advocacy_shared.consumers import EventConsumers
from advocacy_shared.contracts.ambassadors import (
    AmbassadorErased,
    AmbassadorOffboarded,
    AmbassadorOnboarded,
    AmbassadorProfileChanged,
)
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.invitations import InvitationDeclined, InvitationIssued
from advocacy_shared.contracts.metrics import CohortActualsMeasured
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.roster import (
    EmployeeChanged,
    EmployeeJoinedGroup,
    EmployeeJoinedRoster,
    EmployeeLeftGroup,
    EmployeeLeftRoster,
    RosterGroupChanged,
    RosterGroupDeleted,
)
from advocacy_shared.envelope import CloudEvent

consumers = EventConsumers("planner")


@consumers.on(OrganisationCreated)
async def provision_organisation(
    session: AsyncSession, fact: OrganisationCreated, _envelope: CloudEvent
) -> None:
    await playbook.provision_organisation(session, fact)


@consumers.on(CohortActualsMeasured)
async def record_actuals(
    session: AsyncSession, fact: CohortActualsMeasured, envelope: CloudEvent
) -> None:
    await phases.record_actuals(session, UUID(envelope.orgid), fact)


async def _roster_changed(session: AsyncSession, organisation_id: UUID, fact: EventData) -> None:
    if isinstance(fact, EmployeeJoinedRoster | EmployeeChanged):
        await recruitment.keep_roster_facts(session, organisation_id, fact)
    elif isinstance(fact, EmployeeLeftRoster):
        await recruitment.forget_employee(session, organisation_id, fact)
    elif isinstance(fact, AmbassadorOnboarded):
        await recruitment.enrol(session, organisation_id, fact)
    elif isinstance(fact, InvitationIssued):
        await recruitment.invited(session, organisation_id, fact)
    elif isinstance(fact, InvitationDeclined):
        await recruitment.declined(session, organisation_id, fact)
    elif isinstance(fact, AmbassadorProfileChanged):
        await recruitment.track_leadership(session, organisation_id, fact)
    elif isinstance(fact, AmbassadorOffboarded):
        await recruitment.offboard(session, organisation_id, fact)
    elif isinstance(fact, AmbassadorErased):
        await recruitment.erase(session, organisation_id, fact)
    else:
        await _groups_changed(session, organisation_id, fact)


async def _groups_changed(session: AsyncSession, organisation_id: UUID, fact: EventData) -> None:
    if isinstance(fact, RosterGroupChanged):
        await groups.keep_group(session, organisation_id, fact)
    elif isinstance(fact, RosterGroupDeleted):
        await groups.group_deleted(session, organisation_id, fact)
    elif isinstance(fact, EmployeeJoinedGroup):
        await groups.joined_group(session, organisation_id, fact)
    elif isinstance(fact, EmployeeLeftGroup):
        await groups.left_group(session, organisation_id, fact)


@consumers.on_every_event_of("ambassadors")
async def people(session: AsyncSession, fact: EventData, envelope: CloudEvent) -> None:
    """Roster and enrolment copies, from one consumer so that they apply in publication order
    (an employee who joins and leaves must not come back because two consumers raced)."""
    await _roster_changed(session, UUID(envelope.orgid), fact)
