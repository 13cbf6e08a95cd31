"""Every query of the content service. Each one filters by organisation."""

from __future__ import annotations

from advocacy_content.models import tenants
from advocacy_shared.tenancy import TenantRepository

tenant_repository = TenantRepository(tenants)
