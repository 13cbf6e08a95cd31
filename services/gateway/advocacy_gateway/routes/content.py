"""The content library, its approval workflow, the compliance rules and the ambassadors'
suggestions, forwarded to the content service (docs/content.md).

An item moves draft → in review → approved → retired (a rejected item back to draft); approving
needs `content.approve`. A text that breaks a compliance rule is a 422 whose detail names the
rule and whose `context.violations` lists every one.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from advocacy_gateway.access import Permission
from advocacy_gateway.routes.common import COMMON_PROBLEMS, CONFLICT, SERVICE_PROBLEMS
from advocacy_gateway.routes.forward import BY_ID, BY_NUMBER, actor, get, mount, post, put
from advocacy_gateway.routes.me import only_own, own_if_ambassador
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
    ComplianceRuleFields,
    ItemChanges,
    ItemFields,
    ItemStatus,
    Url,
)

READ, MANAGE = Permission.CONTENT_READ, Permission.CONTENT_MANAGE
ITEM = "/content/{item_id}"
BY_CALLER = {"actor": actor}


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, max_length=2000, description="Kept in the history")


class Retirement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000, description="Kept in the history")


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ambassador_id: UUID = Field(description="The ambassador proposing it")
    item: ItemFields


class TextToCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=3400)
    links: list[Url] = Field(default_factory=list, max_length=20)


StatusFilter = Annotated[ItemStatus | None, Query(description="Only items in this status")]
PreviewCount = Annotated[
    int | None, Query(ge=1, le=50, description="How many; the ambassador's cadence by default")
]

# One route a line (or three): a table reads better unformatted.
# fmt: off
ROUTES = [
    # --- The library and its approval workflow ---
    post("/content", CREATE_ITEM, MANAGE, "create_content_item",
         "Add a library item as a draft", body=ItemFields, body_as="item", status_code=201,
         from_caller=BY_CALLER, location="/api/v1/orgs/{org_id}/content/{reply.id}"),
    post("/content/proposals", PROPOSE_ITEM, Permission.CONTENT_PROPOSE, "propose_content_item",
         "An ambassador proposes an item: checked against the compliance rules, then in review",
         body=Proposal, status_code=201, from_caller=BY_CALLER, check=only_own,
         location="/api/v1/orgs/{org_id}/content/{reply.id}"),
    get("/content", LIST_ITEMS, READ, "list_content_items", "The library, by status",
        paging=BY_ID, params={"status": StatusFilter}),
    get(ITEM, GET_ITEM, READ, "get_content_item", "One library item"),
    put(ITEM, EDIT_ITEM, MANAGE, "edit_content_item",
        "Change a draft (fields left out keep their value)", body=ItemChanges,
        body_as="changes", from_caller=BY_CALLER, responses=CONFLICT),
    post(ITEM + "/submit", SUBMIT_ITEM, MANAGE, "submit_content_item",
         "Submit a draft for review: refused (422, naming the rule) if it breaks a compliance rule",
         from_caller=BY_CALLER, responses=CONFLICT),
    post(ITEM + "/review", REVIEW_ITEM, Permission.CONTENT_APPROVE, "review_content_item",
         "Approve an item in review (the rules are checked again) or send it back to draft",
         body=Review, from_caller=BY_CALLER, responses=CONFLICT),
    post(ITEM + "/retire", RETIRE_ITEM, MANAGE, "retire_content_item",
         "Retire an item: no longer suggested", body=Retirement, from_caller=BY_CALLER,
         responses=CONFLICT),
    get(ITEM + "/history", ITEM_HISTORY, READ, "content_item_history",
        "The item's kept history: every step, who took it and the item as it then was",
        paging=BY_NUMBER),
    # --- Compliance rules ---
    get("/compliance/rules", GET_COMPLIANCE_RULES, READ, "get_compliance_rules",
        "The organisation's compliance rules (disclosure, blocked phrases, allowed link domains)"),
    put("/compliance/rules", SET_COMPLIANCE_RULES, MANAGE, "set_compliance_rules",
        "Replace the compliance rules; items and posts are checked against them",
        body=ComplianceRuleFields, body_as="rules", from_caller=BY_CALLER),
    post("/compliance/check", CHECK_COMPLIANCE, READ, "check_compliance",
         "Check a text and its links against the rules: every violation, in words",
         body=TextToCheck),
    # --- Suggestions ---
    get("/ambassadors/{ambassador_id}/suggestions", SUGGEST, Permission.SUGGESTIONS_READ,
        "ambassador_suggestions",
        "Today's ranked suggestions, each explained (prepared daily, then the same list); an "
        "ambassador-role user reaches only their own", check=only_own),
    get("/ambassadors/{ambassador_id}/suggestions/preview", PREVIEW_SUGGESTIONS, MANAGE,
        "preview_suggestions",
        "For program managers: what the ranking would suggest now (nothing kept or sent)",
        params={"count": PreviewCount}),
    get("/suggestions/{suggestion_id}", GET_SUGGESTION, Permission.SUGGESTIONS_READ,
        "get_suggestion", "One suggestion with its explanation",
        from_caller={"ambassador_id": own_if_ambassador}),
]
# fmt: on

router = mount(
    APIRouter(
        prefix="/api/v1/orgs/{org_id}",
        tags=["content"],
        responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS},
    ),
    ROUTES,
)
