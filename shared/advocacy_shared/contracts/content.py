"""Facts of the content service that other services act on.

`PostPublished` is the metrics service's list of posts to measure: a post the content service
published through the LinkedIn adapter, or a post an ambassador or manager recorded by its URL
(written outside the platform). `PostWithdrawn` ends the measuring of a post (deleted on
LinkedIn, withdrawn by its author, or its author erased).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from advocacy_shared.contracts.ambassadors import Segment
from advocacy_shared.contracts.base import (
    EventData,
    Operation,
    RpcReply,
    RpcRequest,
    event,
)
from advocacy_shared.contracts.limits import Key, Language, Topic

PostSource = Literal["scheduled", "manual"]
"""`scheduled`: posted by the platform through the adapter; `manual`: recorded by its URL."""


@event("content", "post", "published", 1)
class PostPublished(EventData):
    """A post by an ambassador is live on LinkedIn."""

    post_id: UUID = Field(description="The content service's id of the post")
    ambassador_id: UUID
    program_id: UUID | None = None
    content_item_id: UUID | None = Field(
        default=None, description="The library item the post came from, if any"
    )
    suggestion_id: UUID | None = Field(
        default=None, description="The suggestion the ambassador accepted, if any"
    )
    discipline: Key | None = Field(default=None, description="Discipline key from the playbook")
    leadership: bool = Field(description="The author is on the leadership track")
    language: Language | None = None
    topics: list[Topic] = Field(default_factory=list, max_length=50)
    linkedin_post_urn: str | None = Field(
        default=None, max_length=200, description="urn:li:share:… or urn:li:ugcPost:…"
    )
    post_url: str | None = Field(default=None, max_length=2000)
    source: PostSource
    published_at: datetime


@event("content", "post", "withdrawn", 1)
class PostWithdrawn(EventData):
    """A post is no longer measured: deleted on LinkedIn, withdrawn, or its author erased."""

    post_id: UUID
    ambassador_id: UUID
    reason: Literal["deleted", "withdrawn", "author_erased"]
    withdrawn_at: datetime


# --- The library, its approval workflow and the compliance rules ----------------------------------
# Requests are answered by the content service (`advocacy.rpc.content.*`); the rules and the
# ranking are documented in docs/content.md.

ItemKind = Literal["customer_case", "industry_theme", "vacancy", "vision", "company_news", "event"]
ItemStatus = Literal["draft", "in_review", "approved", "retired"]
"""draft → in review → approved → retired; a rejected item goes back to draft."""

ITEM_BODY_CHARS = 3000  # a LinkedIn post's commentary holds 3,000 characters
URL_CHARS = 2000
Url = Annotated[str, StringConstraints(min_length=8, max_length=URL_CHARS, pattern=r"^https?://")]
Phrase = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Domain = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemFields(_Model):
    """What a library item says and whom it is for."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(
        default="", max_length=ITEM_BODY_CHARS, description="The text or a summary to start from"
    )
    link: Url | None = None
    kind: ItemKind
    disciplines: list[Key] = Field(
        default_factory=list, max_length=10, description="Discipline keys from the playbook"
    )
    topics: list[Topic] = Field(default_factory=list, max_length=20)
    language: Language = Field(default="da", min_length=2)
    segments: list[Segment] = Field(
        default_factory=list, max_length=4, description="Audience segments; empty: everyone"
    )
    publish_from: datetime | None = Field(default=None, description="Not suggested before")
    expires_at: datetime | None = Field(default=None, description="Not suggested from then on")

    @model_validator(mode="after")
    def _window_in_order(self) -> ItemFields:
        if self.publish_from and self.expires_at and self.expires_at <= self.publish_from:
            raise ValueError("expires_at is not after publish_from")
        return self


