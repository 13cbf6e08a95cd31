"""The ambassadors service's request handlers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors import service
from advocacy_ambassadors.repository import AmbassadorRepository, InvitationRepository
from advocacy_shared.contracts.ambassadors import (
    CHANGE_ACTIVITY,
    ERASE,
    GET,
    GRANT_CONSENT,
    INVITE,
    LIST,
    RECORD_TRAINING,
    REVOKE_CONSENT,
    UPDATE_PROFILE,
    Ambassador,
    AmbassadorPage,
    ChangeActivity,
    EraseAmbassador,
    Erased,
    GetAmbassador,
    GrantConsent,
    InviteAmbassador,
    ListAmbassadors,
    RecordTraining,
    RevokeConsent,
    UpdateProfile,
)
from advocacy_shared.contracts.invitations import (
    ANSWER_INVITATION,
    ISSUE_INVITATION,
    LIST_CONSENT_TEXTS,
    LIST_INVITATIONS,
    OPEN_INVITATION,
    PUBLISH_CONSENT_TEXT,
    REVOKE_INVITATION,
    AnswerInvitation,
    ConsentText,
    ConsentTexts,
    Invitation,
    InvitationForEmployee,
    InvitationPage,
    IssuedInvitation,
    IssueInvitation,
    ListConsentTexts,
    ListInvitations,
    OpenInvitation,
    PublishConsentText,
    RevokeInvitation,
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


@server.handles(PUBLISH_CONSENT_TEXT)
async def publish_consent_text(session: AsyncSession, request: PublishConsentText) -> ConsentText:
    return await service.publish_consent_text(session, request)


@server.handles(LIST_CONSENT_TEXTS)
async def list_consent_texts(session: AsyncSession, request: ListConsentTexts) -> ConsentTexts:
    return await service.consent_texts(session, request.organisation_id)


@server.handles(ISSUE_INVITATION)
async def issue_invitation(session: AsyncSession, request: IssueInvitation) -> IssuedInvitation:
    return await service.issue_invitation(session, server.outbox, request)


@server.handles(LIST_INVITATIONS)
async def list_invitations(session: AsyncSession, request: ListInvitations) -> InvitationPage:
    invitations = InvitationRepository(session, request.organisation_id)
    rows = await invitations.page(request.limit, request.after, request.status)
    shown = rows[: request.limit]
    return InvitationPage(
        items=[service.invitation_view(row) for row in shown],
        next_after=shown[-1].id if len(rows) > request.limit else None,
    )


@server.handles(REVOKE_INVITATION)
async def revoke_invitation(session: AsyncSession, request: RevokeInvitation) -> Invitation:
    return await service.revoke_invitation(session, request.organisation_id, request.invitation_id)


@server.handles(OPEN_INVITATION)
async def open_invitation(session: AsyncSession, request: OpenInvitation) -> InvitationForEmployee:
    return await service.open_invitation(session, request.token)


@server.handles(ANSWER_INVITATION)
async def answer_invitation(session: AsyncSession, request: AnswerInvitation) -> Invitation:
    return await service.answer_invitation(session, server.outbox, request)


@server.handles(UPDATE_PROFILE)
async def update_profile(session: AsyncSession, request: UpdateProfile) -> Ambassador:
    return await service.update_profile(session, server.outbox, request)


@server.handles(CHANGE_ACTIVITY)
async def change_activity(session: AsyncSession, request: ChangeActivity) -> Ambassador:
    return await service.change_activity(session, server.outbox, request)
