"""The content service's request handlers: thin, one transaction each (opened by the RPC server)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content import service, suggestions
from advocacy_shared.contracts.content import (
    CHECK_COMPLIANCE,
    CREATE_ITEM,
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
from advocacy_shared.envelope import utc_now
from advocacy_shared.rpc import RpcServer

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
    return await service.get_suggestion(session, request.organisation_id, request.suggestion_id)
