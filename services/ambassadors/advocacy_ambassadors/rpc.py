"""The ambassadors service's request handlers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors import service
from advocacy_ambassadors.repository import AmbassadorRepository
from advocacy_shared.contracts.ambassadors import (
    ERASE,
    GET,
    GRANT_CONSENT,
    INVITE,
    LIST,
    OFFBOARD,
    RECORD_TRAINING,
    REVOKE_CONSENT,
    Ambassador,
    AmbassadorPage,
    EraseAmbassador,
    Erased,
    GetAmbassador,
    GrantConsent,
    InviteAmbassador,
    ListAmbassadors,
    OffboardAmbassador,
    RecordTraining,
    RevokeConsent,
)
from advocacy_shared.contracts.roster import (
    DELETE_EMPLOYEE,
    GET_EMPLOYEE,
    LIST_EMPLOYEES,
    PATCH_EMPLOYEE,
    PROVISION_EMPLOYEE,
    REPLACE_EMPLOYEE,
    DeleteEmployee,
    Employee,
    EmployeeDeleted,
    EmployeeList,
    GetEmployee,
    ListEmployees,
    PatchEmployee,
    ProvisionEmployee,
    ReplaceEmployee,
)
from advocacy_shared.rpc import RpcServer

server = RpcServer("ambassadors")


@server.handles(INVITE)
async def invite(session: AsyncSession, request: InviteAmbassador) -> Ambassador:
    return await service.invite(session, request)


@server.handles(GET)
async def get(session: AsyncSession, request: GetAmbassador) -> Ambassador:
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    return await service.view(
        ambassadors, await service.existing(ambassadors, request.ambassador_id)
    )


@server.handles(LIST)
async def list_ambassadors(session: AsyncSession, request: ListAmbassadors) -> AmbassadorPage:
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    rows = await ambassadors.page(request.limit, request.after, request.leadership)
    shown = rows[: request.limit]
    return AmbassadorPage(
        items=[await service.view(ambassadors, row) for row in shown],
        next_after=shown[-1].id if len(rows) > request.limit else None,
    )


@server.handles(GRANT_CONSENT)
async def grant_consent(session: AsyncSession, request: GrantConsent) -> Ambassador:
    return await service.grant_consent(session, server.outbox, request)


@server.handles(REVOKE_CONSENT)
async def revoke_consent(session: AsyncSession, request: RevokeConsent) -> Ambassador:
    return await service.revoke_consent(
        session, server.outbox, request.organisation_id, request.ambassador_id
    )


@server.handles(ERASE)
async def erase(session: AsyncSession, request: EraseAmbassador) -> Erased:
    return await service.erase(
        session, server.outbox, request.organisation_id, request.ambassador_id
    )


@server.handles(RECORD_TRAINING)
async def record_training(session: AsyncSession, request: RecordTraining) -> Ambassador:
    return await service.record_training(
        session,
        server.outbox,
        request.organisation_id,
        request.ambassador_id,
        request.enablement_format,
    )


@server.handles(OFFBOARD)
async def offboard(session: AsyncSession, request: OffboardAmbassador) -> Ambassador:
    return await service.offboard(
        session, server.outbox, request.organisation_id, request.ambassador_id, request.reason
    )


@server.handles(PROVISION_EMPLOYEE)
async def provision_employee(session: AsyncSession, request: ProvisionEmployee) -> Employee:
    return await service.provision_employee(session, server.outbox, request)


@server.handles(GET_EMPLOYEE)
async def get_employee(session: AsyncSession, request: GetEmployee) -> Employee:
    return await service.get_employee(session, request.organisation_id, request.employee_id)


@server.handles(LIST_EMPLOYEES)
async def list_employees(session: AsyncSession, request: ListEmployees) -> EmployeeList:
    return await service.list_employees(session, request)


@server.handles(REPLACE_EMPLOYEE)
async def replace_employee(session: AsyncSession, request: ReplaceEmployee) -> Employee:
    return await service.replace_employee(session, server.outbox, request)


@server.handles(PATCH_EMPLOYEE)
async def patch_employee(session: AsyncSession, request: PatchEmployee) -> Employee:
    return await service.patch_employee(session, server.outbox, request)


@server.handles(DELETE_EMPLOYEE)
async def delete_employee(session: AsyncSession, request: DeleteEmployee) -> EmployeeDeleted:
    return await service.delete_employee(
        session, server.outbox, request.organisation_id, request.employee_id
    )