class ItemChanges(_Model):
    """What to change in a draft; fields left out keep their value."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=ITEM_BODY_CHARS)
    link: Url | None = None
    kind: ItemKind | None = None
    disciplines: list[Key] | None = Field(default=None, max_length=10)
    topics: list[Topic] | None = Field(default=None, max_length=20)
    language: Language | None = Field(default=None, min_length=2)
    segments: list[Segment] | None = Field(default=None, max_length=4)
    publish_from: datetime | None = None
    expires_at: datetime | None = None


class ContentItem(RpcReply):
    id: UUID
    organisation_id: UUID
    title: str
    body: str
    link: str | None
    kind: ItemKind
    disciplines: list[str]
    topics: list[str]
    language: str
    segments: list[Segment]
    publish_from: datetime | None
    expires_at: datetime | None
    status: ItemStatus
    proposed_by_ambassador: UUID | None = Field(description="Set when an ambassador proposed it")
    revision: int = Field(description="1, then one more with every change of text or status")
    created_by: str
    created_at: datetime
    updated_at: datetime


class CreateItem(RpcRequest):
    organisation_id: UUID
    item: ItemFields
    actor: str = Field(min_length=1, max_length=300)


class ProposeItem(RpcRequest):
    """An ambassador proposes an item: it is checked against the rules and enters review."""

    organisation_id: UUID
    ambassador_id: UUID
    item: ItemFields
    actor: str = Field(min_length=1, max_length=300)


class EditItem(RpcRequest):
    organisation_id: UUID
    item_id: UUID
    changes: ItemChanges
    actor: str = Field(min_length=1, max_length=300)


class SubmitItem(RpcRequest):
    organisation_id: UUID
    item_id: UUID
    actor: str = Field(min_length=1, max_length=300)


class ReviewItem(RpcRequest):
    organisation_id: UUID
    item_id: UUID
    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, max_length=2000)
    actor: str = Field(min_length=1, max_length=300)


class RetireItem(RpcRequest):
    organisation_id: UUID
    item_id: UUID
    note: str | None = Field(default=None, max_length=2000)
    actor: str = Field(min_length=1, max_length=300)


class GetItem(RpcRequest):
    organisation_id: UUID
    item_id: UUID


class ListItems(RpcRequest):
    organisation_id: UUID
    status: ItemStatus | None = None
    limit: int = Field(default=50, ge=1, le=200)
    after: UUID | None = None


class ItemPage(RpcReply):
    items: list[ContentItem]
    next_after: UUID | None


class ItemHistoryEntry(RpcReply):
    """One step of an item's kept history: who did what, when, and the item as it then was."""

    number: int
    action: Literal["created", "proposed", "edited", "submitted", "approved", "rejected", "retired"]
    from_status: ItemStatus | None
    to_status: ItemStatus
    actor: str
    note: str | None
    revision: int
    snapshot: ItemFields
    at: datetime


class GetItemHistory(RpcRequest):
    organisation_id: UUID
    item_id: UUID
    limit: int = Field(default=50, ge=1, le=200)
    after: int | None = Field(default=None, ge=0)


class ItemHistoryPage(RpcReply):
    items: list[ItemHistoryEntry]
    next_after: int | None


class ComplianceRuleFields(_Model):
    """An organisation's rules for every item and every post."""

    required_disclosure: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Text every item and post must contain, e.g. '#ad' or '#medarbejder'",
    )
    blocked_phrases: list[Phrase] = Field(
        default_factory=list, max_length=200, description="Words or phrases never allowed"
    )
    allowed_link_domains: list[Domain] = Field(
        default_factory=list,
        max_length=100,
        description="Links must point to one of these domains or their subdomains; empty: any",
    )


class ComplianceRules(RpcReply):
    organisation_id: UUID
    required_disclosure: str | None
    blocked_phrases: list[str]
    allowed_link_domains: list[str]
    version: int = Field(description="0 before any rule was set")
    updated_by: str | None
    updated_at: datetime | None


class GetComplianceRules(RpcRequest):
    organisation_id: UUID


class SetComplianceRules(RpcRequest):
    organisation_id: UUID
    rules: ComplianceRuleFields
    actor: str = Field(min_length=1, max_length=300)


ComplianceRule = Literal["required_disclosure", "blocked_phrase", "link_domain"]


class Violation(RpcReply):
    """One broken compliance rule, in words."""

    rule: ComplianceRule
    message: str
    value: str | None = Field(description="The phrase, disclosure or link concerned")


class CheckCompliance(RpcRequest):
    organisation_id: UUID
    text: str = Field(max_length=ITEM_BODY_CHARS + 400)
    links: list[Url] = Field(default_factory=list, max_length=20)


class ComplianceReport(RpcReply):
    ok: bool
    violations: list[Violation]


# --- Suggestions ---------------------------------------------------------------------------------

Signal = Literal[
    "discipline_fit",
    "topic_match",
    "language",
    "freshness",
    "objective_priority",
    "learned_performance",
    "diversity",
    "cadence",
]


class SignalExplanation(RpcReply):
    signal: Signal
    weight: float = Field(description="The signal's weight in the score (the weights sum to 1)")
    value: float = Field(description="The signal for this ambassador and item, 0 to 1")
    contribution: float = Field(description="weight times value")
    reason: str = Field(description="The signal in words")


SuggestionStatus = Literal["open", "accepted", "dismissed"]


class Suggestion(RpcReply):
    id: UUID
    ambassador_id: UUID
    item_id: UUID
    title: str
    link: str | None
    day: date = Field(description="The day (UTC) it was suggested for")
    rank: int = Field(description="1 is the best")
    score: float
    discipline: str | None = Field(description="The discipline it serves for this ambassador")
    angle_prompt: str = Field(description="Write it in your own words: start from this angle")
    leadership_prompt: str | None = Field(
        description="For the leadership track: a thought-leader angle"
    )
    nudge: bool = Field(description="The one gentle nudge of a quiet ambassador")
    summary: str = Field(description="Why, in one sentence")
    signals: list[SignalExplanation]
    status: SuggestionStatus = Field(
        description="open; accepted once a post is written from it; dismissed when the "
        "ambassador declined it (neither is suggested to them again)"
    )
    created_at: datetime


class SuggestionList(RpcReply):
    ambassador_id: UUID
    day: date
    stored: bool = Field(description="False for a program manager's preview (nothing kept)")
    cadence: str = Field(description="How many, and why")
    items: list[Suggestion]


