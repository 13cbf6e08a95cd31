"""Every query of the ambassadors service. Each one filters by organisation."""

from __future__ import annotations

from advocacy_ambassadors.models import tenants
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)
