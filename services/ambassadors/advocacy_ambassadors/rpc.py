"""The ambassadors service's request handlers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_ambassadors.repository import AmbassadorRepository, InvitationRepository
from advocacy_ambassadors.service import groups, invitations, journey, linkedin, roster, states
from advocacy_shared.contracts.ambassadors import (
    CHANGE_ACTIVITY,
    CONSENT_HISTORY,
    ERASE,
    FIND_UNKNOWN,
    GET,
    GRANT_CONSENT,
    INVITE,
    LIST,
    OFFBOARD,
    RECORD_TRAINING,
    REVOKE_CONSENT,
    UPDATE_PROFILE,
    Ambassador,
    AmbassadorPage,
    ChangeActivity,
    ConsentHistory,
    ConsentHistoryRequest,
    EraseAmbassador,
    Erased,
    FindUnknownAmbassadors,
    GetAmbassador,
    GrantConsent,
    InviteAmbassador,
    ListAmbassadors,
    OffboardAmbassador,
    RecordTraining,
    RevokeConsent,
    UnknownAmbassadors,
    UpdateProfile,
)
from advocacy_shared.contracts.invitations import (
    ANSWER_INVITATION,
    CLAIM_INVITATION,
    CONNECT_LINKEDIN,
    ISSUE_INVITATION,
    LIST_CONSENT_TEXTS,
    LIST_INVITATIONS,
    OPEN_INVITATION,
    PUBLISH_CONSENT_TEXT,
    REVOKE_INVITATION,
    AnswerInvitation,
    ClaimedInvitation,
    ClaimInvitation,
    ConnectLinkedInByInvitation,
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
from advocacy_shared.contracts.roster import (
    CREATE_GROUP,
    DELETE_EMPLOYEE,
    DELETE_GROUP,
    GET_EMPLOYEE,
    GET_GROUP,
    LIST_EMPLOYEES,
    LIST_GROUPS,
    PATCH_EMPLOYEE,
    PATCH_GROUP,
    PROVISION_EMPLOYEE,
    REPLACE_EMPLOYEE,
    REPLACE_GROUP,
    CreateGroup,
    DeleteEmployee,
    DeleteGroup,
    Employee,
    EmployeeDeleted,
    EmployeeList,
    GetEmployee,
    GetGroup,
    Group,
    GroupDeleted,
    GroupList,
    ListEmployees,
    ListGroups,
    PatchEmployee,
    PatchGroup,
    ProvisionEmployee,
    ReplaceEmployee,
    ReplaceGroup,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.paging import keyset_page
from advocacy_shared.rpc import RpcServer, Transaction

server = RpcServer("ambassadors")


class _LinkedIn:
    """The LinkedIn adapter and key ring of this process, set by the app's wiring."""

    wiring: linkedin.LinkedInWiring | None = None

    def __call__(self) -> linkedin.LinkedInWiring:
        if self.wiring is None:
            raise RuntimeError("the ambassadors service's LinkedIn wiring is not set up")
        return self.wiring


linkedin_wiring = _LinkedIn()


# --- The onboarding journey ----------------------------------------------------------------------


@server.handles(INVITE)
async def invite(session: AsyncSession, request: InviteAmbassador) -> Ambassador:
    return await journey.invite(session, request)


@server.reads(GET)
async def get(session: AsyncSession, request: GetAmbassador) -> Ambassador:
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    return await journey.view(
        ambassadors, await states.existing(ambassadors, request.ambassador_id)
    )


@server.reads(FIND_UNKNOWN)
async def find_unknown(
    session: AsyncSession, request: FindUnknownAmbassadors
) -> UnknownAmbassadors:
    known = await AmbassadorRepository(session, request.organisation_id).known(
        request.ambassador_ids
    )
    unknown = [i for i in dict.fromkeys(request.ambassador_ids) if i not in known]
    return UnknownAmbassadors(ambassador_ids=unknown)


@server.reads(LIST)
async def list_ambassadors(session: AsyncSession, request: ListAmbassadors) -> AmbassadorPage:
    ambassadors = AmbassadorRepository(session, request.organisation_id)
    rows = await ambassadors.page(request.limit, request.after, request.leadership)
    shown, next_after = keyset_page(rows, request.limit, lambda row: row.id)
    return AmbassadorPage(
        items=[await journey.view(ambassadors, row) for row in shown], next_after=next_after
    )


