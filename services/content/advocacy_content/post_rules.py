"""The rules a post's text is checked against when it is written or edited.

`compliance_violations` answers the organisation's compliance rules from the content library
(a required disclosure text, blocked words or phrases, allowed link domains: see
`advocacy_content.compliance`) that the text and the links in it break, each in words a person can
act on and naming the rule; posting refuses a text that breaks any.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content.compliance import check_text
from advocacy_content.repository import LibraryRepository


async def compliance_violations(
    session: AsyncSession, organisation_id: UUID, text: str
) -> list[str]:
    """The organisation's compliance rules that `text` breaks, as sentences (none: it may go)."""
    rules = await LibraryRepository(session, organisation_id).rules()
    return [f"{v.rule}: {v.message}" for v in check_text(rules, text)]
