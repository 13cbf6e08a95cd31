"""The rules a post's text is checked against when it is written or edited.

`compliance_violations` answers the organisation's compliance rules from the content library
(a required disclosure text, blocked words or phrases, allowed link domains: see
`advocacy_content.compliance`) that the text and the links in it break, each in words a person can
act on and naming the rule; posting refuses a text that breaks any. `post_source` checks the
suggestion and the library item a new post says it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content.compliance import check_text
from advocacy_content.repository import LibraryRepository, SuggestionRepository
from advocacy_content.service import existing_item
from advocacy_shared.contracts.errors import Invalid, NotFound


async def compliance_violations(
    session: AsyncSession, organisation_id: UUID, text: str
) -> list[str]:
    """The organisation's compliance rules that `text` breaks, as sentences (none: it may go)."""
    rules = await LibraryRepository(session, organisation_id).rules()
    return [f"{v.rule}: {v.message}" for v in check_text(rules, text)]


@dataclass(frozen=True)
class PostSource:
    """Where a post comes from: the library item, and the discipline it serves."""

    content_item_id: UUID | None
    discipline: str | None


async def post_source(
    session: AsyncSession,
    organisation_id: UUID,
    ambassador_id: UUID,
    suggestion_id: UUID | None,
    content_item_id: UUID | None,
    discipline: str | None,
    posting_at: datetime,
) -> PostSource:
    """Check what a new post says it comes from, and fill in what a suggestion implies.

    A suggestion must be this organisation's and this ambassador's (else 404); it names its item
    and discipline, and is marked accepted (in the post's transaction). An item must be this
    organisation's (else 404), approved, and within its publish window at `posting_at` (the
    schedule, or now).
    """
    if suggestion_id is not None:
        suggestion = await SuggestionRepository(session, organisation_id).get(suggestion_id)
        if suggestion is None:
            raise NotFound(
                f"there is no suggestion {suggestion_id}", {"suggestion_id": str(suggestion_id)}
            )
        if suggestion.ambassador_id != ambassador_id:  # a colleague's: as unknown as any
            raise NotFound(
                f"there is no suggestion {suggestion_id}", {"suggestion_id": str(suggestion_id)}
            )
        if content_item_id is not None and content_item_id != suggestion.item_id:
            raise Invalid(
                "content_item_id is not the suggested item",
                {"rule": "suggestion_item", "suggestion_id": str(suggestion_id)},
            )
        content_item_id = suggestion.item_id
        discipline = discipline or suggestion.discipline
        suggestion.status = "accepted"  # ranked below: not suggested to them again
    if content_item_id is not None:
        await _usable_item(session, organisation_id, content_item_id, posting_at)
    return PostSource(content_item_id, discipline)


async def _usable_item(
    session: AsyncSession, organisation_id: UUID, item_id: UUID, posting_at: datetime
) -> None:
    item = await existing_item(session, organisation_id, item_id)
    context = {"item_id": str(item_id)}
    if item.status != "approved":
        raise Invalid(
            f"the item is {item.status.replace('_', ' ')}: only approved items can be posted",
            {**context, "rule": "item_approved", "status": item.status},
        )
    if item.expires_at is not None and posting_at >= item.expires_at:
        raise Invalid(
            "the item expires before the post would go out",
            {**context, "rule": "item_expired", "expires_at": item.expires_at.isoformat()},
        )
    if item.publish_from is not None and posting_at < item.publish_from:
        raise Invalid(
            "the item may not be published before its publish window opens",
            {
                **context,
                "rule": "item_publish_window",
                "publish_from": item.publish_from.isoformat(),
            },
        )
