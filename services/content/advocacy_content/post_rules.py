"""The rules a post's text is checked against when it is written or edited.

`compliance_violations` is where the organisation's compliance rules from the content library
(a required disclosure text, blocked words or phrases, allowed link domains) plug in: it answers
the rules the text breaks, each in words a person can act on, and posting refuses a text that
breaks any. Until the library's rules are connected here it answers none.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession


async def compliance_violations(
    session: AsyncSession, organisation_id: UUID, text: str
) -> list[str]:
    """The organisation's compliance rules that `text` breaks, as sentences (none: it may go)."""
    del session, organisation_id, text
    return []
