"""The ambassadors service's tables, in its own metadata."""

from __future__ import annotations

from sqlmodel import SQLModel

from advocacy_shared.db import service_registry
from advocacy_shared.messaging_tables import messaging_tables
from advocacy_shared.tenancy import tenant_table

registry = service_registry()
metadata = registry.metadata


class AmbassadorsModel(SQLModel, registry=registry):
    pass


tenants = tenant_table(metadata)
messaging = messaging_tables(metadata)
