"""The content service's request handlers: the library, compliance and suggestions (thin, one
transaction each), then posts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content import posts, service, suggestions
from advocacy_content.posting import Publisher
from advocacy_content.repository import PostRepository
from advocacy_shared.contracts import ambassadors as ambassador_contracts
from advocacy_shared.contracts.content import (
    CHECK_COMPLIANCE,
    CREATE_ITEM,
    DISMISS_SUGGESTION,
    EDIT_ITEM,
    GET_COMPLIANCE_RULES,
    GET_ITEM,
    GET_SUGGESTION,
    ITEM_HISTORY,
    LIST_ITEMS,
    PREVIEW_SUGGESTIONS,
    PROPOSE_ITEM,
    RETIRE_ITEM,
    REVIEW_ITEM,
    SET_COMPLIANCE_RULES,
    SUBMIT_ITEM,
    SUGGEST,
    CheckCompliance,
    ComplianceReport,
    ComplianceRules,
    ContentItem,
    CreateItem,
    DismissSuggestion,
    EditItem,
    GetComplianceRules,
    GetItem,
    GetItemHistory,
    GetSuggestion,
    ItemHistoryPage,
    ItemPage,
    ListItems,
    PreviewSuggestions,
    ProposeItem,
    RetireItem,
    ReviewItem,
    SetComplianceRules,
    SubmitItem,
    SuggestFor,
    Suggestion,
    SuggestionList,
)
from advocacy_shared.contracts.errors import NotFound
from advocacy_shared.contracts.linkedin import GET_CONNECTION, LinkedInConnectionRequest
from advocacy_shared.contracts.posts import (
    CANCEL_POST,
    CREATE_POST,
    EDIT_POST,
    GET_POST,
    LIST_POSTS,
    REPORT_POST_URL,
    SCHEDULE_POST,
    CreatePost,
    EditPost,
    ListPosts,
    Post,
    PostPage,
    PostRequest,
    ReportPostUrl,
    SchedulePost,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.paging import keyset_page
from advocacy_shared.rpc import RpcClient, RpcServer

server = RpcServer("content")


# --- The library ---------------------------------------------------------------------------------


@server.handles(CREATE_ITEM)
async def create_item(session: AsyncSession, request: CreateItem) -> ContentItem:
    return await service.create_item(session, request.organisation_id, request.item, request.actor)


@server.handles(PROPOSE_ITEM)
async def propose_item(session: AsyncSession, request: ProposeItem) -> ContentItem:
    return await service.propose_item(
        session, request.organisation_id, request.ambassador_id, request.item, request.actor
    )


@server.handles(EDIT_ITEM)
async def edit_item(session: AsyncSession, request: EditItem) -> ContentItem:
    return await service.edit_item(
        session, request.organisation_id, request.item_id, request.changes, request.actor
    )


@server.handles(SUBMIT_ITEM)
async def submit_item(session: AsyncSession, request: SubmitItem) -> ContentItem:
    return await service.submit_item(
        session, request.organisation_id, request.item_id, request.actor
    )


@server.handles(REVIEW_ITEM)
async def review_item(session: AsyncSession, request: ReviewItem) -> ContentItem:
    return await service.review_item(
        session,
        server.outbox,
        request.organisation_id,
        request.item_id,
        request.decision,
        request.note,
        request.actor,
    )


@server.handles(RETIRE_ITEM)
async def retire_item(session: AsyncSession, request: RetireItem) -> ContentItem:
    return await service.retire_item(
        session,
        server.outbox,
        request.organisation_id,
        request.item_id,
        request.note,
        request.actor,
    )


@server.reads(GET_ITEM)
async def get_item(session: AsyncSession, request: GetItem) -> ContentItem:
    return await service.get_item(session, request.organisation_id, request.item_id)


@server.reads(LIST_ITEMS)
async def list_items(session: AsyncSession, request: ListItems) -> ItemPage:
    return await service.list_items(
        session, request.organisation_id, request.status, request.limit, request.after
    )


@server.reads(ITEM_HISTORY)
async def item_history(session: AsyncSession, request: GetItemHistory) -> ItemHistoryPage:
    return await service.item_history(
        session, request.organisation_id, request.item_id, request.limit, request.after
    )


# --- Compliance rules ----------------------------------------------------------------------------


@server.reads(GET_COMPLIANCE_RULES)
async def get_rules(session: AsyncSession, request: GetComplianceRules) -> ComplianceRules:
    return await service.compliance_rules(session, request.organisation_id)


@server.handles(SET_COMPLIANCE_RULES)
async def set_rules(session: AsyncSession, request: SetComplianceRules) -> ComplianceRules:
    return await service.set_compliance_rules(
        session, request.organisation_id, request.rules, request.actor
    )


@server.reads(CHECK_COMPLIANCE)
async def check(session: AsyncSession, request: CheckCompliance) -> ComplianceReport:
    return await service.check_compliance(
        session, request.organisation_id, request.text, list(request.links)
    )


# --- Suggestions ---------------------------------------------------------------------------------


@server.handles(SUGGEST)
async def suggest(session: AsyncSession, request: SuggestFor) -> SuggestionList:
    return await suggestions.suggest_for(
        session, server.outbox, request.organisation_id, request.ambassador_id, utc_now()
    )


@server.reads(PREVIEW_SUGGESTIONS)
async def preview(session: AsyncSession, request: PreviewSuggestions) -> SuggestionList:
    return await suggestions.preview(
        session, request.organisation_id, request.ambassador_id, request.count, utc_now()
    )


@server.reads(GET_SUGGESTION)
async def get_suggestion(session: AsyncSession, request: GetSuggestion) -> Suggestion:
    return await service.get_suggestion(
        session, request.organisation_id, request.suggestion_id, request.ambassador_id
    )


@server.handles(DISMISS_SUGGESTION)
async def dismiss_suggestion(session: AsyncSession, request: DismissSuggestion) -> Suggestion:
    return await suggestions.dismiss(
        session, request.organisation_id, request.suggestion_id, request.ambassador_id
    )


@dataclass
class PostingWiring:
    """The publisher and the way to the ambassadors service, set by the app's wiring."""

    publisher: Publisher
    rpc: Callable[[], RpcClient]

    @property
    def web_base_url(self) -> str:
        return self.publisher.settings.linkedin.web_base_url


