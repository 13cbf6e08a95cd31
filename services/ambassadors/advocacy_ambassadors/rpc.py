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
    RecordTraining,
    RevokeConsent,
)
from advocacy_shared.contracts.linkedin import (
    AUTHORIZE,
    COMPLETE,
    DISCONNECT,
    GET_CONNECTION,
    TOKEN,
    TOKEN_REJECTED,
    AuthorizeLinkedIn,
    CompleteLinkedIn,
    GetLinkedInToken,
    LinkedInAuthorization,
    LinkedInConnection,
    LinkedInConnectionRequest,
    LinkedInToken,
    LinkedInTokenRejected,
)
from advocacy_shared.rpc import RpcServer

server = RpcServer("ambassadors")


class _LinkedIn:
    """The LinkedIn adapter and key ring of this process, set by the app's wiring."""

    wiring: service.LinkedInWiring | None = None

    def __call__(self) -> service.LinkedInWiring:
        if self.wiring is None:
            raise RuntimeError("the ambassadors service's LinkedIn wiring is not set up")
        return self.wiring


linkedin = _LinkedIn()


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


@server.handles(AUTHORIZE)
async def authorize_linkedin(
    session: AsyncSession, request: AuthorizeLinkedIn
) -> LinkedInAuthorization:
    return await service.authorize_linkedin(
        session, linkedin(), request.organisation_id, request.ambassador_id
    )


@server.handles(COMPLETE)
async def complete_linkedin(session: AsyncSession, request: CompleteLinkedIn) -> LinkedInConnection:
    return await service.complete_linkedin(session, server.outbox, linkedin(), request)


@server.handles(GET_CONNECTION)
async def linkedin_connection(
    session: AsyncSession, request: LinkedInConnectionRequest
) -> LinkedInConnection:
    return await service.linkedin_connection(
        session, request.organisation_id, request.ambassador_id
    )


@server.handles(DISCONNECT)
async def disconnect_linkedin(
    session: AsyncSession, request: LinkedInConnectionRequest
) -> LinkedInConnection:
    return await service.disconnect_linkedin(
        session, server.outbox, request.organisation_id, request.ambassador_id
    )


@server.handles(TOKEN)
async def linkedin_token(session: AsyncSession, request: GetLinkedInToken) -> LinkedInToken:
    return await service.linkedin_token(
        session, linkedin(), request.organisation_id, request.ambassador_id, request.purpose
    )


@server.handles(TOKEN_REJECTED)
async def linkedin_token_rejected(
    session: AsyncSession, request: LinkedInTokenRejected
) -> LinkedInConnection:
    return await service.linkedin_token_rejected(
        session, server.outbox, request.organisation_id, request.ambassador_id
    )
