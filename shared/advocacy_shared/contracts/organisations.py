"""Organisations (tenants): owned by the gateway, recorded by every domain service."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from advocacy_shared.contracts.base import EventData, event


@event("gateway", "organisation", "created", 1)
class OrganisationCreated(EventData):
    organisation_id: UUID
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=63)
    created_at: datetime