class SuggestFor(RpcRequest):
    """Today's suggestions for an ambassador: made (and kept) once a day, then the same list."""

    organisation_id: UUID
    ambassador_id: UUID


class PreviewSuggestions(RpcRequest):
    """What the ranking would suggest now, for a program manager: nothing is kept or sent."""

    organisation_id: UUID
    ambassador_id: UUID
    count: int | None = Field(
        default=None, ge=1, le=50, description="How many; None: as many as the cadence gives"
    )


class GetSuggestion(RpcRequest):
    organisation_id: UUID
    suggestion_id: UUID
    ambassador_id: UUID | None = Field(
        default=None,
        description="Self-service: the suggestion must be this ambassador's (else not found)",
    )


class DismissSuggestion(RpcRequest):
    """The ambassador will not post it: not suggested to them again."""

    organisation_id: UUID
    suggestion_id: UUID
    ambassador_id: UUID | None = Field(
        default=None,
        description="Self-service: the suggestion must be this ambassador's (else not found)",
    )


CREATE_ITEM: Operation[CreateItem, ContentItem] = Operation(
    "content", "item.create", CreateItem, ContentItem
)
PROPOSE_ITEM: Operation[ProposeItem, ContentItem] = Operation(
    "content", "item.propose", ProposeItem, ContentItem
)
EDIT_ITEM: Operation[EditItem, ContentItem] = Operation(
    "content", "item.edit", EditItem, ContentItem
)
SUBMIT_ITEM: Operation[SubmitItem, ContentItem] = Operation(
    "content", "item.submit", SubmitItem, ContentItem
)
REVIEW_ITEM: Operation[ReviewItem, ContentItem] = Operation(
    "content", "item.review", ReviewItem, ContentItem
)
RETIRE_ITEM: Operation[RetireItem, ContentItem] = Operation(
    "content", "item.retire", RetireItem, ContentItem
)
GET_ITEM: Operation[GetItem, ContentItem] = Operation("content", "item.get", GetItem, ContentItem)
LIST_ITEMS: Operation[ListItems, ItemPage] = Operation("content", "item.list", ListItems, ItemPage)
ITEM_HISTORY: Operation[GetItemHistory, ItemHistoryPage] = Operation(
    "content", "item.history", GetItemHistory, ItemHistoryPage
)
GET_COMPLIANCE_RULES: Operation[GetComplianceRules, ComplianceRules] = Operation(
    "content", "compliance.get", GetComplianceRules, ComplianceRules
)
SET_COMPLIANCE_RULES: Operation[SetComplianceRules, ComplianceRules] = Operation(
    "content", "compliance.set", SetComplianceRules, ComplianceRules
)
CHECK_COMPLIANCE: Operation[CheckCompliance, ComplianceReport] = Operation(
    "content", "compliance.check", CheckCompliance, ComplianceReport
)
SUGGEST: Operation[SuggestFor, SuggestionList] = Operation(
    "content", "suggestion.today", SuggestFor, SuggestionList
)
PREVIEW_SUGGESTIONS: Operation[PreviewSuggestions, SuggestionList] = Operation(
    "content", "suggestion.preview", PreviewSuggestions, SuggestionList
)
GET_SUGGESTION: Operation[GetSuggestion, Suggestion] = Operation(
    "content", "suggestion.get", GetSuggestion, Suggestion
)
DISMISS_SUGGESTION: Operation[DismissSuggestion, Suggestion] = Operation(
    "content", "suggestion.dismiss", DismissSuggestion, Suggestion
)


# --- Facts of the library and the notifications for the comms platform ---------------------------


@event("content", "item", "approved", 1)
class ContentItemApproved(EventData):
    """An item may now be suggested (from `publish_from`, until `expires_at`)."""

    item_id: UUID
    kind: ItemKind
    disciplines: list[Key] = Field(max_length=10)
    language: Language
    revision: int
    approved_by: str = Field(max_length=300)
    approved_at: datetime


@event("content", "item", "retired", 1)
class ContentItemRetired(EventData):
    """An item is no longer suggested; posts already written from it stay."""

    item_id: UUID
    retired_by: str = Field(max_length=300)
    retired_at: datetime


class SuggestedItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    suggestion_id: UUID
    item_id: UUID
    title: str = Field(max_length=200)
    angle_prompt: str = Field(max_length=300)
    summary: str = Field(max_length=300)


@event("content", "suggestions", "prepared", 1)
class SuggestionsPrepared(EventData):
    """Notification: an ambassador's suggestions of the day are ready (the comms platform tells
    them in its own channel). Titles and prompts only: no personal data."""

    ambassador_id: UUID
    day: date
    count: int = Field(ge=0)
    items: list[SuggestedItem] = Field(max_length=10)
    prepared_at: datetime


@event("content", "ambassador", "nudged", 1)
class AmbassadorNudged(EventData):
    """Notification: a quiet ambassador gets one gentle nudge with a proven item (at most one a
    week)."""

    ambassador_id: UUID
    suggestion_id: UUID
    item_id: UUID
    title: str = Field(max_length=200)
    angle_prompt: str = Field(max_length=300)
    message: str = Field(max_length=1000)
    nudged_at: datetime