class _Posting:
    wiring: PostingWiring | None = None

    def __call__(self) -> PostingWiring:
        if self.wiring is None:
            raise RuntimeError("the content service's posting wiring is not set up")
        return self.wiring


posting_wiring = _Posting()


async def _author(organisation_id: UUID, ambassador_id: UUID) -> posts.Author:
    """The ambassador as the ambassadors service knows them now: a NotFound for an unknown one
    (another organisation's included)."""
    rpc = posting_wiring().rpc()
    ambassador = await rpc.call(
        ambassador_contracts.GET,
        ambassador_contracts.GetAmbassador(
            organisation_id=organisation_id, ambassador_id=ambassador_id
        ),
    )
    connection = await rpc.call(
        GET_CONNECTION,
        LinkedInConnectionRequest(organisation_id=organisation_id, ambassador_id=ambassador_id),
    )
    return posts.Author.of(ambassador, connection)


async def _known_ambassador(organisation_id: UUID, ambassador_id: UUID) -> None:
    unknown = (
        await posting_wiring()
        .rpc()
        .call(
            ambassador_contracts.FIND_UNKNOWN,
            ambassador_contracts.FindUnknownAmbassadors(
                organisation_id=organisation_id, ambassador_ids=[ambassador_id]
            ),
        )
    )
    if unknown.ambassador_ids:
        raise NotFound(f"no ambassador {ambassador_id} in this organisation")


# --- Posts ---------------------------------------------------------------------------------------


@server.handles(CREATE_POST)
async def create_post(session: AsyncSession, request: CreatePost) -> Post:
    author = await _author(request.organisation_id, request.ambassador_id)
    created = await posts.create(session, request, author, posting_wiring().web_base_url)
    posting_wiring().publisher.wake()
    return created


@server.reads(GET_POST)
async def get_post(session: AsyncSession, request: PostRequest) -> Post:
    record = await PostRepository(session, request.organisation_id).get(request.post_id)
    if record is None or request.author_id not in (None, record.ambassador_id):
        raise NotFound(f"no post {request.post_id} in this organisation")
    return posts.view(record, posting_wiring().web_base_url)


async def _own(
    session: AsyncSession, organisation_id: UUID, post_id: UUID, author: UUID | None
) -> None:
    """Self-service: a post that is not the caller's own is not found (as an unknown one)."""
    if author is None:
        return
    record = await PostRepository(session, organisation_id).get(post_id)
    if record is None or record.ambassador_id != author:
        raise NotFound(f"no post {post_id} in this organisation")


@server.reads(LIST_POSTS)
async def list_posts(session: AsyncSession, request: ListPosts) -> PostPage:
    if request.ambassador_id is not None:  # another organisation's ambassador: 404, not []
        await _known_ambassador(request.organisation_id, request.ambassador_id)
    rows = await PostRepository(session, request.organisation_id).page(
        request.ambassador_id, request.post_state, request.limit, request.after
    )
    shown, next_after = keyset_page(rows, request.limit, lambda row: row.id)
    base = posting_wiring().web_base_url
    return PostPage(items=[posts.view(row, base) for row in shown], next_after=next_after)


@server.handles(EDIT_POST)
async def edit_post(session: AsyncSession, request: EditPost) -> Post:
    await _own(session, request.organisation_id, request.post_id, request.author_id)
    edited = await posts.edit(session, request, posting_wiring().web_base_url)
    posting_wiring().publisher.wake()
    return edited


@server.handles(SCHEDULE_POST)
async def schedule_post(session: AsyncSession, request: SchedulePost) -> Post:
    record = await PostRepository(session, request.organisation_id).get(request.post_id)
    if record is None or request.author_id not in (None, record.ambassador_id):
        raise NotFound(f"no post {request.post_id} in this organisation")
    author = await _author(request.organisation_id, record.ambassador_id)
    scheduled = await posts.schedule(session, request, author, posting_wiring().web_base_url)
    posting_wiring().publisher.wake()
    return scheduled


@server.handles(CANCEL_POST)
async def cancel_post(session: AsyncSession, request: PostRequest) -> Post:
    await _own(session, request.organisation_id, request.post_id, request.author_id)
    return await posts.cancel(
        session, request.organisation_id, request.post_id, posting_wiring().web_base_url
    )


@server.handles(REPORT_POST_URL)
async def report_post_url(session: AsyncSession, request: ReportPostUrl) -> Post:
    await _own(session, request.organisation_id, request.post_id, request.author_id)
    return await posts.report_url(session, server.outbox, request, posting_wiring().web_base_url)