@server.handles(GRANT_CONSENT)
async def grant_consent(session: AsyncSession, request: GrantConsent) -> Ambassador:
    return await journey.grant_consent(session, server.outbox, request)


@server.handles(REVOKE_CONSENT)
async def revoke_consent(session: AsyncSession, request: RevokeConsent) -> Ambassador:
    return await journey.revoke_consent(
        session,
        server.outbox,
        request.organisation_id,
        request.ambassador_id,
        request.recorded_by,
    )


@server.reads(CONSENT_HISTORY)
async def consent_history(session: AsyncSession, request: ConsentHistoryRequest) -> ConsentHistory:
    return await journey.consent_history(session, request.organisation_id, request.ambassador_id)


@server.handles(RECORD_TRAINING)
async def record_training(session: AsyncSession, request: RecordTraining) -> Ambassador:
    return await journey.record_training(
        session,
        server.outbox,
        request.organisation_id,
        request.ambassador_id,
        request.enablement_format,
    )


@server.handles(UPDATE_PROFILE)
async def update_profile(session: AsyncSession, request: UpdateProfile) -> Ambassador:
    return await journey.update_profile(session, server.outbox, request)


@server.handles(CHANGE_ACTIVITY)
async def change_activity(session: AsyncSession, request: ChangeActivity) -> Ambassador:
    return await journey.change_activity(session, server.outbox, request)


@server.handles(OFFBOARD)
async def offboard(session: AsyncSession, request: OffboardAmbassador) -> Ambassador:
    return await journey.offboard(
        session, server.outbox, request.organisation_id, request.ambassador_id, request.reason
    )


@server.handles(ERASE)
async def erase(session: AsyncSession, request: EraseAmbassador) -> Erased:
    return await journey.erase(
        session, server.outbox, request.organisation_id, request.ambassador_id
    )


# --- Invitations and consent texts ---------------------------------------------------------------


@server.handles(PUBLISH_CONSENT_TEXT)
async def publish_consent_text(session: AsyncSession, request: PublishConsentText) -> ConsentText:
    return await invitations.publish_consent_text(session, request)


@server.reads(LIST_CONSENT_TEXTS)
async def list_consent_texts(session: AsyncSession, request: ListConsentTexts) -> ConsentTexts:
    return await invitations.consent_texts(session, request.organisation_id)


@server.handles(ISSUE_INVITATION)
async def issue_invitation(session: AsyncSession, request: IssueInvitation) -> IssuedInvitation:
    return await invitations.issue_invitation(session, server.outbox, request)


@server.reads(LIST_INVITATIONS)
async def list_invitations(session: AsyncSession, request: ListInvitations) -> InvitationPage:
    repository = InvitationRepository(session, request.organisation_id)
    rows = await repository.page(request.limit, request.after, request.status)
    shown, next_after = keyset_page(rows, request.limit, lambda row: row.id)
    return InvitationPage(
        items=[invitations.invitation_view(row) for row in shown], next_after=next_after
    )


@server.handles(REVOKE_INVITATION)
async def revoke_invitation(session: AsyncSession, request: RevokeInvitation) -> Invitation:
    return await invitations.revoke_invitation(
        session, request.organisation_id, request.invitation_id
    )


@server.handles(CONNECT_LINKEDIN)
async def connect_linkedin(
    session: AsyncSession, request: ConnectLinkedInByInvitation
) -> LinkedInAuthorization:
    return await invitations.connect_linkedin(
        session, linkedin_wiring(), request.token, request.browser_binding
    )


@server.handles(OPEN_INVITATION)
async def open_invitation(session: AsyncSession, request: OpenInvitation) -> InvitationForEmployee:
    return await invitations.open_invitation(session, request.token)


@server.reads(CLAIM_INVITATION)
async def claim_invitation(session: AsyncSession, request: ClaimInvitation) -> ClaimedInvitation:
    return await invitations.claim_invitation(session, request)


@server.handles(ANSWER_INVITATION)
async def answer_invitation(session: AsyncSession, request: AnswerInvitation) -> Invitation:
    return await invitations.answer_invitation(session, server.outbox, request)


# --- The LinkedIn connection ---------------------------------------------------------------------


