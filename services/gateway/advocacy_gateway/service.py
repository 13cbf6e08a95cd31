"""The gateway's own logic: organisations. No commits and no broker: the edges own both."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_gateway.models import Organisation
from advocacy_gateway.repository import OrganisationRepository
from advocacy_shared.contracts.errors import Conflict, Invalid
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.outbox import Outbox

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:63].rstrip("-")


async def create_organisation(
    session: AsyncSession, outbox: Outbox, name: str, slug: str | None
) -> Organisation:
    """Create the organisation and, in the same transaction, its OrganisationCreated event."""
    slug = slug or slugify(name)
    if not re.match(SLUG_PATTERN, slug):
        raise Invalid("the name gives no usable slug: give one", {"field": "slug"})
    organisations = OrganisationRepository(session)
    if await organisations.slug_taken(slug):
        raise Conflict(f"an organisation with slug {slug!r} exists already", {"slug": slug})
    organisation = Organisation(name=name.strip(), slug=slug)
    organisations.add(organisation)
    await outbox.add(
        session,
        OrganisationCreated(
            organisation_id=organisation.id,
            name=organisation.name,
            slug=organisation.slug,
            created_at=organisation.created_at,
        ),
        organisation_id=organisation.id,
        subject=str(organisation.id),
    )
    return organisation