@server.handles(AUTHORIZE)
async def authorize_linkedin(
    session: AsyncSession, request: AuthorizeLinkedIn
) -> LinkedInAuthorization:
    return await linkedin.authorize_linkedin(
        session, linkedin_wiring(), request.organisation_id, request.ambassador_id
    )


@server.handles_in_steps(COMPLETE)
async def complete_linkedin(
    transaction: Transaction, request: CompleteLinkedIn
) -> LinkedInConnection:
    """In three steps, so that no database connection waits on LinkedIn: check the callback,
    exchange the code, store the connection."""
    now = utc_now()
    async with transaction() as session:
        callback = await linkedin.check_callback(session, request, now)
    grant, member = await linkedin.exchange_code(linkedin_wiring(), callback)
    async with transaction() as session:
        return await linkedin.store_connection(
            session, server.outbox, linkedin_wiring(), callback, grant, member, now
        )


@server.handles(GET_CONNECTION)
async def linkedin_connection(
    session: AsyncSession, request: LinkedInConnectionRequest
) -> LinkedInConnection:
    return await linkedin.linkedin_connection(
        session, request.organisation_id, request.ambassador_id
    )


@server.handles(DISCONNECT)
async def disconnect_linkedin(
    session: AsyncSession, request: LinkedInConnectionRequest
) -> LinkedInConnection:
    return await linkedin.disconnect_linkedin(
        session, server.outbox, request.organisation_id, request.ambassador_id
    )


@server.handles(TOKEN)
async def linkedin_token(session: AsyncSession, request: GetLinkedInToken) -> LinkedInToken:
    return await linkedin.linkedin_token(
        session, linkedin_wiring(), request.organisation_id, request.ambassador_id, request.purpose
    )


@server.handles(TOKEN_REJECTED)
async def linkedin_token_rejected(
    session: AsyncSession, request: LinkedInTokenRejected
) -> LinkedInConnection:
    return await linkedin.linkedin_token_rejected(
        session, server.outbox, request.organisation_id, request.ambassador_id
    )


# --- The roster (SCIM Users) ---------------------------------------------------------------------


@server.handles(PROVISION_EMPLOYEE)
async def provision_employee(session: AsyncSession, request: ProvisionEmployee) -> Employee:
    return await roster.provision_employee(session, server.outbox, request)


@server.handles(GET_EMPLOYEE)
async def get_employee(session: AsyncSession, request: GetEmployee) -> Employee:
    return await roster.get_employee(session, request.organisation_id, request.employee_id)


@server.handles(LIST_EMPLOYEES)
async def list_employees(session: AsyncSession, request: ListEmployees) -> EmployeeList:
    return await roster.list_employees(session, request)


@server.handles(REPLACE_EMPLOYEE)
async def replace_employee(session: AsyncSession, request: ReplaceEmployee) -> Employee:
    return await roster.replace_employee(session, server.outbox, request)


@server.handles(PATCH_EMPLOYEE)
async def patch_employee(session: AsyncSession, request: PatchEmployee) -> Employee:
    return await roster.patch_employee(session, server.outbox, request)


@server.handles(DELETE_EMPLOYEE)
async def delete_employee(session: AsyncSession, request: DeleteEmployee) -> EmployeeDeleted:
    return await roster.delete_employee(
        session,
        server.outbox,
        request.organisation_id,
        request.employee_id,
        expected_version=request.expected_version,
    )


@server.handles(CREATE_GROUP)
async def create_group(session: AsyncSession, request: CreateGroup) -> Group:
    return await groups.create_group(session, server.outbox, request)


@server.handles(GET_GROUP)
async def get_group(session: AsyncSession, request: GetGroup) -> Group:
    return await groups.get_group(
        session, request.organisation_id, request.group_id, request.with_members
    )


@server.handles(LIST_GROUPS)
async def list_groups(session: AsyncSession, request: ListGroups) -> GroupList:
    return await groups.list_groups(session, request)


@server.handles(REPLACE_GROUP)
async def replace_group(session: AsyncSession, request: ReplaceGroup) -> Group:
    return await groups.replace_group(session, server.outbox, request)


@server.handles(PATCH_GROUP)
async def patch_group(session: AsyncSession, request: PatchGroup) -> Group:
    return await groups.patch_group(session, server.outbox, request)


@server.handles(DELETE_GROUP)
async def delete_group(session: AsyncSession, request: DeleteGroup) -> GroupDeleted:
    return await groups.delete_group(session, server.outbox, request)
